package e2e

import (
	"encoding/json"
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
	requireCgroupfs(t)
	d := framework.NewDaemon(t, framework.Options{})
	parent := fmt.Sprintf("/crio-e2e-%d/pod-cg", time.Now().UnixNano())
	t.Cleanup(func() { os.Remove(cgroupDir(t, "memory", filepath.Dir(parent))) })
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
	if _, err := os.Stat(cgroupDir(t, "memory", parent)); !os.IsNotExist(err) {
		t.Errorf("pod cgroup %s remains after RemovePodSandbox: %v", parent, err)
	}
	_, err = d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("cgbad", func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.CgroupParent = "relative/path"
	})})
	if err == nil || !strings.Contains(err.Error(), "relative/path") {
		t.Errorf("relative cgroup parent with cgroupfs: %v; want InvalidArgument naming it", err)
	}
}

func TestCrashDuringNetworkSetupIsCleanedUpAtRestart(t *testing.T) {
	requireCgroupfs(t)
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	// A plugin that hangs in ADD after the bridge made a veth and leased
	// an IP: the daemon is killed while it waits.
	plugins := t.TempDir()
	script := "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then sleep 5; exit 1; fi\nexit 0\n"
	if err := os.WriteFile(filepath.Join(plugins, "crio-e2e-hang"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d.WriteDropIn("20-plugins.conf", fmt.Sprintf("[crio.network]\nplugin_dirs = [%q, \"/usr/lib/cni\"]\n", plugins))
	d.Restart(9)
	bn := newBridgeNet(t, d, `{"type": "crio-e2e-hang"}`)
	waitNetworkReady(t, d)
	before := leftovers(t, d, bn)
	cgParent := fmt.Sprintf("/crio-e2e-%d/crash", time.Now().UnixNano())
	go d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("crash", podPID, func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.CgroupParent = cgParent
	})})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(leftovers(t, d, bn), " "), "lease ") {
		if time.Now().After(deadline) {
			t.Fatal("the bridge plugin never leased an IP")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mid := leftovers(t, d, bn)
	infraFiles, _ := filepath.Glob(filepath.Join(d.Dir, "run/crio/sandboxes/*/setup.json"))
	if len(infraFiles) != 1 {
		t.Fatalf("setup.json files %v; want one for the pod being made", infraFiles)
	}
	var setup struct{ Pins struct{ InfraPID int } }
	if b, err := os.ReadFile(infraFiles[0]); err != nil || json.Unmarshal(b, &setup) != nil || setup.Pins.InfraPID == 0 {
		t.Fatalf("reading %s: %v", infraFiles[0], err)
	}
	d.Kill()
	d.Start()
	if after := leftovers(t, d, bn); !equalStrings(before, after) {
		t.Errorf("after a crash mid-RunPodSandbox and a restart, left behind:\nbefore %v\nduring %v\nafter  %v", before, mid, after)
	}
	if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", setup.Pins.InfraPID)); err == nil && strings.Contains(string(cmd), "pause") {
		t.Errorf("the unfinished pod's infra process %d still runs after the restart", setup.Pins.InfraPID)
	}
	if _, err := os.Stat(cgroupDir(t, "pids", filepath.Dir(cgParent))); !os.IsNotExist(err) {
		t.Errorf("the unfinished pod's cgroup remains after the restart: %v", err)
	}
	resp, err := d.Runtime.ListPodSandbox(framework.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(resp.Items) != 0 {
		t.Errorf("ListPodSandbox after the restart: %d items, %v; want none", len(resp.GetItems()), err)
	}
}
