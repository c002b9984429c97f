package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// systemdBooted is sd_booted(3): systemd is the host's init.
func systemdBooted() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// The systemd cgroup driver. Where systemd is PID 1, a pod's processes
// run in transient scope units of the kubelet's slice: the infra process
// in crio-<pod>.scope, each container in crio-<id>.scope (made by runc),
// its conmon in crio-conmon-<id>.scope; limits and their updates land in
// the scope's cgroup, and the units go with the pod. (Elsewhere a daemon
// configured for the driver refuses to start, naming the key: see
// TestStartupRefusesBadConfigAndMissingRuntime.)
func TestSystemdCgroupDriver(t *testing.T) {
	requireRoot(t)
	const conf = "\n[crio.runtime]\ncgroup_manager = \"systemd\"\n"
	if !systemdBooted() {
		t.Skip("systemd is not PID 1 here: the VM runs this test (make vm-ci)")
	}
	d := newImageDaemon(t, imageDaemonOptions{registry: sharedRegistry(t).Addr, config: conf})
	mustPull(t, d, ctrImage)
	slice := fmt.Sprintf("crioe2e%d", time.Now().UnixNano()%1_000_000)
	want := fmt.Sprintf("/%[1]s.slice/%[1]s-besteffort.slice/%[1]s-besteffort-pod1.slice", slice)
	t.Cleanup(func() { _ = exec.Command("systemctl", "stop", slice+".slice").Run() })
	podID, pc := pod(t, d, "sd", podPID, func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = slice + "-besteffort-pod1.slice" })
	_, info := podStatus(t, d, podID)
	if got := procCgroup(t, info.PID, ""); got != want+"/crio-"+podID+".scope" {
		t.Errorf("infra process cgroup %s; want %s/crio-%s.scope", got, want, podID)
	}
	id := run(t, d, podID, pc, ctrConfig("limited", []string{"sleep", "600"}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.Resources.MemoryLimitInBytes = 64 << 20
		c.Linux.Resources.CpuPeriod, c.Linux.Resources.CpuQuota = 100000, 20000
	}))
	pid := verboseInfo(t, d, id).PID
	scope := want + "/crio-" + id + ".scope"
	if got := procCgroup(t, pid, ""); got != scope {
		t.Errorf("container cgroup %s; want %s", got, scope)
	}
	if got := procCgroup(t, parentPID(t, pid), ""); got != want+"/crio-conmon-"+id+".scope" {
		t.Errorf("conmon cgroup %s; want %s/crio-conmon-%s.scope", got, want, id)
	}
	for _, u := range []string{"crio-" + podID + ".scope", "crio-" + id + ".scope", "crio-conmon-" + id + ".scope"} {
		if out, err := exec.Command("systemctl", "is-active", u).CombinedOutput(); err != nil {
			t.Errorf("systemctl is-active %s: %v %s", u, err, out)
		}
	}
	// A private cgroup namespace: the container's own cgroup is its root.
	if r, err := d.Runtime.ExecSync(framework.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"cat", "/proc/self/cgroup"}, Timeout: 10}); err != nil || strings.TrimSpace(string(r.Stdout)) != "0::/" {
		t.Errorf("/proc/self/cgroup in the container: %q, %v; want 0::/ (a cgroup namespace)", r.GetStdout(), err)
	}
	cgFile := func(name string) string {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", scope, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := cgFile("memory.max"); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.max %s; want %d", got, 64<<20)
	}
	if got := cgFile("cpu.max"); got != "20000 100000" {
		t.Errorf("cpu.max %q; want \"20000 100000\"", got)
	}
	if _, err := d.Runtime.UpdateContainerResources(framework.Ctx(t), &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: id,
		Linux:       &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 << 20, CpuPeriod: 100000, CpuQuota: 50000},
	}); err != nil {
		t.Fatal(err)
	}
	if got := cgFile("memory.max"); got != strconv.Itoa(128<<20) {
		t.Errorf("memory.max after the update %s; want %d", got, 128<<20)
	}
	if got := cgFile("cpu.max"); got != "50000 100000" {
		t.Errorf("cpu.max after the update %q; want \"50000 100000\"", got)
	}
	stats, err := d.Runtime.ContainerStats(framework.Ctx(t), &runtimeapi.ContainerStatsRequest{ContainerId: id})
	if err != nil || stats.GetStats().GetMemory().GetWorkingSetBytes().GetValue() == 0 || stats.GetStats().GetCpu() == nil {
		t.Errorf("ContainerStats under the systemd driver: %v, %v; want memory and cpu", stats, err)
	}
	removePod(t, d, podID)
	out, _ := exec.Command("systemctl", "list-units", "--all", "--plain", "--no-legend", "crio-*"+podID[:12]+"*", "crio-*"+id+"*").CombinedOutput()
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("units left after RemovePodSandbox:\n%s", out)
	}
	_, err = d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("sdbad", func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.CgroupParent = "/kubepods/pod1"
	})})
	if err == nil {
		t.Error("a cgroupfs path as parent with the systemd driver was accepted")
	}
}
