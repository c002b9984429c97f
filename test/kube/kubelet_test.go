package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/procstat"
	"github.com/crio/crio/test/framework"
)

const (
	busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	nginx   = "registry.k8s.io/e2e-test-images/nginx:1.14-2"
	// sleeper exits at once on SIGTERM, as a well-behaved app does.
	sleeper = `[sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]`
)

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func running(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && ready(p) }

func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, l := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range l {
			if l[i].Name == name {
				return &l[i]
			}
		}
	}
	return nil
}

// runtimeID is the runtime's ID of a container the kubelet reports.
func runtimeID(t *testing.T, p *corev1.Pod, name string) string {
	t.Helper()
	cs := containerStatus(p, name)
	if cs == nil || cs.ContainerID == "" {
		t.Fatalf("pod %s has no container %s: %+v", p.Name, name, p.Status.ContainerStatuses)
	}
	_, id, ok := strings.Cut(cs.ContainerID, "://")
	if !ok {
		t.Fatalf("container ID %q is not runtime://id", cs.ContainerID)
	}
	return id
}

func execIn(t *testing.T, n *Node, id string, cmd ...string) string {
	t.Helper()
	resp, err := n.Daemon.Runtime.ExecSync(framework.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 30})
	if err != nil || resp.ExitCode != 0 {
		t.Fatalf("exec %v in %s: %v, exit %d, stderr %s", cmd, id, err, resp.GetExitCode(), resp.GetStderr())
	}
	return strings.TrimSpace(string(resp.Stdout))
}

// noCRIErrors fails the test when the kubelet logged a failed CRI call.
func noCRIErrors(t *testing.T, n *Node) {
	t.Helper()
	if errs := n.CRIErrors(); len(errs) > 0 {
		t.Errorf("the kubelet logged %d failed CRI calls, first:\n%s", len(errs), strings.Join(errs[:min(len(errs), 5)], "\n"))
	}
}

// TestKubeletPodLifecycle runs the pods a node operator's workloads are
// made of on one kubelet at once and checks what the kubelet reports of
// each: two containers with limits in their cgroups, probes, restarts with
// their termination state, an init container, and deletion with GC.
func TestKubeletPodLifecycle(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	n.WriteManifest("two.yaml", `apiVersion: v1
kind: Pod
metadata: {name: two, namespace: default}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: limited
    image: `+busybox+`
    command: `+sleeper+`
    resources: {limits: {memory: 64Mi, cpu: 200m}}
  - name: plain
    image: `+busybox+`
    command: `+sleeper+`
`)
	n.WriteManifest("probed.yaml", `apiVersion: v1
kind: Pod
metadata: {name: probed, namespace: default}
spec:
  containers:
  - name: web
    image: `+nginx+`
    readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}
    livenessProbe: {exec: {command: [sh, -c, "test -e /var/run/nginx.pid"]}, periodSeconds: 1, failureThreshold: 1}
`)
	n.WriteManifest("crashy.yaml", `apiVersion: v1
kind: Pod
metadata: {name: crashy, namespace: default}
spec:
  restartPolicy: Always
  containers:
  - name: fails
    image: `+busybox+`
    command: [sh, -c, "echo 'out of luck' > /dev/termination-log; exit 3"]
`)
	n.WriteManifest("init.yaml", `apiVersion: v1
kind: Pod
metadata: {name: init, namespace: default}
spec:
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: prepare
    image: `+busybox+`
    command: [sh, -c, "sleep 1; date +%s > /shared/stamp"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: `+busybox+`
    command: [sh, -c, "cat /shared/stamp > /tmp/seen; trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{name: shared, mountPath: /shared}]
`)

	t.Run("two containers with limits", func(t *testing.T) {
		p := n.WaitPod("two", 2*time.Minute, "running and ready", running)
		id := runtimeID(t, p, "limited")
		// The container's cgroup is under the pod cgroup the kubelet made,
		// in every hierarchy, the hybrid unified mount included.
		podCg := filepath.Join(n.CgroupRoot, "kubepods", "burstable", "pod"+string(p.UID))
		ctrCg := func(h string) string { return filepath.Join("/sys/fs/cgroup", h, podCg, "crio-"+id) }
		for _, h := range []string{"memory", "cpu", "cpuset", "pids", "systemd", "unified"} {
			if _, err := os.Stat(ctrCg(h)); err != nil {
				t.Errorf("container cgroup in the %s hierarchy: %v", h, err)
			}
		}
		read := func(h, file string) string {
			b, err := os.ReadFile(filepath.Join(ctrCg(h), file))
			if err != nil {
				t.Errorf("reading the container's %s: %v", file, err)
			}
			return strings.TrimSpace(string(b))
		}
		if got := read("memory", "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
			t.Errorf("memory.limit_in_bytes = %s, want %d", got, 64<<20)
		}
		if q, p := read("cpu", "cpu.cfs_quota_us"), read("cpu", "cpu.cfs_period_us"); q != "20000" || p != "100000" {
			t.Errorf("cpu quota/period = %s/%s, want 20000/100000 (200m)", q, p)
		}
		if procs := read("memory", "cgroup.procs"); procs == "" {
			t.Errorf("no process in the container's memory cgroup")
		}
		if cs := containerStatus(p, "plain"); cs == nil || !cs.Ready || cs.RestartCount != 0 {
			t.Errorf("container plain: %+v, want ready with no restarts", cs)
		}
	})

	t.Run("probes keep succeeding", func(t *testing.T) {
		p := n.WaitPod("probed", 2*time.Minute, "running and ready", running)
		id := runtimeID(t, p, "web")
		// 10 s of probes, one of each kind a second.
		time.Sleep(10 * time.Second)
		p = n.WaitPod("probed", 10*time.Second, "still ready", running)
		if cs := containerStatus(p, "web"); cs.RestartCount != 0 || !cs.Ready {
			t.Errorf("web: restarts %d ready %v after 10 s of probes; want 0 and true", cs.RestartCount, cs.Ready)
		}
		// Each exec probe is a process in the container: none may stay. A
		// probe running at the moment of a look is not a leftover (under
		// load one often is), so a process must be there at every look.
		var procs string
		for range 5 {
			if procs = execIn(t, n, id, "sh", "-c", "ps -o comm= | grep -vc -e nginx -e ps -e sh -e grep || true"); procs == "0" {
				break
			}
			time.Sleep(700 * time.Millisecond)
		}
		if procs != "0" {
			t.Errorf("%s processes other than nginx left in the container:\n%s", procs, execIn(t, n, id, "ps", "-o", "pid,comm,args"))
		}
		if left := leftoverExecs(); len(left) > 0 {
			t.Errorf("exec processes left on the host: %v", left)
		}
	})

	t.Run("restart with termination state", func(t *testing.T) {
		p := n.WaitPod("crashy", 3*time.Minute, "restarted twice", func(p *corev1.Pod) bool {
			cs := containerStatus(p, "fails")
			return cs != nil && cs.RestartCount >= 2 && cs.LastTerminationState.Terminated != nil
		})
		last := containerStatus(p, "fails").LastTerminationState.Terminated
		if last.ExitCode != 3 || last.Reason != "Error" || strings.TrimSpace(last.Message) != "out of luck" {
			t.Errorf("last termination: exit %d reason %q message %q; want 3, Error, out of luck", last.ExitCode, last.Reason, last.Message)
		}
		if last.StartedAt.IsZero() || last.FinishedAt.Before(&last.StartedAt) {
			t.Errorf("last termination times: started %v finished %v", last.StartedAt, last.FinishedAt)
		}
	})

	t.Run("init container runs first", func(t *testing.T) {
		p := n.WaitPod("init", 2*time.Minute, "running and ready", running)
		ic := containerStatus(p, "prepare")
		if ic == nil || ic.State.Terminated == nil || ic.State.Terminated.ExitCode != 0 || ic.State.Terminated.Reason != "Completed" {
			t.Fatalf("init container: %+v, want terminated with exit 0, Completed", ic)
		}
		app := containerStatus(p, "app")
		if app.State.Running == nil || app.State.Running.StartedAt.Before(&ic.State.Terminated.FinishedAt) {
			t.Errorf("app started %v, before the init container finished at %v", app.State.Running, ic.State.Terminated.FinishedAt)
		}
		if got := execIn(t, n, runtimeID(t, p, "app"), "cat", "/tmp/seen"); got == "" {
			t.Errorf("the app did not see what the init container wrote")
		}
	})

	t.Run("deleting the manifest stops and removes the pod", func(t *testing.T) {
		p := n.WaitPod("two", time.Minute, "running and ready", running)
		before := len(n.RuntimePods())
		start := time.Now()
		n.RemoveManifest("two.yaml")
		waitFor(t, 30*time.Second, "pod two's containers stopped", func() (bool, error) {
			for _, s := range n.RuntimePods() {
				if s.Metadata.Uid == string(p.UID) && s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
					return false, nil
				}
			}
			return true, nil
		})
		// Its containers trap SIGTERM: far inside the 10 s grace period.
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("pod stopped %s after its manifest went; its grace period is 10 s", d)
		}
		// The kubelet's GC runs once a minute.
		waitFor(t, 3*time.Minute, "pod two removed from the runtime", func() (bool, error) {
			for _, s := range n.RuntimePods() {
				if s.Metadata.Uid == string(p.UID) {
					return false, nil
				}
			}
			return true, nil
		})
		if after := len(n.RuntimePods()); after != before-1 {
			t.Errorf("runtime pods %d -> %d; want one fewer", before, after)
		}
	})
	noCRIErrors(t, n)
}

// leftoverExecs lists runc exec processes that have run for over 5 s: a
// probe's exec lasts milliseconds.
func leftoverExecs() []string {
	var out []string
	for _, pid := range procstat.PIDs() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && filepath.Base(args[0]) == "runc" && strings.Contains(string(b), "\x00exec\x00") {
			if fi, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil && time.Since(fi.ModTime()) > 5*time.Second {
				out = append(out, strings.Join(args, " "))
			}
		}
	}
	return out
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		if ok, err = cond(); ok {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not after %s (last error %v)", what, timeout, err)
}
