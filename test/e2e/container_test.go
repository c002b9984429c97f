package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/test/framework"
)

var criLogLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ stdout F hello from busybox$`)

func TestContainerLogsStdoutInCRIFormatAndMatchesImage(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "logs")
	id := run(t, d, podID, pc, ctrConfig("echo", []string{"sh", "-c", "echo hello from busybox"}))
	st := waitExited(t, d, id, 30*time.Second)
	if st.ExitCode != 0 || st.Reason != "Completed" {
		t.Errorf("exit %d reason %q; want 0 Completed", st.ExitCode, st.Reason)
	}
	if st.StartedAt == 0 || st.FinishedAt < st.StartedAt || st.CreatedAt > st.StartedAt {
		t.Errorf("times created %d started %d finished %d", st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	wantLog := filepath.Join(pc.LogDirectory, "echo.log")
	if st.LogPath != wantLog {
		t.Errorf("log path %s; want %s", st.LogPath, wantLog)
	}
	b, err := os.ReadFile(wantLog)
	if err != nil {
		t.Fatal(err)
	}
	if line := strings.TrimRight(string(b), "\n"); !criLogLine.MatchString(line) {
		t.Errorf("log %q is not one CRI-format stdout line", line)
	}
	img, err := d.Image.ImageStatus(framework.Ctx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ctrImage}})
	if err != nil || img.Image == nil {
		t.Fatalf("ImageStatus: %v", err)
	}
	if st.ImageId != img.Image.Id {
		t.Errorf("image_id %s; ImageStatus says %s", st.ImageId, img.Image.Id)
	}
	if st.ImageRef != img.Image.Id && (len(img.Image.RepoDigests) == 0 || st.ImageRef != img.Image.RepoDigests[0]) {
		t.Errorf("image_ref %s matches neither the image ID nor its repo digests %v", st.ImageRef, img.Image.RepoDigests)
	}
	if st.Image.GetImage() != ctrImage {
		t.Errorf("image %q; want %q", st.Image.GetImage(), ctrImage)
	}
}

// Under the systemd driver the OOM-killed container's scope, and its
// memory.events, are gone within milliseconds of the kill, so the report
// races systemd: several OOM kills (one of a group, as the kubelet asks
// for on v2) must all be reported.
func TestContainerExitCodeAndReasons(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "exits")
	failed := run(t, d, podID, pc, ctrConfig("fail", []string{"sh", "-c", "exit 3"}))
	var ooms []string
	for i := range 3 {
		ooms = append(ooms, run(t, d, podID, pc, ctrConfig(fmt.Sprintf("oom%d", i), []string{"sh", "-c", "a=xxxxxxxxxxxxxxxx; while true; do a=$a$a; done"},
			func(c *runtimeapi.ContainerConfig) {
				c.Linux.Resources.MemoryLimitInBytes = 16 << 20
				if i == 2 && cgroups.IsV2() {
					c.Linux.Resources.Unified = map[string]string{"memory.oom.group": "1"}
				}
			})))
	}
	if st := waitExited(t, d, failed, 30*time.Second); st.ExitCode != 3 || st.Reason != "Error" {
		t.Errorf("exit %d reason %q; want 3 Error", st.ExitCode, st.Reason)
	}
	for i, id := range ooms {
		if st := waitExited(t, d, id, 60*time.Second); st.Reason != "OOMKilled" || st.ExitCode != 137 {
			t.Errorf("oom%d: exit %d reason %q; want 137 OOMKilled", i, st.ExitCode, st.Reason)
		}
	}
}

func TestStopContainerKillsAfterTimeout(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "stop")
	id := run(t, d, podID, pc, ctrConfig("stubborn", []string{"sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"}))
	waitFile(t, filepath.Join(pc.LogDirectory, "stubborn.log"), "ready", 30*time.Second)
	begin := time.Now()
	if _, err := d.Runtime.StopContainer(framework.Ctx(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 2}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	st := ctrStatus(t, d, id).Status
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 137 {
		t.Errorf("after stop: %s exit %d; want EXITED 137 (killed)", st.State, st.ExitCode)
	}
	if took < 2*time.Second {
		t.Errorf("StopContainer returned after %v, before its 2s timeout", took)
	}
	// Stop and remove are idempotent, also for an unknown ID.
	for _, cid := range []string{id, "0123456789abcdef"} {
		if _, err := d.Runtime.StopContainer(framework.Ctx(t), &runtimeapi.StopContainerRequest{ContainerId: cid}); err != nil {
			t.Errorf("second stop of %s: %v", cid, err)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := d.Runtime.RemoveContainer(framework.Ctx(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("remove #%d: %v", i+1, err)
		}
	}
	if _, err := d.Runtime.ContainerStatus(framework.Ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("status after remove: %v; want NotFound", err)
	}
}

func TestRunAsUserAndCapabilities(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "sec")
	user := run(t, d, podID, pc, ctrConfig("uid", []string{"sh", "-c", "id -u; id -g"}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: 1000}
	}))
	ping := []string{"sh", "-c", "ping -c 1 -W 2 127.0.0.1 && echo PING-OK || echo PING-FAILED"}
	withRaw := run(t, d, podID, pc, ctrConfig("raw", ping, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"NET_RAW"}}
	}))
	noRaw := run(t, d, podID, pc, ctrConfig("noraw", ping, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"NET_RAW"}, DropCapabilities: []string{"NET_RAW"}}
	}))
	st := waitExited(t, d, user, 30*time.Second)
	if got := logText(t, st.LogPath); len(got) < 2 || got[0] != "1000" {
		t.Errorf("id -u printed %q; want 1000", got)
	}
	if u := st.User.GetLinux(); u.GetUid() != 1000 {
		t.Errorf("status user %+v; want uid 1000", u)
	}
	waitExited(t, d, withRaw, 30*time.Second)
	waitExited(t, d, noRaw, 30*time.Second)
	waitFile(t, filepath.Join(pc.LogDirectory, "raw.log"), "PING-OK", 5*time.Second)
	waitFile(t, filepath.Join(pc.LogDirectory, "noraw.log"), "PING-FAILED", 5*time.Second)
}

func TestReadonlyRootfsAndSymlinkMountStayInside(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "fs")
	ro := run(t, d, podID, pc, ctrConfig("ro", []string{"sh", "-c", "touch /newfile && echo WROTE || echo REFUSED"}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.ReadonlyRootfs = true
	}))

	// /data/escape is a symlink to an absolute host path; a mount at
	// /data/escape must land inside the container, never on the host path.
	dataDir, target, vol := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.Symlink(target, filepath.Join(dataDir, "escape")); err != nil {
		t.Fatal(err)
	}
	esc := run(t, d, podID, pc, ctrConfig("escape", []string{"sh", "-c", "echo owned > /data/escape/file; echo done"}, func(c *runtimeapi.ContainerConfig) {
		c.Mounts = []*runtimeapi.Mount{
			{HostPath: dataDir, ContainerPath: "/data"},
			{HostPath: vol, ContainerPath: "/data/escape"},
		}
	}))
	waitExited(t, d, ro, 30*time.Second)
	waitFile(t, filepath.Join(pc.LogDirectory, "ro.log"), "REFUSED", 5*time.Second)
	waitExited(t, d, esc, 30*time.Second)
	if _, err := os.Stat(filepath.Join(target, "file")); err == nil {
		t.Fatalf("the container wrote through the symlink to the host path %s", target)
	}
	if b, err := os.ReadFile(filepath.Join(vol, "file")); err != nil || strings.TrimSpace(string(b)) != "owned" {
		t.Errorf("the volume got %q, %v; want the container's write", b, err)
	}
}

func TestUpdateResourcesAndReopenLog(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "upd")
	id := run(t, d, podID, pc, ctrConfig("ticker", []string{"sh", "-c", "while true; do echo tick; sleep 0.1; done"}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.Resources.MemoryLimitInBytes = 64 << 20
	}))
	logPath := filepath.Join(pc.LogDirectory, "ticker.log")
	waitFile(t, logPath, "tick", 30*time.Second)
	cg := verboseInfo(t, d, id).RuntimeSpec.Linux.CgroupsPath
	if got := cgroupValue(t, "memory", cg, "memory.limit_in_bytes", "memory.max"); got != fmt.Sprint(64<<20) {
		t.Fatalf("initial memory limit %q in %s", got, cg)
	}
	if _, err := d.Runtime.UpdateContainerResources(framework.Ctx(t), &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: id, Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 96 << 20},
	}); err != nil {
		t.Fatal(err)
	}
	if got := cgroupValue(t, "memory", cg, "memory.limit_in_bytes", "memory.max"); got != fmt.Sprint(96<<20) {
		t.Errorf("memory limit after update %q; want %d", got, 96<<20)
	}
	if got := ctrStatus(t, d, id).Status.GetResources().GetLinux().GetMemoryLimitInBytes(); got != 96<<20 {
		t.Errorf("status reports memory limit %d; want %d", got, 96<<20)
	}

	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.ReopenContainerLog(framework.Ctx(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(logPath); err != nil {
		t.Fatalf("no new log file when ReopenContainerLog returned: %v", err)
	}
	waitFile(t, logPath, "tick", 10*time.Second)
}

func TestMissingCommandFailsCleanlyAndInstantExit(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "bad")
	_, err := d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("nocmd", []string{"/no/such/binary"})})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "/no/such/binary") {
		t.Fatalf("CreateContainer with a missing command: %v; want InvalidArgument naming it", err)
	}
	list, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{})
	if err != nil || len(list.Containers) != 0 {
		t.Fatalf("containers after the failed create: %v %v", list, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(d.Dir, "root", "overlay-containers")); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			if e.Name() != "containers.lock" && e.Name() != "containers.json" && e.Name() != "volatile-containers.json" {
				names = append(names, e.Name())
			}
		}
		if len(names) > 0 {
			t.Errorf("storage left behind: %v", names)
		}
	}
	// The same name works afterwards, and a container that exits at once
	// is reported as exited.
	id := run(t, d, podID, pc, ctrConfig("nocmd", []string{"true"}))
	if st := waitExited(t, d, id, 30*time.Second); st.ExitCode != 0 || st.StartedAt == 0 {
		t.Errorf("instant exit: code %d started %d", st.ExitCode, st.StartedAt)
	}
}

func TestListContainersFilters(t *testing.T) {
	d := containerDaemon(t)
	podA, pcA := pod(t, d, "lista")
	podB, pcB := pod(t, d, "listb")
	a := run(t, d, podA, pcA, ctrConfig("a", []string{"sleep", "60"}))
	b := create(t, d, podB, pcB, ctrConfig("b", []string{"sleep", "60"}))
	list := func(f *runtimeapi.ContainerFilter) []string {
		resp, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range resp.Containers {
			ids = append(ids, c.Id)
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		f    *runtimeapi.ContainerFilter
		want []string
	}{
		{"all", nil, []string{b, a}},
		{"id prefix", &runtimeapi.ContainerFilter{Id: a[:12]}, []string{a}},
		{"state running", &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}, []string{a}},
		{"state created", &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_CREATED}}, []string{b}},
		{"pod", &runtimeapi.ContainerFilter{PodSandboxId: podB}, []string{b}},
		{"pod prefix", &runtimeapi.ContainerFilter{PodSandboxId: podA[:10]}, []string{a}},
		{"label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"ctr": "b"}}, []string{b}},
		{"label miss", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"ctr": "zzz"}}, nil},
	} {
		if got := list(tc.f); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
	// Duplicate CreateContainer returns the first container.
	again := create(t, d, podB, pcB, ctrConfig("b", []string{"sleep", "60"}))
	if again != b {
		t.Errorf("duplicate create returned %s; want %s", again, b)
	}
	// Stopping the pod stops its containers.
	if _, err := d.Runtime.StopPodSandbox(framework.Ctx(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podA}); err != nil {
		t.Fatal(err)
	}
	if st := ctrStatus(t, d, a).Status.State; st != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Errorf("container of a stopped pod is %s", st)
	}
}

func TestContainerSurvivesDaemonKill(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "restart")
	trig := t.TempDir()
	id := run(t, d, podID, pc, ctrConfig("survivor", []string{"sh", "-c", "echo ready; while [ ! -f /trig/go ]; do sleep 0.1; done; exit 4"},
		func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{HostPath: trig, ContainerPath: "/trig"}}
		}))
	waitFile(t, filepath.Join(pc.LogDirectory, "survivor.log"), "ready", 30*time.Second)
	pid := verboseInfo(t, d, id).PID
	d.Restart(syscall.SIGKILL)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("container process %d died with the daemon: %v", pid, err)
	}
	list, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{})
	if err != nil || len(list.Containers) != 1 || list.Containers[0].Id != id || list.Containers[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after restart: %v %v; want %s RUNNING", list, err, id)
	}
	if err := os.WriteFile(filepath.Join(trig, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := waitExited(t, d, id, 30*time.Second); st.ExitCode != 4 {
		t.Errorf("exit after restart %d; want 4", st.ExitCode)
	}

	// A container that exits while the daemon is down is found exited,
	// with its code, when the daemon comes back.
	trig2 := t.TempDir()
	id2 := run(t, d, podID, pc, ctrConfig("downtime", []string{"sh", "-c", "echo ready; while [ ! -f /trig/go ]; do sleep 0.1; done; exit 9"},
		func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{HostPath: trig2, ContainerPath: "/trig"}}
		}))
	waitFile(t, filepath.Join(pc.LogDirectory, "downtime.log"), "ready", 30*time.Second)
	pid2 := verboseInfo(t, d, id2).PID
	d.Kill()
	if err := os.WriteFile(filepath.Join(trig2, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); syscall.Kill(pid2, 0) == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the container did not exit while the daemon was down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.Start()
	if st := waitExited(t, d, id2, 10*time.Second); st.ExitCode != 9 || st.Reason != "Error" {
		t.Errorf("exit during downtime: code %d reason %q; want 9 Error", st.ExitCode, st.Reason)
	}
}

func TestCrunHandler(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
		t.Skip("crun 1.8.1 refuses this host's hybrid cgroup v1/v2 layout (\"cgroups in hybrid mode not supported\")")
	}
	d := containerDaemon(t)
	cfg := podConfig("crun")
	cfg.LogDirectory = filepath.Join(d.Dir, "podlogs", "crun")
	resp, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: "crun"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removePod(t, d, resp.PodSandboxId) })
	id := run(t, d, resp.PodSandboxId, cfg, ctrConfig("c", []string{"sh", "-c", "exit 6"}))
	if st := waitExited(t, d, id, 30*time.Second); st.ExitCode != 6 {
		t.Errorf("crun exit %d; want 6", st.ExitCode)
	}
}

func TestContainerEventsAndPodPIDNamespace(t *testing.T) {
	d := containerDaemon(t)
	ctx, cancel := context.WithCancel(framework.Ctx(t))
	defer cancel()
	stream, err := d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	podID, pc := pod(t, d, "pidns", podPID)
	id := run(t, d, podID, pc, ctrConfig("pid1", []string{"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo"}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	}))
	waitExited(t, d, id, 30*time.Second)
	// PID 1 of a POD PID namespace is the pod's infra process.
	if got := logText(t, filepath.Join(pc.LogDirectory, "pid1.log")); len(got) == 0 || !strings.Contains(got[0], "pause") {
		t.Errorf("PID 1 in the container is %q; want the pod's infra (pause) process", got)
	}
	want := []runtimeapi.ContainerEventType{
		runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
	}
	var got []runtimeapi.ContainerEventType
	deadline := time.After(10 * time.Second)
	evs := make(chan *runtimeapi.ContainerEventResponse)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				close(evs)
				return
			}
			evs <- ev
		}
	}()
	for len(got) < len(want) {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("event stream ended; got %v", got)
			}
			if ev.ContainerId != id {
				continue
			}
			if len(ev.ContainersStatuses) != 1 || ev.ContainersStatuses[0].Id != id || ev.PodSandboxStatus.GetId() != podID {
				t.Errorf("event %v lacks the container's or pod's status", ev.ContainerEventType)
			}
			got = append(got, ev.ContainerEventType)
		case <-deadline:
			t.Fatalf("events %v; want %v", got, want)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("events %v; want %v", got, want)
			break
		}
	}
}

// The container's cgroup is under the pod's, and conmon (the container's
// parent) runs in the pod's cgroup, not the daemon's.
func TestContainerAndConmonInPodCgroup(t *testing.T) {
	requireCgroupfs(t)
	d := containerDaemon(t)
	parent := fmt.Sprintf("/crio-e2e-%d", time.Now().UnixNano())
	podID, pc := pod(t, d, "cg", func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = parent })
	id := run(t, d, podID, pc, ctrConfig("cg", []string{"sleep", "60"}))
	pid := verboseInfo(t, d, id).PID
	memCgroup := func(pid int) string { return procCgroup(t, pid, "memory") }
	if got, want := memCgroup(pid), parent+"/crio-"+id; got != want {
		t.Errorf("container memory cgroup %s; want %s", got, want)
	}
	ppid := parentPID(t, pid)
	if got := memCgroup(ppid); got != parent {
		t.Errorf("conmon (pid %d) memory cgroup %s; want the pod's %s", ppid, got, parent)
	}
}

// A recursive read-only mount makes the mounts below it read-only too;
// a plain read-only bind leaves them writable.
func TestRecursiveReadOnlyMount(t *testing.T) {
	d := containerDaemon(t)
	st, err := d.Runtime.Status(framework.Ctx(t), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rro := false
	for _, h := range st.RuntimeHandlers {
		if h.Name == "runc" {
			rro = h.Features.GetRecursiveReadOnlyMounts()
		}
	}
	if !rro {
		t.Fatal("Status says runc does not support recursive read-only mounts; runc features says it does")
	}
	host := t.TempDir()
	sub := filepath.Join(host, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(sub, syscall.MNT_DETACH) })
	podID, pc := pod(t, d, "rro")
	write := []string{"sh", "-c", "touch /data/sub/x && echo WROTE || echo REFUSED"}
	plain := run(t, d, podID, pc, ctrConfig("plain", write, func(c *runtimeapi.ContainerConfig) {
		c.Mounts = []*runtimeapi.Mount{{HostPath: host, ContainerPath: "/data", Readonly: true}}
	}))
	recursive := run(t, d, podID, pc, ctrConfig("recursive", write, func(c *runtimeapi.ContainerConfig) {
		c.Mounts = []*runtimeapi.Mount{{HostPath: host, ContainerPath: "/data", Readonly: true, RecursiveReadOnly: true}}
	}))
	waitExited(t, d, plain, 30*time.Second)
	waitExited(t, d, recursive, 30*time.Second)
	waitFile(t, filepath.Join(pc.LogDirectory, "plain.log"), "WROTE", 5*time.Second)
	waitFile(t, filepath.Join(pc.LogDirectory, "recursive.log"), "REFUSED", 5*time.Second)
	// The CRI asks recursive_read_only to come with readonly.
	_, err = d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("bad", write, func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{HostPath: host, ContainerPath: "/data", RecursiveReadOnly: true}}
		})})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("recursive_read_only without readonly: %v; want InvalidArgument", err)
	}
}

// TestRemovedContainersStorageIsGoneForRemoveImageAndRemovePod: a removed
// container's storage is deleted after RemoveContainer answers
// (internal/container/storagedelete.go), so an image used only by it is
// removable at once, and RemovePodSandbox leaves no storage container of
// its pod behind.
func TestRemovedContainersStorageIsGoneForRemoveImageAndRemovePod(t *testing.T) {
	d := containerDaemon(t)
	ctx := framework.Ctx(t)
	ref := "registry.k8s.io/k8s-staging-cri-tools/test-image-1:latest"
	podID, pc := pod(t, d, "rmstorage")
	withImage := func(c *runtimeapi.ContainerConfig) { c.Image = &runtimeapi.ImageSpec{Image: ref} }
	for round := range 3 {
		imgID := mustPull(t, d, ref)
		id := run(t, d, podID, pc, ctrConfig(fmt.Sprintf("user-%d", round), []string{"sleep", "3600"}, withImage))
		if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatalf("RemoveContainer: %v", err)
		}
		if _, err := d.Image.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: imgID}}); err != nil {
			t.Fatalf("round %d: RemoveImage right after RemoveContainer of its only user: %v", round, err)
		}
		if s := imageStatus(t, d, imgID, false); s.Image != nil {
			t.Fatalf("round %d: image %s still there after RemoveImage", round, imgID)
		}
	}
	// Containers removed with the pod, without a RemoveContainer first.
	var ids []string
	for i := range 3 {
		ids = append(ids, run(t, d, podID, pc, ctrConfig(fmt.Sprintf("pod-member-%d", i), []string{"sleep", "3600"})))
	}
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(d.Dir, "root", "overlay-containers", "containers.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if strings.Contains(string(b), id) {
			t.Errorf("storage container %s of the removed pod is still in containers.json", id)
		}
		if _, err := os.Stat(filepath.Join(d.Dir, "root", "overlay-containers", id)); !os.IsNotExist(err) {
			t.Errorf("storage directory of container %s still there after RemovePodSandbox (%v)", id, err)
		}
	}
}
