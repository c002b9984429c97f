package e2e

import (
	"fmt"
	"net"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/test/framework"
)

func TestUpdateRuntimeConfigPodCIDRReachesIPAM(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{NoCNI: true})
	n := subnetSeq.Add(1) % 250
	bridge := fmt.Sprintf("crtcidr%d", n)
	t.Cleanup(func() { _ = osexec.Command("ip", "link", "del", bridge).Run() })
	// host-local gets no range of its own: only the kubelet's pod CIDR,
	// passed through the ipRanges capability, lets it hand out an IP.
	d.WriteCNIConfig("05-cidr.conflist", fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "crt-cidr%d", "plugins": [
	  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "capabilities": {"ipRanges": true},
	   "ipam": {"type": "host-local", "dataDir": %q}}]}`,
		n, bridge, filepath.Join(d.Dir, "ipam")))
	ctx := framework.Ctx(t)
	_, err := d.Runtime.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &runtimeapi.RuntimeConfig{
		NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: "not-a-cidr"}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("malformed pod CIDR: %v, want InvalidArgument", err)
	}
	cidr := fmt.Sprintf("10.223.%d.0/24", n)
	if _, err := d.Runtime.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &runtimeapi.RuntimeConfig{
		NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: cidr}}}); err != nil {
		t.Fatal(err)
	}
	id := runPod(t, d, podConfig("cidr"))
	st, _ := podStatus(t, d, id)
	ip := net.ParseIP(st.GetNetwork().GetIp())
	_, want, _ := net.ParseCIDR(cidr)
	if ip == nil || !want.Contains(ip) {
		t.Errorf("pod IP %q not in the kubelet's pod CIDR %s", st.GetNetwork().GetIp(), cidr)
	}
	removePod(t, d, id)
}

func TestUpdatePodSandboxResourcesSetsThePodCgroup(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	parent := testPodParent(t, "podupdate")
	id := runPod(t, d, podConfig("resize", func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = parent }))
	t.Cleanup(func() { removePod(t, d, id) })
	ctx := framework.Ctx(t)
	const mib = 1 << 20
	if _, err := d.Runtime.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{
		PodSandboxId: id,
		Resources:    &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 96 * mib, CpuShares: 512, CpuPeriod: 100000, CpuQuota: 50000},
		Overhead:     &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 32 * mib},
	}); err != nil {
		t.Fatal(err)
	}
	// Where the pod's cgroup is: a slice's path has its parents' slices.
	cg, err := cgroups.ResolveParent(testDriver(), parent)
	if err != nil {
		t.Fatal(err)
	}
	if got := cgroupValue(t, "memory", cg, "memory.limit_in_bytes", "memory.max"); got != fmt.Sprint(128*mib) {
		t.Errorf("pod memory limit %s, want resources + overhead = %d", got, 128*mib)
	}
	// v2: the kubelet's shares -> weight conversion, 1 + (512-2)*9999/262142.
	if got := cgroupValue(t, "cpu", cg, "cpu.shares", "cpu.weight"); got != "512" && !(cgroups.IsV2() && got == "20") {
		t.Errorf("pod cpu.shares (or weight) %s, want 512 (v2: 20)", got)
	}
	if got := cgroupValue(t, "cpu", cg, "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("pod cpu quota %s, want 50000", got)
	}
	if testDriver() == cgroups.Systemd {
		// systemd owns the slice: the limit must be its property, or
		// systemd resets the file on its next reload.
		out, err := osexec.Command("systemctl", "show", "--value", "-p", "MemoryMax", parent).Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != fmt.Sprint(128*mib) {
			t.Errorf("slice %s MemoryMax property %q (%v), want %d", parent, got, err, 128*mib)
		}
	}
	if _, err := d.Runtime.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: "nonexistent"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown pod: %v, want NotFound", err)
	}
}
