package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/test/framework"
)

// CRIOSocket is the socket of CRI-O on a real node. The kubelet treats a
// runtime at a path ending in run/crio/crio.sock as CRI-O: with its
// PodAndContainerStatsFromCRI gate off it then takes container stats from
// cAdvisor, whose CRI-O plugin asks this fixed path for container details.
const CRIOSocket = "/var/run/crio/crio.sock"

// NodeOptions shape a node: a crio daemon and a kubelet in standalone mode.
type NodeOptions struct {
	// CRIOSocket runs the daemon on CRIOSocket instead of a socket in its
	// own directory, so that the kubelet takes it for CRI-O.
	CRIOSocket bool
	// FeatureGates are the kubelet's feature gates.
	FeatureGates map[string]bool
	// ControlPlane, when set, registers the kubelet with its API server
	// instead of running it standalone.
	ControlPlane *ControlPlane
	// NodeName is the kubelet's node name; default crio-kube-node.
	NodeName string
	// CrioConfig is extra TOML for the daemon.
	CrioConfig string
	// MaxPods is the kubelet's maxPods; default 110.
	MaxPods int
	// Runtime is "containerd" for Debian's containerd in place of the
	// daemon under test, to measure both the same way; default crio.
	Runtime string
	// CgroupDriver is "systemd" for a real node's setup where systemd is
	// PID 1 (the VM of hack/vm.sh): the kubelet's cgroupDriver and the
	// daemon's cgroup_manager are systemd, and the kubelet's cgroup root is
	// "/" (its kubepods.slice), since a systemd root must be a slice.
	// Default cgroupfs, under a cgroup root of the node's own.
	CgroupDriver string
}

// Node is a crio daemon with a kubelet in front of it, everything under
// one directory and one cgroup root, removed when the test ends.
type Node struct {
	t testing.TB
	// Daemon is the crio daemon; nil on a containerd node.
	Daemon *framework.Daemon
	// Runtime is the CRI client of the node's runtime, whichever it is.
	Runtime  runtimeapi.RuntimeServiceClient
	Image    runtimeapi.ImageServiceClient
	Registry *testregistry.Registry
	Dir      string
	// ManifestDir is the kubelet's staticPodPath.
	ManifestDir string
	Name        string
	// Address is where the kubelet's API listens: 127.0.0.1 standalone;
	// on a node of a control plane, the pod bridge's own address, since
	// the kubelet refuses a loopback node IP and the API server reaches
	// the kubelet at the node's InternalIP.
	Address string
	// Port is the kubelet's HTTPS port; ReadOnlyPort serves /pods and
	// /stats/summary without authentication at Address.
	Port, ReadOnlyPort, HealthzPort int
	// CgroupRoot is the kubelet's cgroupRoot: kubepods is made below it.
	CgroupRoot string
	// Subnet is the pod network, a private bridge with no masquerade.
	Subnet  string
	LogPath string
	bridge  string
	// crioRunDir holds the daemon's socket on a CRIOSocket node.
	crioRunDir string
	// cgroupDriver is the kubelet's cgroupDriver.
	cgroupDriver string

	cmd  *exec.Cmd
	done chan struct{}
}

var (
	regOnce sync.Once
	reg     *testregistry.Registry
	regErr  error
)

// sharedRegistry is one loopback test registry for the whole test process.
func sharedRegistry(t testing.TB) *testregistry.Registry {
	t.Helper()
	regOnce.Do(func() { reg, regErr = testregistry.Start(context.Background(), testregistry.Options{}) })
	if regErr != nil {
		t.Fatalf("starting the test registry: %v", regErr)
	}
	return reg
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartNode starts a crio daemon and a kubelet on it and waits until the
// kubelet reports healthy.
func StartNode(t testing.TB, o NodeOptions) *Node {
	t.Helper()
	if testing.Short() {
		t.Skip("kubelet test: `make unit` (-short) runs no daemon")
	}
	kubelet := Binary(t, "kubelet")
	r := sharedRegistry(t)
	suffix := randHex(3)
	n := &Node{
		t:            t,
		Registry:     r,
		Name:         o.NodeName,
		Port:         FreePort(t),
		ReadOnlyPort: FreePort(t),
		HealthzPort:  FreePort(t),
		CgroupRoot:   "/crio-kube-" + suffix,
		bridge:       "ckube" + suffix,
		cgroupDriver: "cgroupfs",
	}
	if o.CgroupDriver == "systemd" {
		n.CgroupRoot, n.cgroupDriver = "/", "systemd"
		o.CrioConfig += "\n[crio.runtime]\ncgroup_manager = \"systemd\"\n"
	}
	if n.Name == "" {
		n.Name = "crio-kube-node"
	}
	dir, err := os.MkdirTemp("", "crio-kube-")
	if err != nil {
		t.Fatal(err)
	}
	n.Dir = dir
	n.ManifestDir = filepath.Join(dir, "manifests")
	n.LogPath = filepath.Join(dir, "kubelet.log")
	// Cleanups run last first: this one, after the daemon's.
	t.Cleanup(n.removeAll)
	for _, p := range []string{n.ManifestDir, filepath.Join(dir, "kubelet")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var socket string
	if o.Runtime == "containerd" {
		socket = n.startContainerd()
	} else {
		socket = n.startCrio(o)
	}
	if n.crioRunDir != "" {
		socket = CRIOSocket // where the kubelet sees it
	}

	n.Address = "127.0.0.1"
	if o.ControlPlane != nil {
		n.Address = n.upBridge()
	}
	// The kubelet wants its cgroup root to exist in every hierarchy.
	if n.cgroupDriver == "cgroupfs" {
		if _, err := cgroups.Create(n.CgroupRoot); err != nil {
			t.Fatalf("creating the kubelet's cgroup root: %v", err)
		}
	}
	cfg := filepath.Join(dir, "kubelet.yaml")
	if err := os.WriteFile(cfg, []byte(n.kubeletConfig(o, socket)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--config", cfg,
		"--root-dir", filepath.Join(dir, "kubelet"),
		"--cert-dir", filepath.Join(dir, "pki"),
		"--hostname-override", n.Name,
		"--v", "2",
	}
	if o.ControlPlane != nil {
		args = append(args, "--kubeconfig", o.ControlPlane.KubeletKubeconfigFor(n.Name), "--node-ip", n.Address)
	}
	logf, err := os.Create(n.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = n.kubeletCmd(kubelet, args)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting the kubelet: %v", err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); logf.Close(); close(n.done) }()
	if err := n.waitHealthy(2 * time.Minute); err != nil {
		t.Fatalf("kubelet not healthy: %v\n--- kubelet log ---\n%s", err, n.LogTail(60))
	}
	return n
}

// kubeletCmd is the kubelet's command: on a CRIOSocket node, run in a
// mount namespace of its own where the daemon's run directory is mounted
// on CRIOSocket's directory. The kubelet makes no mounts on such a node
// (its test pods have no volumes), so nothing it does is lost to the
// daemon.
func (n *Node) kubeletCmd(kubelet string, args []string) *exec.Cmd {
	if n.crioRunDir == "" {
		return exec.Command(kubelet, args...)
	}
	target := filepath.Dir(CRIOSocket)
	if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(target, 0o755); err != nil {
			n.t.Fatal(err)
		}
		n.t.Cleanup(func() { _ = os.Remove(target) })
	}
	script := `mount --bind "$0" "$1" && shift && exec "$@"`
	return exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--", "sh", "-c", script, n.crioRunDir, target, kubelet}, args...)...)
}

// startCrio starts the daemon under test and returns its socket.
func (n *Node) startCrio(o NodeOptions) string {
	dir := n.Dir
	regConf := filepath.Join(dir, "registries.conf")
	if err := testregistry.WriteRegistriesConf(regConf, n.Registry.Addr); err != nil {
		n.t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default": [{"type": "insecureAcceptAnything"}]}`), 0o644); err != nil {
		n.t.Fatal(err)
	}
	conf := fmt.Sprintf(`
[crio.image]
registries_conf = %q
signature_policy = %q
pause_image = "registry.k8s.io/pause:3.10"
%s
`, regConf, policy, o.CrioConfig)
	var socket string
	if o.CRIOSocket {
		// The daemon listens in its directory; the kubelet, in a mount
		// namespace of its own, finds it at CRIOSocket (see kubeletCmd),
		// so that a daemon serving this host's real socket is left alone.
		n.crioRunDir = filepath.Join(n.Dir, "run", "crio")
		socket = filepath.Join(n.crioRunDir, filepath.Base(CRIOSocket))
		conf = fmt.Sprintf("[crio.api]\nlisten = %q\n", socket) + conf
	}
	d := framework.NewDaemon(n.t, framework.Options{Config: conf, NoCNI: true, NoStart: true})
	if socket != "" {
		d.Socket = socket
	}
	n.Daemon = d
	// Registered after the daemon's cleanup, so it runs before it: the
	// pods are removed through the daemon while it still runs.
	n.t.Cleanup(n.stop)
	n.Subnet = n.writeBridgeNetwork(d.CNIDir)
	d.Start()
	n.Runtime, n.Image = d.Runtime, d.Image
	return d.Socket

}

// upBridge makes the pod bridge, with its gateway address, before any pod
// does, and returns that address: the kubelet checks that its node IP is
// one of the host's. The bridge plugin takes the bridge as it finds it.
func (n *Node) upBridge() string {
	n.t.Helper()
	_, ipnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		n.t.Fatalf("pod subnet %q: %v", n.Subnet, err)
	}
	gw := ipnet.IP.To4()
	gw[3] = 1
	ones, _ := ipnet.Mask.Size()
	for _, args := range [][]string{
		{"link", "add", "name", n.bridge, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", gw, ones), "dev", n.bridge},
		{"link", "set", n.bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			n.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return gw.String()
}

// writeBridgeNetwork gives the daemon a private bridge network and returns
// its subnet: 10.223.N.0/24, routed nowhere beyond the bridge.
func (n *Node) writeBridgeNetwork(cniDir string) string {
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	subnet := fmt.Sprintf("10.223.%d.0/24", b[0])
	conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "crio-kube-%s", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": %q}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}`,
		n.bridge, n.bridge, filepath.Join(n.Dir, "ipam"), subnet, subnet)
	if err := os.MkdirAll(cniDir, 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cniDir, "10-kube.conflist"), []byte(conf), 0o644); err != nil {
		n.t.Fatal(err)
	}
	return subnet
}

func (n *Node) kubeletConfig(o NodeOptions, socket string) string {
	gates := ""
	for k, v := range o.FeatureGates {
		gates += fmt.Sprintf("  %s: %v\n", k, v)
	}
	if gates != "" {
		gates = "featureGates:\n" + gates
	}
	auth := `authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
`
	if cp := o.ControlPlane; cp != nil {
		cert, key := cp.KubeletServingCert(n.Name, net.ParseIP(n.Address))
		// Only clients with a certificate of the cluster's CA (the API
		// server's) reach the kubelet's API; what they may do is not
		// checked, which spares the test RBAC for the API server.
		auth = fmt.Sprintf(`authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %q}
authorization: {mode: AlwaysAllow}
tlsCertFile: %q
tlsPrivateKeyFile: %q
`, cp.CACertFile, cert, key)
	}
	maxPods := o.MaxPods
	if maxPods == 0 {
		maxPods = 110
	}
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: %d
healthzBindAddress: 127.0.0.1
healthzPort: %d
staticPodPath: %q
fileCheckFrequency: 1s
syncFrequency: 5s
containerRuntimeEndpoint: unix://%s
imageServiceEndpoint: unix://%s
cgroupDriver: %s
cgroupRoot: %q
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
podLogsDir: %q
resolvConf: ""
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
maxPods: %d
%s%s`, n.Address, n.Port, n.ReadOnlyPort, n.HealthzPort, n.ManifestDir, socket, socket, n.cgroupDriver, n.CgroupRoot,
		filepath.Join(n.Dir, "pod-logs"), maxPods, auth, gates)
}

func (n *Node) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", n.HealthzPort)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			return fmt.Errorf("kubelet exited: %v", n.cmd.ProcessState)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s %s", url, resp.Status, b)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not healthy after %s: %v", timeout, last)
}

// WriteManifest writes a static pod manifest; the kubelet picks it up
// within its fileCheckFrequency (1 s).
func (n *Node) WriteManifest(name, yaml string) {
	n.t.Helper()
	tmp := filepath.Join(n.Dir, "."+name)
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		n.t.Fatal(err)
	}
	// Renamed into place so the kubelet never reads half a file.
	if err := os.Rename(tmp, filepath.Join(n.ManifestDir, name)); err != nil {
		n.t.Fatal(err)
	}
}

// RemoveManifest deletes a static pod manifest: the kubelet stops the pod.
func (n *Node) RemoveManifest(name string) {
	n.t.Helper()
	if err := os.Remove(filepath.Join(n.ManifestDir, name)); err != nil {
		n.t.Fatal(err)
	}
}

// get decodes a JSON answer of the kubelet's read-only server.
func (n *Node) get(path string, v any) error {
	resp, err := http.Get(fmt.Sprintf("http://%s%s", net.JoinHostPort(n.Address, strconv.Itoa(n.ReadOnlyPort)), path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// Pods is what the kubelet reports of its pods (GET /pods), statuses
// included for static pods.
func (n *Node) Pods() ([]corev1.Pod, error) {
	var l corev1.PodList
	if err := n.get("/pods", &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Pod returns the kubelet's pod of that name (a static pod's name gets the
// node name appended), or nil.
func (n *Node) Pod(name string) (*corev1.Pod, error) {
	pods, err := n.Pods()
	if err != nil {
		return nil, err
	}
	for i := range pods {
		if pods[i].Name == name || pods[i].Name == name+"-"+n.Name {
			return &pods[i], nil
		}
	}
	return nil, nil
}

// WaitPod polls the kubelet until cond holds for the pod and returns it;
// the test fails with the pod's last status otherwise.
func (n *Node) WaitPod(name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	var last *corev1.Pod
	var err error
	for time.Now().Before(deadline) {
		last, err = n.Pod(name)
		if err == nil && last != nil && cond(last) {
			return last
		}
		time.Sleep(250 * time.Millisecond)
	}
	st, _ := json.MarshalIndent(last, "", "  ")
	n.t.Fatalf("pod %s: not %s after %s (last error %v); last seen:\n%s\n--- kubelet log ---\n%s",
		name, what, timeout, err, st, n.LogTail(40))
	return nil
}

// Summary is the kubelet's /stats/summary.
func (n *Node) Summary() (*statsapi.Summary, error) {
	var s statsapi.Summary
	if err := n.get("/stats/summary", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Log is everything the kubelet logged so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// LogTail is the last lines of the kubelet's log.
func (n *Node) LogTail(lines int) string {
	l := strings.Split(strings.TrimRight(n.Log(), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// criError matches a CRI call's failure as the kubelet logs it.
var criError = regexp.MustCompile(`rpc error: code = [A-Za-z]+ desc = .*`)

// expectedCRIErrors are failures the kubelet provokes on purpose: at start
// it asks PodSandboxStats for "" to learn whether the RPC is implemented
// (anything but Unimplemented says it is).
var expectedCRIErrors = []*regexp.Regexp{
	regexp.MustCompile(`"PodSandbox from runtime service failed" err="rpc error: code = InvalidArgument desc = pod sandbox ID is empty" podSandboxID=""`),
}

// CRIErrors returns the kubelet's log lines that report a failed CRI call,
// less those matching one of the allowed patterns.
func (n *Node) CRIErrors(allowed ...*regexp.Regexp) []string {
	var out []string
	allowed = append(allowed, expectedCRIErrors...)
	for _, line := range strings.Split(n.Log(), "\n") {
		if !criError.MatchString(line) {
			continue
		}
		ok := false
		for _, a := range allowed {
			if a.MatchString(line) {
				ok = true
				break
			}
		}
		if !ok && !n.alreadyRemoved(line) {
			out = append(out, line)
		}
	}
	return out
}

// notFoundStatus is a ContainerStatus call's NotFound, as the CRI client
// and the kubelet's callers log it.
var notFoundStatus = regexp.MustCompile(`rpc error: code = NotFound desc = container status: \\"([0-9a-f]{64})\\": not found`)

// alreadyRemoved reports whether line is the kubelet asking for the status
// of a container it had itself removed: its pod container deletor runs on
// every PLEG event of a dead container, so it often removes one twice or
// three times, and any runtime answers NotFound after the first.
func (n *Node) alreadyRemoved(line string) bool {
	m := notFoundStatus.FindStringSubmatch(line)
	return m != nil && n.Daemon != nil && strings.Contains(n.Daemon.Log(), `msg="removed container" id=`+m[1])
}

// RuntimePods lists the sandboxes the runtime has.
func (n *Node) RuntimePods() []*runtimeapi.PodSandbox {
	n.t.Helper()
	resp, err := n.Runtime.ListPodSandbox(framework.Ctx(n.t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		n.t.Fatalf("ListPodSandbox: %v", err)
	}
	return resp.Items
}

// Check runs `crio check` against the daemon's directories and returns its
// report; empty means nothing is left over.
func (n *Node) Check() string {
	n.t.Helper()
	d := n.Daemon
	out, err := exec.Command(framework.Binary(n.t), "--config", d.Config, "--config-dir", d.DropIns, "check").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return ""
}

// stop stops the kubelet, then removes every pod it left through the
// daemon, so that CNI DEL frees their addresses: the kubelet leaves its
// pods running when it stops, as the daemon leaves containers.
func (n *Node) stop() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-n.done
		}
	}
	if n.t.Failed() {
		n.t.Logf("--- kubelet log (%s) ---\n%s", n.LogPath, n.LogTail(80))
	}
	if d := n.Daemon; d != nil && !d.Running() {
		n.t.Errorf("the daemon was not running at the end of the test: its pods may be left")
		return
	}
	d := n
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		n.t.Errorf("listing the pods left: %v", err)
		return
	}
	var wg sync.WaitGroup
	for _, p := range resp.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id})
			if err == nil {
				_, err = d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id})
			}
			if err != nil {
				n.t.Errorf("removing pod %s left by the kubelet: %v", p.Id, err)
			}
		}()
	}
	wg.Wait()
	// What the kubelet's pods were made of must all be gone with them.
	if n.Daemon != nil && !n.t.Failed() {
		if leaks := n.Check(); leaks != "" {
			n.t.Errorf("crio check after the kubelet's pods were removed: %s", leaks)
		}
	}
}

// removeAll removes what the node made outside the daemon's directory.
func (n *Node) removeAll() {
	unmountUnder(n.Dir)
	removeLogLinks(n.Dir)
	if n.cgroupDriver == "cgroupfs" {
		framework.RemoveCgroupTree(n.CgroupRoot)
	}
	if n.bridge != "" {
		_ = exec.Command("ip", "link", "del", n.bridge).Run()
	}
	if os.Getenv("CRIO_KEEP_TEST_DIRS") == "" {
		_ = os.RemoveAll(n.Dir)
	}
}

// unmountUnder lazily unmounts every mount below dir, deepest first: the
// kubelet's volumes (emptyDir, projected tokens) live under its root dir.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}

// containerLogLinks is where every kubelet links its containers' logs,
// whatever its root dir.
const containerLogLinks = "/var/log/containers"

// removeLogLinks removes the kubelet's links to logs below dir: left, they
// send the next test's kubelet asking the runtime about containers of a
// daemon that is gone.
func removeLogLinks(dir string) {
	ents, _ := os.ReadDir(containerLogLinks)
	for _, e := range ents {
		p := filepath.Join(containerLogLinks, e.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, dir+"/") {
			_ = os.Remove(p)
		}
	}
}
