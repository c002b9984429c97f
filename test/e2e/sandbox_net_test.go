package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func TestDualStackPodReportsBothIPs(t *testing.T) {
	requireRoot(t)
	if b, _ := os.ReadFile("/proc/sys/net/ipv6/conf/all/disable_ipv6"); strings.TrimSpace(string(b)) == "1" {
		t.Skip("IPv6 is disabled on this host")
	}
	d := framework.NewDaemon(t, framework.Options{})
	newBridgeNetWith(t, d, true)
	waitNetworkReady(t, d)
	id := runPod(t, d, podConfig("dual"))
	st, _ := podStatus(t, d, id)
	v4 := net.ParseIP(st.Network.GetIp())
	if v4 == nil || v4.To4() == nil {
		t.Fatalf("primary IP %q; want the IPv4 address", st.Network.GetIp())
	}
	if len(st.Network.AdditionalIps) != 1 {
		t.Fatalf("additional IPs %v; want one IPv6 address", st.Network.AdditionalIps)
	}
	if v6 := net.ParseIP(st.Network.AdditionalIps[0].Ip); v6 == nil || v6.To4() != nil || !strings.HasPrefix(v6.String(), "fd00:222:") {
		t.Errorf("additional IP %q; want one in fd00:222::/48", st.Network.AdditionalIps[0].Ip)
	}
}

func TestBandwidthAnnotationShapesPodTraffic(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	bn := newBridgeNet(t, d, `{"type": "bandwidth", "capabilities": {"bandwidth": true}}`)
	waitNetworkReady(t, d)
	runPod(t, d, podConfig("bw", func(c *runtimeapi.PodSandboxConfig) {
		c.Annotations = map[string]string{"kubernetes.io/ingress-bandwidth": "1M"}
	}))
	ports, _ := filepath.Glob("/sys/class/net/" + bn.Bridge + "/brif/*")
	if len(ports) != 1 {
		t.Fatalf("bridge %s has ports %v; want the pod's veth", bn.Bridge, ports)
	}
	out, err := exec.Command("tc", "qdisc", "show", "dev", filepath.Base(ports[0])).CombinedOutput()
	if err != nil {
		t.Fatalf("tc: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "tbf") || !strings.Contains(string(out), "rate 1Mbit") {
		t.Errorf("the pod's host veth has no 1Mbit tbf qdisc:\n%s", out)
	}
}

func TestPodCgroupParentHoldsInfraAndIsRemoved(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	parent := fmt.Sprintf("/crio-e2e-%d/pod-cg", time.Now().UnixNano())
	t.Cleanup(func() { os.Remove(filepath.Join("/sys/fs/cgroup/memory", filepath.Dir(parent))) })
	id := runPod(t, d, podConfig("cg", podPID, func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = parent }))
	_, info := podStatus(t, d, id)
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", info.PID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cg), ":memory:"+parent+"\n") && !strings.Contains(string(cg), "0::"+parent+"\n") {
		t.Errorf("infra process cgroups:\n%s\nwant %s", cg, parent)
	}
	// No CAP_SYS_RESOURCE here: the infra's oom_score_adj stays and the
	// daemon says so instead of failing.
	if adj, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", info.PID)); strings.TrimSpace(string(adj)) != "-998" && !strings.Contains(d.Log(), "oom_score_adj not set") {
		t.Errorf("infra oom_score_adj %s and no warning logged", adj)
	}
	removePod(t, d, id)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", parent)); !os.IsNotExist(err) {
		t.Errorf("pod cgroup %s remains after RemovePodSandbox: %v", parent, err)
	}
	_, err = d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("cgbad", func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.CgroupParent = "relative/path"
	})})
	if err == nil || !strings.Contains(err.Error(), "relative/path") {
		t.Errorf("relative cgroup parent with cgroupfs: %v; want InvalidArgument naming it", err)
	}
}
