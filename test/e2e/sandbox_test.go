package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func TestPodLifecycleStopRemoveTwice(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	ctx := framework.Ctx(t)
	id := runPod(t, d, podConfig("life", podPID))
	st, info := podStatus(t, d, id)
	if st.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.Metadata.Name != "life" || st.Labels["app"] != "life" {
		t.Fatalf("status after run: %+v", st)
	}
	if st.RuntimeHandler != "runc" {
		t.Errorf("runtime handler %q; want the default, runc", st.RuntimeHandler)
	}
	if info.NetNS == "" || info.PID == 0 {
		t.Fatalf("want a pinned netns and an infra process for PID mode POD, got %+v", info)
	}
	// The infra process lives in the pod's pinned namespaces.
	if got, want := nsInode(t, fmt.Sprintf("/proc/%d/ns/net", info.PID)), nsInode(t, info.NetNS); got != want {
		t.Errorf("infra process netns inode %d; pinned netns %d", got, want)
	}
	if got, want := nsInode(t, fmt.Sprintf("/proc/%d/ns/pid", info.PID)), nsInode(t, "/proc/thread-self/ns/pid"); got == want {
		t.Errorf("infra process shares the host PID namespace")
	}
	// The small crio-pause next to the daemon's binary, not the daemon
	// re-executed: every pod pays for its infra's private memory.
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", info.PID)); err != nil || filepath.Base(exe) != "crio-pause" {
		t.Errorf("infra process runs %q (%v); want crio-pause", exe, err)
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", info.PID)); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "RssAnon") || strings.HasPrefix(l, "RssFile") {
				t.Logf("infra process %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Fatalf("StopPodSandbox #%d: %v", i+1, err)
		}
	}
	st, _ = podStatus(t, d, id)
	if st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("state after stop %s; want NOTREADY", st.State)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", info.PID)); err == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", info.PID)); strings.Contains(string(b), "pause") {
			t.Errorf("infra process %d still runs after stop", info.PID)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Fatalf("RemovePodSandbox #%d: %v", i+1, err)
		}
	}
	if _, err := d.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("status after remove: %v; want NotFound", err)
	}
	for _, p := range []string{info.NetNS, info.IPCNS, info.UTSNS, info.Dir} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after remove", p)
		}
	}
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("StopPodSandbox of a removed pod: %v; want success", err)
	}
}

func TestRunPodSandboxDuplicateReturnsSameID(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	cfg := podConfig("dup")
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: cfg})
			if err != nil {
				t.Errorf("RunPodSandbox #%d: %v", i, err)
				return
			}
			ids[i] = resp.PodSandboxId
		}()
	}
	wg.Wait()
	t.Cleanup(func() { removePod(t, d, ids[0]) })
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent RunPodSandbox for one pod returned IDs %v; want one", ids)
		}
	}
	resp, err := d.Runtime.ListPodSandbox(framework.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(resp.Items) != 1 {
		t.Fatalf("ListPodSandbox: %d items, %v; want 1", len(resp.GetItems()), err)
	}
}

func TestRunPodSandboxUnknownHandlerIsInvalidArgument(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	_, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("h"), RuntimeHandler: "no-such-handler"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "no-such-handler") {
		t.Fatalf("unknown handler: %v; want InvalidArgument naming it", err)
	}
	d.WriteDropIn("10-kata.conf", "[crio.runtime.runtimes.other]\nruntime_path = \"/usr/bin/crun\"\n")
	d.Restart(9)
	id := runPodWithHandler(t, d, podConfig("h2"), "other")
	st, _ := podStatus(t, d, id)
	if st.RuntimeHandler != "other" {
		t.Errorf("runtime handler %q; want other", st.RuntimeHandler)
	}
}

// Pod metadata reaches CNI plugins in CNI_ARGS: a NUL cannot (ADD and DEL
// both failed and left the attachment, found by test/fuzz), and ';' or
// '=' would add arguments. Each is refused, naming the field, before
// anything is made.
func TestPodMetadataCNICannotCarryIsRefused(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	for _, tc := range []struct {
		field string
		edit  func(m *runtimeapi.PodSandboxMetadata)
	}{
		{"name", func(m *runtimeapi.PodSandboxMetadata) { m.Name = "a\x00b" }},
		{"namespace", func(m *runtimeapi.PodSandboxMetadata) { m.Namespace = "ns;IP=10.85.0.99" }},
		{"uid", func(m *runtimeapi.PodSandboxMetadata) { m.Uid = "u=1" }},
	} {
		c := podConfig("meta")
		tc.edit(c.Metadata)
		_, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: c})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "metadata."+tc.field) {
			t.Errorf("pod %s %q: %v; want InvalidArgument naming metadata.%s", tc.field, c.Metadata, err, tc.field)
		}
	}
	if resp, err := d.Runtime.ListPodSandbox(framework.Ctx(t), &runtimeapi.ListPodSandboxRequest{}); err != nil || len(resp.Items) != 0 {
		t.Errorf("after the refusals ListPodSandbox has %d pods (%v); want none", len(resp.GetItems()), err)
	}
	if leaks := crioCheck(t, d); len(leaks) != 0 {
		t.Errorf("crio check after the refusals finds %v", leaks)
	}
}

func runPodWithHandler(t *testing.T, d *framework.Daemon, c *runtimeapi.PodSandboxConfig, handler string) string {
	t.Helper()
	resp, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: c, RuntimeHandler: handler})
	if err != nil {
		t.Fatalf("RunPodSandbox with handler %s: %v", handler, err)
	}
	t.Cleanup(func() { removePod(t, d, resp.PodSandboxId) })
	return resp.PodSandboxId
}

func TestPodDNSHostnameAndSysctls(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	id := runPod(t, d, podConfig("dns", func(c *runtimeapi.PodSandboxConfig) {
		c.Hostname = "dns-host"
		c.DnsConfig = &runtimeapi.DNSConfig{
			Servers:  []string{"10.96.0.10", "fd00::10"},
			Searches: []string{"e2e.svc.cluster.local", "svc.cluster.local"},
			Options:  []string{"ndots:5", "timeout:2"},
		}
		c.Linux.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "53", "kernel.shm_rmid_forced": "1"}
	}))
	_, info := podStatus(t, d, id)
	got, err := os.ReadFile(info.ResolvConf)
	if err != nil {
		t.Fatal(err)
	}
	want := "search e2e.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::10\noptions ndots:5 timeout:2\n"
	if string(got) != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	if hosts, _ := os.ReadFile(info.Hosts); !strings.Contains(string(hosts), "localhost") {
		t.Errorf("hosts file lacks localhost:\n%s", hosts)
	}
	var port string
	if err := inNetns(info.NetNS, func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
		port = strings.TrimSpace(string(b))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if port != "53" {
		t.Errorf("ip_unprivileged_port_start in the pod = %q; want 53", port)
	}
	host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if strings.TrimSpace(string(host)) == "53" {
		t.Errorf("the host's ip_unprivileged_port_start changed to 53")
	}
	var mounted bool
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == info.Shm && strings.Contains(l, " - tmpfs ") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("pod shm %s is not a tmpfs mount", info.Shm)
	}
}

func TestUnsafeSysctlsRefusedAndLeaveNothing(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	before := leftovers(t, d, nil)
	for _, tc := range []map[string]string{
		{"kernel.core_pattern": "|/tmp/evil"},
		{"net.ipv4.ip_forward": "1\nkernel.core_pattern=|/tmp/evil"},
		{"net/../kernel/core_pattern": "x"},
		{"net.ipv4.no_such_knob": "1"},
	} {
		_, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("sysctl", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = tc
		})})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("sysctls %q: %v; want InvalidArgument", tc, err)
		}
	}
	if after := leftovers(t, d, nil); !equalStrings(before, after) {
		t.Errorf("refused pods left things behind:\nbefore %v\nafter  %v", before, after)
	}
	core, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	if strings.Contains(string(core), "evil") {
		t.Fatalf("kernel.core_pattern was changed on the host: %s", core)
	}
}

func TestHostNetworkPodSharesHostInterfaces(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	id := runPod(t, d, podConfig("hostnet", hostNetwork, podPID))
	st, info := podStatus(t, d, id)
	if info.NetNS != "" || st.Network.GetIp() != "" {
		t.Errorf("host-network pod has netns %q, IP %q; want none", info.NetNS, st.Network.GetIp())
	}
	if st.Linux.Namespaces.Options.Network != runtimeapi.NamespaceMode_NODE {
		t.Errorf("status namespace options %v; want network NODE", st.Linux.Namespaces.Options)
	}
	// The infra process sees exactly the host's interfaces.
	podIfs, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", info.PID))
	if err != nil {
		t.Fatal(err)
	}
	hostIfs, hostIno := hostNetns(t)
	if ifNames(podIfs) != ifNames(hostIfs) || !strings.Contains(ifNames(podIfs), "eth0") {
		t.Errorf("host-network pod interfaces %s; host %s", ifNames(podIfs), ifNames(hostIfs))
	}
	if nsInode(t, fmt.Sprintf("/proc/%d/ns/net", info.PID)) != hostIno {
		t.Errorf("host-network pod's infra is not in the host netns")
	}
}

func ifNames(netDev []byte) string {
	var names []string
	sc := bufio.NewScanner(strings.NewReader(string(netDev)))
	for sc.Scan() {
		if name, _, ok := strings.Cut(sc.Text(), ":"); ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func TestPodsOnBridgeReachEachOther(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	bn := newBridgeNet(t, d)
	waitNetworkReady(t, d)
	a := runPod(t, d, podConfig("a"))
	// A sysctl of the interface CNI makes is applied once it exists.
	b := runPod(t, d, podConfig("b", func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.Sysctls = map[string]string{"net.ipv4.conf.eth0.accept_local": "1"}
	}))
	sa, ia := podStatus(t, d, a)
	sb, ib := podStatus(t, d, b)
	_, subnet, _ := net.ParseCIDR(bn.Subnet)
	for _, s := range []*runtimeapi.PodSandboxStatus{sa, sb} {
		if ip := net.ParseIP(s.Network.GetIp()); ip == nil || !subnet.Contains(ip) {
			t.Fatalf("pod %s IP %q is not in %s", s.Metadata.Name, s.Network.GetIp(), bn.Subnet)
		}
	}
	if hosts, _ := os.ReadFile(ib.Hosts); !strings.Contains(string(hosts), sb.Network.Ip+"\tb") {
		t.Errorf("pod b's hosts file lacks its IP:\n%s", hosts)
	}
	var acceptLocal string
	inNetns(ib.NetNS, func() error {
		v, _ := os.ReadFile("/proc/sys/net/ipv4/conf/eth0/accept_local")
		acceptLocal = strings.TrimSpace(string(v))
		return nil
	})
	if acceptLocal != "1" {
		t.Errorf("net.ipv4.conf.eth0.accept_local in pod b = %q; want 1", acceptLocal)
	}
	// A listener in pod b; pod a connects to b's IP.
	var lis net.Listener
	if err := inNetns(ib.NetNS, func() (err error) {
		lis, err = net.Listen("tcp", ":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go acceptOnce(lis, "hello from b")
	var got string
	if err := inNetns(ia.NetNS, func() error {
		got, _ = readFrom(net.JoinHostPort(sb.Network.Ip, "8080"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != "hello from b" {
		t.Fatalf("pod a reading from pod b at %s: got %q", sb.Network.Ip, got)
	}
}

func TestHostPortReachesPod(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	bn := newBridgeNet(t, d, portmapPlugin)
	waitNetworkReady(t, d)
	hostPort := 30000 + int32(time.Now().UnixNano()%20000)
	id := runPod(t, d, podConfig("hp", func(c *runtimeapi.PodSandboxConfig) {
		c.PortMappings = []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80, HostPort: hostPort}}
	}))
	_, info := podStatus(t, d, id)
	var lis net.Listener
	if err := inNetns(info.NetNS, func() (err error) {
		lis, err = net.Listen("tcp", ":80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go acceptOnce(lis, "hello via hostPort")
	addr := net.JoinHostPort(bn.Gateway, fmt.Sprint(hostPort))
	got, err := readFrom(addr)
	if got != "hello via hostPort" {
		t.Fatalf("connecting to the host port %s: got %q, %v", addr, got, err)
	}
}

func acceptOnce(lis net.Listener, msg string) {
	c, err := lis.Accept()
	if err != nil {
		return
	}
	c.Write([]byte(msg))
	c.Close()
}

func readFrom(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	buf := make([]byte, 256)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}

func waitNetworkReady(t testing.TB, d *framework.Daemon) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := d.Runtime.Status(framework.Ctx(t), &runtimeapi.StatusRequest{})
		if err == nil {
			for _, c := range resp.Status.Conditions {
				if c.Type == runtimeapi.NetworkReady && c.Status {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("NetworkReady did not become true")
}

func TestConcurrentPodsGetDistinctIPs(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	newBridgeNet(t, d)
	waitNetworkReady(t, d)
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(fmt.Sprintf("c%d", i))})
			if err != nil {
				t.Errorf("RunPodSandbox c%d: %v", i, err)
				return
			}
			ids[i] = resp.PodSandboxId
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != "" {
			t.Cleanup(func() { removePod(t, d, id) })
		}
	}
	if t.Failed() {
		return
	}
	seen := map[string]string{}
	for _, id := range ids {
		st, _ := podStatus(t, d, id)
		ip := st.Network.GetIp()
		if ip == "" || seen[ip] != "" {
			t.Fatalf("pod %s has IP %q (also used by %s)", st.Metadata.Name, ip, seen[ip])
		}
		seen[ip] = st.Metadata.Name
	}
}

func TestCNIFailureLeavesNothingBehind(t *testing.T) {
	requireCgroupfs(t)
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	// The bridge plugin runs (makes a veth, leases an IP), then a plugin
	// fails the ADD.
	plugins := t.TempDir()
	script := "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"crio-e2e-fail refuses\"}'; exit 1; fi\nexit 0\n"
	if err := os.WriteFile(filepath.Join(plugins, "crio-e2e-fail"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d.WriteDropIn("20-plugins.conf", fmt.Sprintf("[crio.network]\nplugin_dirs = [%q, \"/usr/lib/cni\"]\n", plugins))
	d.Restart(9)
	bn := newBridgeNet(t, d, `{"type": "crio-e2e-fail"}`)
	waitNetworkReady(t, d)
	cgParent := fmt.Sprintf("/crio-e2e-%d/podfail", time.Now().UnixNano())
	before := leftovers(t, d, bn)
	_, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("fail", podPID, func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.CgroupParent = cgParent
	})})
	if err == nil {
		t.Fatal("RunPodSandbox with a broken network succeeded")
	}
	if !strings.Contains(err.Error(), "crio-e2e-fail refuses") {
		t.Errorf("error %v does not carry the plugin's message", err)
	}
	after := leftovers(t, d, bn)
	if !equalStrings(before, after) {
		t.Errorf("failed RunPodSandbox left things behind:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := os.Stat(cgroupDir(t, "memory", cgParent)); !os.IsNotExist(err) {
		t.Errorf("cgroup %s left behind: %v", cgParent, err)
	}
	resp, _ := d.Runtime.ListPodSandbox(framework.Ctx(t), &runtimeapi.ListPodSandboxRequest{})
	if len(resp.GetItems()) != 0 {
		t.Errorf("ListPodSandbox after a failed run: %d items", len(resp.GetItems()))
	}
	// The name is free again: after fixing the network the same pod runs.
	newBridgeNet(t, d)
	os.Remove(filepath.Join(d.CNIDir, "05-"+bn.Name+".conflist"))
	waitNetworkReady(t, d)
	runPod(t, d, podConfig("fail-fixed"))
}

// leftovers lists what pods leave on the host: mounts below the daemon's
// dir (namespace pins, shm), host-local leases, sandbox dirs, veths on
// the test's bridge, pause processes.
func leftovers(t testing.TB, d *framework.Daemon, bn *bridgeNet) []string {
	t.Helper()
	var out []string
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], d.Dir+"/") {
			out = append(out, "mount "+f[4])
		}
	}
	if bn != nil {
		entries, _ := os.ReadDir(filepath.Join(bn.IPAMDir, bn.Name))
		for _, e := range entries {
			if net.ParseIP(e.Name()) != nil {
				out = append(out, "lease "+e.Name())
			}
		}
		links, _ := filepath.Glob("/sys/class/net/" + bn.Bridge + "/brif/*")
		for _, l := range links {
			out = append(out, "bridge port "+filepath.Base(l))
		}
	}
	for _, sub := range []string{"run/crio/sandboxes", "run/ns/netns", "run/ns/ipcns", "run/ns/utsns"} {
		entries, _ := os.ReadDir(filepath.Join(d.Dir, sub))
		for _, e := range entries {
			out = append(out, sub+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestNetworkReadyFollowsConfDir(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{NoCNI: true})
	ready := func() bool {
		resp, err := d.Runtime.Status(framework.Ctx(t), &runtimeapi.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Status.Conditions {
			if c.Type == runtimeapi.NetworkReady {
				return c.Status
			}
		}
		return false
	}
	waitFor := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for ready() != want {
			if time.Now().After(deadline) {
				t.Fatalf("NetworkReady did not become %v", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(false)
	_, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("nonet")})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("RunPodSandbox without a network: %v; want FailedPrecondition", err)
	}
	d.WriteCNIConfig("10-test.conflist", framework.LoopbackOnlyConflist("appears"))
	waitFor(true)
	os.Remove(filepath.Join(d.CNIDir, "10-test.conflist"))
	waitFor(false)
	// A network whose plugin is not installed is not ready either.
	d.WriteCNIConfig("10-test.conflist", `{"cniVersion": "1.0.0", "name": "missing", "plugins": [{"type": "crio-e2e-not-installed"}]}`)
	time.Sleep(100 * time.Millisecond)
	waitFor(false)
}

func TestListPodSandboxFilters(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	ctx := framework.Ctx(t)
	a := runPod(t, d, podConfig("la", func(c *runtimeapi.PodSandboxConfig) { c.Labels["tier"] = "front" }))
	b := runPod(t, d, podConfig("lb", func(c *runtimeapi.PodSandboxConfig) { c.Labels["tier"] = "back" }))
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: b}); err != nil {
		t.Fatal(err)
	}
	list := func(f *runtimeapi.PodSandboxFilter) []string {
		resp, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range resp.Items {
			ids = append(ids, it.Id)
		}
		sort.Strings(ids)
		return ids
	}
	both := []string{a, b}
	sort.Strings(both)
	for _, tc := range []struct {
		name   string
		filter *runtimeapi.PodSandboxFilter
		want   []string
	}{
		{"none", nil, both},
		{"id prefix", &runtimeapi.PodSandboxFilter{Id: a[:12]}, []string{a}},
		{"ready", &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}, []string{a}},
		{"notready", &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}}, []string{b}},
		{"label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"tier": "back"}}, []string{b}},
		{"label and id", &runtimeapi.PodSandboxFilter{Id: a, LabelSelector: map[string]string{"tier": "back"}}, nil},
		{"unknown id", &runtimeapi.PodSandboxFilter{Id: "ffffffffffff"}, nil},
	} {
		if got := list(tc.filter); !equalStrings(got, tc.want) {
			t.Errorf("%s: got %v; want %v", tc.name, got, tc.want)
		}
	}
	stream, err := d.Runtime.StreamPodSandboxes(ctx, &runtimeapi.StreamPodSandboxesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		resp, err := stream.Recv()
		if err != nil {
			break
		}
		n += len(resp.PodSandboxes)
	}
	if n != 2 {
		t.Errorf("StreamPodSandboxes sent %d sandboxes; want 2", n)
	}
}

func TestSandboxesSurviveDaemonRestart(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	bn := newBridgeNet(t, d)
	waitNetworkReady(t, d)
	id := runPod(t, d, podConfig("restart", podPID))
	before, info := podStatus(t, d, id)
	d.Restart(9)
	after, _ := podStatus(t, d, id)
	if after.State != runtimeapi.PodSandboxState_SANDBOX_READY || after.Network.GetIp() != before.Network.GetIp() || after.CreatedAt != before.CreatedAt {
		t.Fatalf("after restart: %+v; before: %+v", after, before)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", info.PID)); err != nil {
		t.Fatalf("infra process died with the daemon: %v", err)
	}
	// The restarted daemon can still DEL: the lease goes on stop.
	if _, err := d.Runtime.StopPodSandbox(framework.Ctx(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatal(err)
	}
	for _, l := range leftovers(t, d, bn) {
		if strings.HasPrefix(l, "lease ") || strings.HasPrefix(l, "bridge port ") {
			t.Errorf("after stop by the restarted daemon, %s remains", l)
		}
	}
}

func TestSandboxLifecycleEvents(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	ctx, cancel := context.WithCancel(framework.Ctx(t))
	defer cancel()
	stream, err := d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *runtimeapi.ContainerEventResponse, 16)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				close(got)
				return
			}
			got <- ev
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the subscription reach the daemon
	id := runPod(t, d, podConfig("events"))
	removePod(t, d, id)
	want := []runtimeapi.ContainerEventType{
		runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
	}
	for i, w := range want {
		select {
		case ev := <-got:
			if ev == nil || ev.ContainerId != id || ev.ContainerEventType != w || ev.PodSandboxStatus.GetMetadata().GetName() != "events" {
				t.Fatalf("event %d: %+v; want %s for sandbox %s", i, ev, w, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %d (%s)", i, w)
		}
	}
}
