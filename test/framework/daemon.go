// Package framework starts a real crio daemon for end-to-end tests, each in
// its own directories, socket and CNI config, and gives CRI clients to it.
package framework

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/peercred"
)

// BuildTags are the tags the daemon is built with.
const BuildTags = "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper apparmor"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// RepoRoot is the top of the source tree.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary returns the crio binary under test: $CRIO_BINARY, or one built
// once per test process from this tree.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CRIO_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := builtDir()
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "crio")
		cmd := exec.Command("go", "build", "-tags", BuildTags, "-o", binPath, "./cmd/crio")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building crio: %v\n%s", err, out)
			return
		}
		// The pods' infra process, found next to the daemon's binary.
		cmd = exec.Command("go", "build", "-o", filepath.Join(dir, "crio-pause"), "./cmd/crio-pause")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building crio-pause: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Daemon is a crio process started for one test.
type Daemon struct {
	t       testing.TB
	Dir     string // everything the daemon writes lives below it
	Socket  string
	Config  string // path of the main config file
	DropIns string // the config dir
	CNIDir  string
	LogPath string
	// NRISocket is where NRI plugins connect; NRIPluginDir holds the
	// plugins the daemon starts itself, NRIConfigDir their configuration.
	NRISocket, NRIPluginDir, NRIConfigDir string
	Args                                  []string
	// Env is added to the daemon's environment at each Start (failpoints,
	// say); change it between restarts.
	Env []string

	cmd     *exec.Cmd
	done    chan struct{}
	conn    *grpc.ClientConn
	Runtime runtimeapi.RuntimeServiceClient
	Image   runtimeapi.ImageServiceClient
}

// Options change how a daemon is started.
type Options struct {
	// Config is extra TOML, written as the drop-in crio.conf.d/50-test.conf.
	Config string
	// Args are extra command-line flags.
	Args []string
	// NoCNI leaves the CNI config dir empty.
	NoCNI bool
	// NoStart prepares everything but does not start the process.
	NoStart bool
}

// IsolatedConfig is the crio.conf of a daemon whose state, sockets,
// CNI configuration and NRI plugins are all under dir, so that it shares
// nothing with the host's daemons or with another such daemon: the socket
// is dir/crio.sock, CNI configs go in dir/cni, pre-installed NRI plugins
// in dir/nri-plugins (configs in dir/nri-conf.d). Tables it does not set
// ([crio.runtime.runtimes.*], [crio.image], [crio.metrics], ...) may be
// appended.
//
// CRIO_CGROUP_MANAGER, when set, is its cgroup_manager; unset, the daemon
// picks the driver itself (systemd where systemd is PID 1).
func IsolatedConfig(dir, logLevel string) string {
	cgroupManager := ""
	if m := os.Getenv("CRIO_CGROUP_MANAGER"); m != "" {
		cgroupManager = fmt.Sprintf("cgroup_manager = %q\n", m)
	}
	return fmt.Sprintf(`[crio]
root = %[1]q
runroot = %[2]q
log_dir = %[3]q
version_file = %[4]q
version_file_persist = %[5]q
clean_shutdown_file = %[6]q

[crio.api]
listen = %[7]q

[crio.runtime]
log_level = %[15]q
container_exits_dir = %[8]q
container_attach_socket_dir = %[9]q
namespaces_dir = %[10]q
%[16]s
[crio.network]
network_dir = %[11]q
plugin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]

[crio.nri]
nri_listen = %[12]q
nri_plugin_dir = %[13]q
nri_plugin_config_dir = %[14]q
`,
		filepath.Join(dir, "root"), filepath.Join(dir, "run"), filepath.Join(dir, "logs"),
		filepath.Join(dir, "run", "version"), filepath.Join(dir, "root", "version"),
		filepath.Join(dir, "root", "clean.shutdown"), filepath.Join(dir, "crio.sock"),
		filepath.Join(dir, "run", "exits"), filepath.Join(dir, "run"), filepath.Join(dir, "run", "ns"),
		filepath.Join(dir, "cni"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "nri-plugins"), filepath.Join(dir, "nri-conf.d"),
		logLevel, cgroupManager)
}

// NewDaemon prepares directories and config and starts the daemon.
func NewDaemon(t testing.TB, o Options) *Daemon {
	t.Helper()
	Binary(t) // build before any directory is made, so a build failure leaves nothing behind
	// Short paths: a unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "crio-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		t:       t,
		Dir:     dir,
		Socket:  filepath.Join(dir, "crio.sock"),
		Config:  filepath.Join(dir, "crio.conf"),
		DropIns: filepath.Join(dir, "crio.conf.d"),
		CNIDir:  filepath.Join(dir, "cni"),
		LogPath: filepath.Join(dir, "crio.log"),
		// Never the host's /var/run/nri or /opt/nri: other daemons use them.
		NRISocket:    filepath.Join(dir, "nri.sock"),
		NRIPluginDir: filepath.Join(dir, "nri-plugins"),
		NRIConfigDir: filepath.Join(dir, "nri-conf.d"),
	}
	for _, p := range []string{d.DropIns, d.CNIDir} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if !o.NoCNI {
		d.WriteCNIConfig("10-test.conflist", LoopbackOnlyConflist("crio-test"))
	}
	conf := IsolatedConfig(dir, "debug")
	if err := os.WriteFile(d.Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if o.Config != "" {
		// A drop-in rather than appended text: TOML forbids defining a table twice.
		d.WriteDropIn("50-test.conf", o.Config)
	}
	d.Args = append([]string{"--config", d.Config, "--config-dir", d.DropIns}, o.Args...)
	t.Cleanup(d.cleanup)
	if !o.NoStart {
		d.Start()
	}
	return d
}

// WriteCNIConfig writes a network config file into the daemon's CNI dir.
func (d *Daemon) WriteCNIConfig(name, content string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.CNIDir, name), []byte(content), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// WriteDropIn writes a file into the daemon's crio.conf.d.
func (d *Daemon) WriteDropIn(name, content string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.DropIns, name), []byte(content), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// LoopbackOnlyConflist is a network that only brings up lo: enough for
// NetworkReady, and it touches no host interface.
func LoopbackOnlyConflist(name string) string {
	return fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q, "plugins": [{"type": "loopback"}]}`, name)
}

// Start launches the process and waits until the socket answers.
func (d *Daemon) Start() {
	d.t.Helper()
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}

	d.cmd = exec.Command(Binary(d.t), d.Args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if len(d.Env) > 0 {
		d.cmd.Env = append(os.Environ(), d.Env...)
	}
	// A test binary that dies hard (a fuzz worker killed, a timeout's
	// panic) runs no cleanup: the parent-death signal stops its daemon
	// rather than leave it running, orphaned, for the next run to trip on.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The signal comes when the forking thread exits, not the
		// process: this goroutine holds its thread while the daemon runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := d.cmd.Start()
		started <- err
		if err != nil {
			return
		}
		_ = d.cmd.Wait()
		logf.Close()
		close(done)
	}()
	if err := <-started; err != nil {
		logf.Close()
		d.t.Fatalf("starting crio: %v", err)
	}
	d.done = done
	if err := d.waitReady(60 * time.Second); err != nil {
		d.t.Fatalf("crio did not come up: %v\n--- log ---\n%s", err, d.LogTail(60))
	}
	conn, err := grpc.NewClient("unix://"+d.Socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.conn = conn
	d.Runtime = runtimeapi.NewRuntimeServiceClient(conn)
	d.Image = runtimeapi.NewImageServiceClient(conn)
}

// waitReady waits until the socket answers and the listener is the
// process just started (SO_PEERCRED): a socket that answers for another
// reason (a stale listener) must not pass for this process being ready.
func (d *Daemon) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("process exited: %v", d.cmd.ProcessState)
		default:
		}
		if c, err := net.DialTimeout("unix", d.Socket, 200*time.Millisecond); err == nil {
			pid := peercred.ListenerPID(c)
			c.Close()
			if pid == d.cmd.Process.Pid {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("socket %s not answered by process %d after %s", d.Socket, d.cmd.Process.Pid, timeout)
}

// Running reports whether the process is alive.
func (d *Daemon) Running() bool {
	if d.done == nil {
		return false
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signalling crio: %v", err)
	}
}

// Stop sends SIGTERM and waits for the exit.
func (d *Daemon) Stop() { d.stop(syscall.SIGTERM) }

// Kill sends SIGKILL and waits for the exit.
func (d *Daemon) Kill() { d.stop(syscall.SIGKILL) }

func (d *Daemon) stop(sig syscall.Signal) {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	if !d.Running() {
		return
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.t.Errorf("crio did not exit within 30s of %v", sig)
	}
}

// Wait waits for the process to exit on its own and returns its state.
func (d *Daemon) Wait(timeout time.Duration) (*os.ProcessState, error) {
	select {
	case <-d.done:
		return d.cmd.ProcessState, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("crio still running after %s", timeout)
	}
}

// Restart stops the daemon with sig and starts it again on the same state.
func (d *Daemon) Restart(sig syscall.Signal) {
	d.t.Helper()
	d.stop(sig)
	d.Start()
}

// Log returns everything the daemon logged so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.LogPath)
	return string(b)
}

// LogTail returns the last n lines of the log.
func (d *Daemon) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(d.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitLog waits until the log contains substr.
func (d *Daemon) WaitLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(d.Log(), substr) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Ctx is a context for one RPC of a test.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (d *Daemon) cleanup() {
	d.stop(syscall.SIGTERM)
	if d.t.Failed() {
		d.t.Logf("--- crio log (%s) ---\n%s", d.LogPath, d.LogTail(80))
	}
	if os.Getenv("CRIO_KEEP_TEST_DIRS") != "" {
		return
	}
	// Storage leaves overlay mounts under root; unmount before removing.
	unmountUnder(d.Dir)
	_ = os.RemoveAll(d.Dir)
}

// unmountUnder lazily unmounts every mount below dir, deepest first.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range bytes.Split(data, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}
