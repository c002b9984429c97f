package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// bridgeNet is a CNI bridge network made for one test: its own bridge
// name, /24 and host-local store, removed when the test ends.
type bridgeNet struct {
	Name, Bridge, Subnet, Gateway string
	IPAMDir                       string // host-local's dataDir
}

var subnetSeq atomic.Int64

func init() {
	n, _ := rand.Int(rand.Reader, big.NewInt(200))
	subnetSeq.Store(n.Int64())
}

func newBridgeNet(t testing.TB, d *framework.Daemon, extraPlugins ...string) *bridgeNet {
	t.Helper()
	return newBridgeNetWith(t, d, false, extraPlugins...)
}

// newBridgeNetWith makes the network dual-stack when v6 is set: an IPv6
// range fd00:222:N::/64 beside the IPv4 one.
func newBridgeNetWith(t testing.TB, d *framework.Daemon, v6 bool, extraPlugins ...string) *bridgeNet {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	n := subnetSeq.Add(1) % 250
	bn := &bridgeNet{
		Name:    "crt-" + suffix,
		Bridge:  "crt" + suffix,
		Subnet:  fmt.Sprintf("10.222.%d.0/24", n),
		Gateway: fmt.Sprintf("10.222.%d.1", n),
		IPAMDir: filepath.Join(d.Dir, "ipam"),
	}
	ranges := fmt.Sprintf(`[{"subnet": %q, "gateway": %q}]`, bn.Subnet, bn.Gateway)
	if v6 {
		ranges += fmt.Sprintf(`, [{"subnet": "fd00:222:%d::/64"}]`, n)
	}
	plugins := []string{fmt.Sprintf(`{"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
		"ipam": {"type": "host-local", "dataDir": %q, "ranges": [%s], "routes": [{"dst": "0.0.0.0/0"}]}}`,
		bn.Bridge, bn.IPAMDir, ranges)}
	plugins = append(plugins, extraPlugins...)
	d.WriteCNIConfig("05-"+bn.Name+".conflist", fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q, "plugins": [%s]}`, bn.Name, strings.Join(plugins, ",")))
	// The daemon picks the first conflist by name; drop the framework's
	// loopback network so there is no doubt which one is used.
	_ = os.Remove(filepath.Join(d.CNIDir, "10-test.conflist"))
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", bn.Bridge).Run()
	})
	return bn
}

const portmapPlugin = `{"type": "portmap", "capabilities": {"portMappings": true}}`

var podSeq atomic.Int64

// podConfig is a minimal pod; opts adjust it.
func podConfig(name string, opts ...func(*runtimeapi.PodSandboxConfig)) *runtimeapi.PodSandboxConfig {
	uid := fmt.Sprintf("uid-%s-%d", name, podSeq.Add(1))
	c := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "e2e", Uid: uid},
		Hostname: name,
		Labels:   map[string]string{"app": name},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func hostNetwork(c *runtimeapi.PodSandboxConfig) {
	c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
}

func podPID(c *runtimeapi.PodSandboxConfig) {
	c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
}

// runPod runs a pod and removes it when the test ends (before the daemon
// stops), so no infra process or network outlives the test.
func runPod(t testing.TB, d *framework.Daemon, c *runtimeapi.PodSandboxConfig) string {
	t.Helper()
	resp, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: c})
	if err != nil {
		t.Fatalf("RunPodSandbox %s: %v", c.Metadata.Name, err)
	}
	id := resp.PodSandboxId
	t.Cleanup(func() { removePod(t, d, id) })
	return id
}

func removePod(t testing.TB, d *framework.Daemon, id string) {
	if d.Runtime == nil {
		return
	}
	ctx := context.Background()
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("cleanup: StopPodSandbox %s: %v", id, err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("cleanup: RemovePodSandbox %s: %v", id, err)
	}
}

// podInfo is the verbose PodSandboxStatus info.
type podInfo struct {
	NetNS      string   `json:"netns"`
	IPCNS      string   `json:"ipcns"`
	UTSNS      string   `json:"utsns"`
	PID        int      `json:"pid"`
	ResolvConf string   `json:"resolvConf"`
	Hosts      string   `json:"hosts"`
	Shm        string   `json:"shm"`
	Dir        string   `json:"dir"`
	IPs        []string `json:"ips"`
}

func podStatus(t testing.TB, d *framework.Daemon, id string) (*runtimeapi.PodSandboxStatus, *podInfo) {
	t.Helper()
	resp, err := d.Runtime.PodSandboxStatus(framework.Ctx(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		t.Fatalf("PodSandboxStatus %s: %v", id, err)
	}
	info := &podInfo{}
	if err := json.Unmarshal([]byte(resp.Info["info"]), info); err != nil {
		t.Fatalf("verbose info %q: %v", resp.Info["info"], err)
	}
	return resp.Status, info
}

// inNetns runs f on an OS thread that joined the network namespace pinned
// at pin. Sockets made in f stay in that namespace after f returns. The
// thread is never unlocked, so the Go runtime discards it.
func inNetns(pin string, f func() error) error {
	errc := make(chan error, 1)
	var work func()
	work = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			go work() // never leave the main thread in another namespace
			return
		}
		fd, err := unix.Open(pin, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", pin, err)
			return
		}
		errc <- f()
	}
	go work()
	return <-errc
}

// hostNetDev reads net/dev and the netns inode as the test process's
// threads (not necessarily its main thread) see them.
func hostNetns(t testing.TB) (netDev []byte, ino uint64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	netDev, err := os.ReadFile("/proc/thread-self/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	return netDev, nsInode(t, "/proc/thread-self/ns/net")
}

// nsInode is the inode of a namespace file, which identifies the namespace.
func nsInode(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

func requireRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("pods need root")
	}
}
