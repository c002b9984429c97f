package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func TestKilledConmonReportsContainerExited(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "conmonkill")
	id := run(t, d, podID, pc, ctrConfig("sleeper", []string{"sleep", "3600"}))
	pid := verboseInfo(t, d, id).PID
	conmon := conmonOf(t, id)
	if err := syscall.Kill(conmon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := waitExited(t, d, id, 15*time.Second)
	if st.Reason != "Error" || !strings.Contains(st.Message, "monitor") {
		t.Errorf("container whose conmon was killed: reason %q message %q; want Error and a message about its monitor", st.Reason, st.Message)
	}
	if alive(pid) {
		t.Errorf("container process %d still runs after its conmon was killed and it was reported exited", pid)
	}
	if _, err := d.Runtime.RemoveContainer(framework.Ctx(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Errorf("RemoveContainer of a container whose conmon was killed: %v", err)
	}
}

func TestTruncatedStateFilesAreCleanedUpAtStart(t *testing.T) {
	d := containerDaemon(t)
	bn := newBridgeNet(t, d)
	waitNetworkReady(t, d)
	podA, pcA := pod(t, d, "trunc-ctr")
	keep := run(t, d, podA, pcA, ctrConfig("kept", []string{"sleep", "3600"}))
	lost := run(t, d, podA, pcA, ctrConfig("lost", []string{"sleep", "3600"}))
	lostPID := verboseInfo(t, d, lost).PID
	podB, _ := pod(t, d, "trunc-pod")
	_, infoB := podStatus(t, d, podB)
	d.Kill()
	for _, f := range []string{
		filepath.Join(d.Dir, "root", "overlay-containers", lost, "userdata", "container.json"),
		filepath.Join(infoB.Dir, "sandbox.json"),
	} {
		if err := os.Truncate(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	d.Start()
	log := d.Log()
	for _, want := range []string{"removing a container whose state file is unreadable", "cleaning up a sandbox whose state file is unreadable"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	ctrs, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{})
	if err != nil || len(ctrs.Containers) != 1 || ctrs.Containers[0].Id != keep || ctrs.Containers[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("containers after restart: %v, %v; want only %s, running", ctrs, err, keep)
	}
	if alive(lostPID) {
		t.Errorf("the process %d of the container whose state file was truncated still runs", lostPID)
	}
	pods, err := d.Runtime.ListPodSandbox(framework.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(pods.Items) != 1 || pods.Items[0].Id != podA {
		t.Errorf("pods after restart: %v, %v; want only %s", pods, err, podA)
	}
	assertNoLeaks(t, d, "after cleaning up objects with truncated state files")
	if l := leftovers(t, d, bn); !strings.Contains(strings.Join(l, " "), "lease ") {
		t.Errorf("the kept pod has no lease (%v): the leak check had no lease to tell apart", l)
	}
}

func TestRebootCleansRuntimeStateAndKeepsImages(t *testing.T) {
	d := containerDaemon(t)
	bn := newBridgeNet(t, d)
	waitNetworkReady(t, d)
	podID, pc := pod(t, d, "reboot", podPID)
	id := run(t, d, podID, pc, ctrConfig("sleeper", []string{"sleep", "3600"}))
	ctr := verboseInfo(t, d, id)
	pid := ctr.PID
	_, info := podStatus(t, d, podID)
	conmon := conmonOf(t, id)
	d.Kill()
	// What a reboot does: every process, mount and namespace is gone and
	// the run root (a tmpfs) is empty; the persistent root stays.
	for _, p := range []int{pid, conmon, info.PID} {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(10 * time.Second); alive(pid) || alive(conmon) || alive(info.PID); {
		if time.Now().After(deadline) {
			t.Fatal("processes did not die")
		}
		time.Sleep(10 * time.Millisecond)
	}
	unmountUnder(t, d.Dir)
	if err := os.RemoveAll(filepath.Join(d.Dir, "run")); err != nil {
		t.Fatal(err)
	}
	// The runtime's state is on a tmpfs too, and the cgroup file system
	// starts empty.
	_ = os.RemoveAll("/run/runc/" + id)
	removeCgroup(t, ctr.RuntimeSpec.Linux.CgroupsPath)
	d.Start()
	if !strings.Contains(d.Log(), "node reboot detected") {
		t.Error("the daemon did not detect the reboot")
	}
	pods, err := d.Runtime.ListPodSandbox(framework.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("pods after a reboot: %v, %v; want none", pods, err)
	}
	ctrs, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{})
	if err != nil || len(ctrs.Containers) != 0 {
		t.Errorf("containers after a reboot: %v, %v; want none", ctrs, err)
	}
	img, err := d.Image.ImageStatus(framework.Ctx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ctrImage}})
	if err != nil || img.Image == nil {
		t.Errorf("image %s after a reboot: %v, %v; want it kept", ctrImage, img, err)
	}
	for _, l := range leftovers(t, d, bn) {
		if strings.HasPrefix(l, "lease ") || strings.HasPrefix(l, "bridge port ") {
			t.Errorf("after a reboot: %s left (the lease must be freed by CNI DEL with the kept arguments)", l)
		}
	}
	assertNoLeaks(t, d, "after a reboot")
	// And the node works: a new pod runs from the kept image.
	podID2, pc2 := pod(t, d, "after-reboot")
	id2 := run(t, d, podID2, pc2, ctrConfig("again", []string{"sleep", "3600"}))
	if st := ctrStatus(t, d, id2).Status.State; st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("container after a reboot is %s", st)
	}
}

func TestCrioCheckReportsWhatNoObjectOwns(t *testing.T) {
	d := containerDaemon(t)
	bn := newBridgeNet(t, d)
	waitNetworkReady(t, d)
	podID, pc := pod(t, d, "check")
	run(t, d, podID, pc, ctrConfig("sleeper", []string{"sleep", "3600"}))
	assertNoLeaks(t, d, "with one pod and container running")
	// Plant one leak of each kind a crash could leave.
	stray := strings.Repeat("ab", 32)
	pin := filepath.Join(d.Dir, "run", "ns", "netns", stray)
	if err := os.WriteFile(pin, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	lease := filepath.Join(bn.IPAMDir, bn.Name, "10.99.99.99")
	if err := os.WriteFile(lease, []byte(stray+"\neth0"), 0o644); err != nil {
		t.Fatal(err)
	}
	sbDir := filepath.Join(d.Dir, "run", "crio", "sandboxes", stray)
	if err := os.MkdirAll(sbDir, 0o700); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range crioCheck(t, d) {
		got[l.Kind+" "+l.What] = true
	}
	for _, want := range []string{"netns pin " + pin, "cni lease " + lease, "state dir " + sbDir} {
		if !got[want] {
			t.Errorf("crio check does not report %q; it reports %v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("crio check reports %v; want exactly the 3 planted leaks", got)
	}
	for _, p := range []string{pin, lease, sbDir} {
		os.RemoveAll(p)
	}
}

// unmountUnder lazily unmounts every mount below dir, deepest first.
// removeCgroup removes the cgroupfs-form cgroup path from every hierarchy
// it is in, as a reboot does.
func removeCgroup(t testing.TB, path string) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", path))
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", path)); err == nil {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", path))
	}
	for _, d := range dirs {
		if err := os.Remove(d); err != nil {
			t.Fatalf("removing cgroup %s: %v", d, err)
		}
	}
}

func unmountUnder(t testing.TB, dir string) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil && err != syscall.EINVAL {
			t.Logf("unmount %s: %v", mounts[i], err)
		}
	}
}

func TestUncleanShutdownRepairsDamagedStorageOnly(t *testing.T) {
	d := containerDaemon(t)
	mustPull(t, d, intactImage) // a second image sharing no layer, left intact
	podID, pc := pod(t, d, "repair")
	id := run(t, d, podID, pc, ctrConfig("sleeper", []string{"sleep", "3600"}))
	pid := verboseInfo(t, d, id).PID
	img, err := d.Image.ImageStatus(framework.Ctx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ctrImage}})
	if err != nil || img.Image == nil {
		t.Fatalf("ImageStatus %s: %v", ctrImage, err)
	}
	d.Kill()
	// Damage the image's top layer as a power cut mid-write could: its
	// files are gone.
	var images []struct{ ID, Layer string }
	b, err := os.ReadFile(filepath.Join(d.Dir, "root", "overlay-images", "images.json"))
	if err != nil || json.Unmarshal(b, &images) != nil {
		t.Fatalf("reading images.json: %v", err)
	}
	var layer string
	for _, im := range images {
		if im.ID == img.Image.Id {
			layer = im.Layer
		}
	}
	if layer == "" {
		t.Fatalf("image %s not in images.json", img.Image.Id)
	}
	if err := os.RemoveAll(filepath.Join(d.Dir, "root", "overlay", layer, "diff")); err != nil {
		t.Fatal(err)
	}
	d.Start()
	log := d.Log()
	for _, want := range []string{"did not shut down cleanly", "damaged storage layer", "storage repaired"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if st, err := d.Image.ImageStatus(framework.Ctx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ctrImage}}); err != nil || st.Image != nil {
		t.Errorf("the damaged image is still there: %v, %v", st.GetImage(), err)
	}
	if st, err := d.Image.ImageStatus(framework.Ctx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: intactImage}}); err != nil || st.Image == nil {
		t.Errorf("the intact image %s was removed too: %v", intactImage, err)
	}
	// The container on the damaged image went with it, monitor and
	// process included; the pod stays.
	ctrs, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{})
	if err != nil || len(ctrs.Containers) != 0 {
		t.Errorf("containers after the repair: %v, %v; want none", ctrs, err)
	}
	for deadline := time.Now().Add(5 * time.Second); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(pid) {
		t.Errorf("the process %d of the container on the damaged image still runs", pid)
	}
	assertNoLeaks(t, d, "after a storage repair")
	// Pulling again brings the image back, and it runs.
	mustPull(t, d, ctrImage)
	id2 := run(t, d, podID, pc, ctrConfig("again", []string{"sleep", "3600"}))
	if st := ctrStatus(t, d, id2).Status.State; st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("container after the repair and a new pull is %s", st)
	}
}

// intactImage shares no layer with ctrImage.
const intactImage = "registry.k8s.io/pause:3.9"

func TestSandboxWhoseNetnsVanishedIsNotReadyAndRemovable(t *testing.T) {
	d := containerDaemon(t)
	bn := newBridgeNet(t, d)
	waitNetworkReady(t, d)
	podID, _ := pod(t, d, "netnsgone")
	_, info := podStatus(t, d, podID)
	d.Kill()
	// Behind the daemon's back: the pin is unmounted (the namespace dies
	// with its last reference) and only an empty file is left.
	if err := syscall.Unmount(info.NetNS, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	d.Start()
	st, _ := podStatus(t, d, podID)
	if st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("pod whose netns vanished is %s; want NOTREADY", st.State)
	}
	if _, err := d.Runtime.StopPodSandbox(framework.Ctx(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Errorf("StopPodSandbox: %v", err)
	}
	if _, err := d.Runtime.RemovePodSandbox(framework.Ctx(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Errorf("RemovePodSandbox: %v", err)
	}
	for _, l := range leftovers(t, d, bn) {
		if strings.HasPrefix(l, "lease ") {
			t.Errorf("%s left: CNI DEL without the netns must still free the address", l)
		}
	}
	assertNoLeaks(t, d, "after removing a pod whose netns vanished")
}
