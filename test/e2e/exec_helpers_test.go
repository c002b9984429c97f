package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/test/framework"
)

// execEnv is a daemon pulling from the test registry with one pod whose
// busybox image is pulled.
type execEnv struct {
	d     *framework.Daemon
	pod   string
	podCf *runtimeapi.PodSandboxConfig
	image string
}

func newExecEnv(t testing.TB) *execEnv { return newExecEnvConfig(t, "") }

// newExecEnvConfig is newExecEnv with more TOML (after [crio.image], so
// it may open other tables).
func newExecEnvConfig(t testing.TB, config string) *execEnv {
	t.Helper()
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr, config: config})
	e := &execEnv{d: d, image: reg.Ref(testregistry.BusyboxImage)}
	if _, err := d.Image.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: e.image}}); err != nil {
		t.Fatalf("pulling %s: %v", e.image, err)
	}
	e.podCf = podConfig("exec")
	e.podCf.LogDirectory = filepath.Join(d.Dir, "podlogs")
	e.pod = runPod(t, d, e.podCf)
	return e
}

var ctrSeq int

// container creates and starts a busybox container running cmd; opts
// adjust its config.
func (e *execEnv) container(t testing.TB, cmd []string, opts ...func(*runtimeapi.ContainerConfig)) string {
	t.Helper()
	ctrSeq++
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("c%d", ctrSeq)},
		Image:    &runtimeapi.ImageSpec{Image: e.image},
		Command:  cmd,
		LogPath:  fmt.Sprintf("c%d.log", ctrSeq),
	}
	for _, o := range opts {
		o(cfg)
	}
	ctx := framework.Ctx(t)
	resp, err := e.d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, Config: cfg, SandboxConfig: e.podCf})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	id := resp.ContainerId
	if _, err := e.d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	return id
}

// waitExited waits until the container has exited.
func (e *execEnv) waitExited(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := e.d.Runtime.ContainerStatus(framework.Ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("container %s did not exit", id)
}

// settled returns count's value once it is at most limit, or its last
// value after 3 s: a leak stays, while the daemon's own background work
// (the monitor sweep, a stats walk) holds a file or a child only briefly.
func settled(count func() int, limit int) int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := count()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countDir(t *testing.T, p string) int {
	t.Helper()
	ents, err := os.ReadDir(p)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// childProcesses counts the children of pid (all its threads').
func childProcesses(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tk := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, tk.Name()))
		n += len(strings.Fields(string(b)))
	}
	return n
}

// procStatusKB reads a "VmHWM:  1234 kB" style field of /proc/PID/status.
func procStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, field+":"), "kB")), &kb)
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// crictl is the crictl the framework builds once per test process from
// the version hack/tools pins ($CRICTL_BINARY overrides it).
func crictl(t *testing.T) string { return framework.Crictl(t) }

func (e *execEnv) crictlCmd(t *testing.T, args ...string) *exec.Cmd {
	full := append([]string{"--runtime-endpoint", "unix://" + e.d.Socket, "--image-endpoint", "unix://" + e.d.Socket, "--timeout", "30s"}, args...)
	cmd := exec.Command(crictl(t), full...)
	cmd.Env = append(os.Environ(), "CRI_CONFIG_FILE=/dev/null")
	return cmd
}

// ptyProc is a process driven through a pseudo-terminal.
type ptyProc struct {
	cmd *exec.Cmd
	tty *os.File
	mu  sync.Mutex
	out strings.Builder
	eof chan struct{}
}

func startPTY(t *testing.T, cmd *exec.Cmd, rows, cols uint16) *ptyProc {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyProc{cmd: cmd, tty: f, eof: make(chan struct{})}
	go func() {
		defer close(p.eof)
		r := bufio.NewReader(f)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		f.Close()
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits until the output holds want.
func (p *ptyProc) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.output(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("terminal never showed %q; it shows:\n%s", want, p.output())
}

func (p *ptyProc) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(p.tty, s); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *ptyProc) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not exit; terminal shows:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// spdyPortForward opens one forwarded connection to port through a
// port-forward URL, the way kubectl and crictl do.
func spdyPortForward(t *testing.T, url string, port int32) (httpstream.Stream, <-chan string) {
	t.Helper()
	rt, err := spdy.NewRoundTripper(nil)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(httpstream.HeaderProtocolVersion, portforward.ProtocolV1Name)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rt.NewConnection(resp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := http.Header{}
	h.Set(portforward.StreamType, portforward.StreamTypeError)
	h.Set(portforward.PortHeader, fmt.Sprint(port))
	h.Set(portforward.PortForwardRequestIDHeader, "0")
	es, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	es.Close()
	errs := make(chan string, 1)
	go func() { b, _ := io.ReadAll(es); errs <- string(b) }()
	h.Set(portforward.StreamType, portforward.StreamTypeData)
	ds, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	return ds, errs
}
