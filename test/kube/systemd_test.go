package kube

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// systemdNode skips the test unless systemd is PID 1 on the unified
// hierarchy only: a real node's setup, which the VM of hack/vm.sh has and
// the hybrid test host does not.
func systemdNode(t *testing.T) {
	t.Helper()
	comm, _ := os.ReadFile("/proc/1/comm")
	if strings.TrimSpace(string(comm)) != "systemd" {
		t.Skip("systemd is not PID 1 (run it in the VM: hack/vm.sh kube)")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		t.Skip("not the unified cgroup hierarchy only")
	}
}

// unitState is systemd's ActiveState of a unit ("inactive" once it is gone).
func unitState(t *testing.T, unit string) string {
	t.Helper()
	out, _ := exec.Command("systemctl", "show", "-P", "ActiveState", unit).Output()
	return strings.TrimSpace(string(out))
}

// TestKubeletSystemdDriver runs a kubelet with cgroupDriver: systemd in
// standalone mode on the daemon's systemd driver, as a kubeadm node does:
// a static pod with a limited container probed by exec, whose pod slice
// and container scope systemd reports, whose stats /stats/summary has (from
// the CRI, and from cAdvisor on CRI-O's socket), and whose units are gone
// once the kubelet removes it.
func TestKubeletSystemdDriver(t *testing.T) {
	systemdNode(t)
	for _, c := range []struct {
		name string
		o    NodeOptions
	}{
		{"stats from the CRI", NodeOptions{CgroupDriver: "systemd", FeatureGates: map[string]bool{"PodAndContainerStatsFromCRI": true}}},
		{"stats from cAdvisor on CRI-O's socket", NodeOptions{CgroupDriver: "systemd", CRIOSocket: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := StartNode(t, c.o)
			n.WriteManifest("probed.yaml", `apiVersion: v1
kind: Pod
metadata: {name: probed, namespace: default}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: app
    image: `+busybox+`
    command: [sh, -c, "touch /tmp/ready; trap 'exit 0' TERM; while true; do sleep 1; done"]
    resources: {limits: {memory: 64Mi, cpu: 200m}}
    readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 2, timeoutSeconds: 20}
    livenessProbe: {exec: {command: [test, -e, /tmp/ready]}, periodSeconds: 2, timeoutSeconds: 20, failureThreshold: 3}
  - name: idle
    image: `+busybox+`
    command: `+sleeper+`
`)
			p := n.WaitPod("probed", 4*time.Minute, "running and ready (exec readiness probe)", running)
			if cs := containerStatus(p, "app"); cs == nil || cs.RestartCount != 0 {
				t.Errorf("app restarted (its exec liveness probe failed?): %+v", cs)
			}
			// The pod's slice and the container's scope, as systemd has them.
			slice := "kubepods-burstable-pod" + strings.ReplaceAll(string(p.UID), "-", "_") + ".slice"
			if st := unitState(t, slice); st != "active" {
				t.Errorf("pod slice %s: ActiveState %q, want active", slice, st)
			}
			id := runtimeID(t, p, "app")
			scope := "crio-" + id + ".scope"
			if st := unitState(t, scope); st != "active" {
				t.Errorf("container scope %s: ActiveState %q, want active", scope, st)
			}
			out, _ := exec.Command("systemctl", "show", "-P", "ControlGroup", scope).Output()
			cg := strings.TrimSpace(string(out))
			t.Logf("app: %s in %s", scope, cg)
			for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "20000 100000"} {
				b, err := os.ReadFile("/sys/fs/cgroup" + cg + "/" + file)
				if err != nil || strings.TrimSpace(string(b)) != want {
					t.Errorf("%s of %s: %q (%v), want %q", file, cg, b, err, want)
				}
			}

			// cpu and memory for the pod and both containers.
			var why string
			deadline := time.Now().Add(3 * time.Minute)
			for {
				why = "pod absent"
				if s, err := n.Summary(); err != nil {
					why = err.Error()
				} else {
					for i := range s.Pods {
						if ps := &s.Pods[i]; ps.PodRef.UID == string(p.UID) {
							why = podStatsComplete(ps, false)
							if why == "" {
								b, _ := json.Marshal(ps.Containers)
								t.Logf("summary's containers: %.600s", b)
							}
						}
					}
				}
				if why == "" || time.Now().After(deadline) {
					break
				}
				time.Sleep(2 * time.Second)
			}
			if why != "" {
				t.Errorf("/stats/summary incomplete after 3 min: %s", why)
			}

			// While the pod runs, no CRI call may fail; after its removal
			// starts, probes still running meet a stopped container, as on
			// any runtime.
			noCRIErrors(t, n)
			n.RemoveManifest("probed.yaml")
			deadline = time.Now().Add(3 * time.Minute)
			for time.Now().Before(deadline) {
				if q, err := n.Pod("probed"); err == nil && q == nil && unitState(t, scope) == "inactive" && unitState(t, slice) == "inactive" {
					break
				}
				time.Sleep(time.Second)
			}
			for _, u := range []string{scope, "crio-conmon-" + id + ".scope", slice} {
				if st := unitState(t, u); st != "inactive" {
					t.Errorf("%s after the pod's removal: ActiveState %q, want inactive (gone)", u, st)
				}
			}
			out, _ = exec.Command("systemctl", "list-units", "--all", "--no-legend", "--plain", "crio-*").Output()
			t.Logf("crio-* units after the removal: %q", out)
		})
	}
}
