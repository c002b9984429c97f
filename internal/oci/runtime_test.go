package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/procstat"
	"github.com/crio/crio/internal/spec"
)

// env is one test's runtime: its own runtime root, exits dir and cgroup
// parent, so that tests of other helpers on the host are untouched.
type env struct {
	t      testing.TB
	rt     *Runtime
	dir    string
	cgroup string
	mu     sync.Mutex
	exits  map[string]chan struct{}
	// root, when set, is a rootfs shared by every container (benchmarks).
	root string
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containers")
	}
	for _, p := range []string{"/usr/bin/conmon", "/bin/busybox"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s", p)
		}
	}
}

func newEnv(t testing.TB, handler string) *env {
	needRoot(t)
	// Short: conmon's attach socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "ocit")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, cgroup: "/" + filepath.Base(dir), exits: map[string]chan struct{}{}}
	cfg := config.Default()
	for name, h := range cfg.Runtime.Runtimes {
		h.RuntimeRoot = filepath.Join(dir, "root-"+name)
		cfg.Runtime.Runtimes[name] = h
	}
	cfg.Runtime.DefaultRuntime = handler
	rt, err := New(cfg, Options{ExitsDir: filepath.Join(dir, "exits"), AttachDir: filepath.Join(dir, "attach"),
		ConmonEnv: cfg.Runtime.ConmonEnv}, e.exited)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rt.Handler(handler); err != nil {
		t.Skipf("handler %s: %v", handler, err)
	}
	e.rt = rt
	t.Cleanup(func() {
		rt.Close()
		// Remove the per-test cgroup parents runc made.
		ents, _ := os.ReadDir("/sys/fs/cgroup")
		for _, c := range ents {
			os.Remove(filepath.Join("/sys/fs/cgroup", c.Name(), e.cgroup))
		}
		os.RemoveAll(dir)
	})
	return e
}

func (e *env) exited(id string) {
	e.mu.Lock()
	ch := e.exitCh(id)
	e.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (e *env) exitCh(id string) chan struct{} {
	ch, ok := e.exits[id]
	if !ok {
		ch = make(chan struct{}, 1)
		e.exits[id] = ch
	}
	return ch
}

func (e *env) waitExit(c *Container, d time.Duration) ExitStatus {
	e.t.Helper()
	e.mu.Lock()
	ch := e.exitCh(c.ID)
	e.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(d):
		e.t.Fatalf("container %s did not exit within %v", c.ID, d)
	}
	st, ok, err := e.rt.ExitStatus(c)
	if err != nil || !ok {
		e.t.Fatalf("exit status of %s: ok=%v err=%v", c.ID, ok, err)
	}
	return st
}

// rootfs makes a busybox root filesystem: the static binary and a symlink
// per applet.
func rootfs(t testing.TB, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(root, "bin", a))
		}
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644)
	return root
}

var seq int

// bundle writes the OCI bundle of a container running cmd with res.
func (e *env) bundle(cmd []string, res *runtimeapi.LinuxContainerResources) *Container {
	t := e.t
	t.Helper()
	seq++
	id := fmt.Sprintf("%s-%d", filepath.Base(e.dir), seq)
	bundle := filepath.Join(e.dir, id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	root := e.root
	if root == "" {
		root = rootfs(t, bundle)
	}
	_, feat, _ := e.rt.Handler("")
	r, err := spec.Build(spec.Input{
		ID: id, RootFS: root,
		Config: &runtimeapi.ContainerConfig{Command: cmd, Linux: &runtimeapi.LinuxContainerConfig{
			Resources: res,
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
				Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
			}}},
		Sandbox:  spec.Sandbox{ID: "pod", CgroupParent: e.cgroup},
		Defaults: spec.Defaults{Capabilities: config.Default().Runtime.DefaultCapabilities, RecursiveReadOnly: feat.RecursiveReadOnly},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r.Spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Container{ID: id, Name: id, Bundle: bundle, LogPath: filepath.Join(bundle, "ctr.log"), CgroupPath: r.Spec.Linux.CgroupsPath}
}

// create makes a bundle running cmd with res, creates the container and
// registers its cleanup.
func (e *env) create(cmd []string, res *runtimeapi.LinuxContainerResources) *Container {
	t := e.t
	t.Helper()
	c := e.bundle(cmd, res)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.rt.Create(ctx, c); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := e.rt.Delete(context.Background(), c); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	return c
}

func (e *env) start(c *Container) {
	e.t.Helper()
	if err := e.rt.Start(context.Background(), c); err != nil {
		e.t.Fatalf("start: %v", err)
	}
}

func handlers(t *testing.T, f func(t *testing.T, handler string)) {
	for _, h := range []string{"runc", "crun"} {
		t.Run(h, func(t *testing.T) {
			if h == "crun" && hybridCgroups() && os.Getenv("CRIO_TEST_CRUN") == "" {
				t.Skip("crun 1.8.1 refuses hybrid cgroup v1/v2 hosts like this one")
			}
			f(t, h)
		})
	}
}

func hybridCgroups() bool {
	_, err := os.Stat("/sys/fs/cgroup/unified")
	return err == nil
}

var criLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ (stdout|stderr) (F|P) (.*)$`)

func TestRunWritesCRILogAndExitCode(t *testing.T) {
	handlers(t, func(t *testing.T, h string) {
		e := newEnv(t, h)
		before := e.rt.Spawned()
		c := e.create([]string{"sh", "-c", "echo hello; echo oops >&2; echo -n partial; exit 3"}, nil)
		if !e.rt.Alive(c) || e.rt.Exited(c) {
			t.Fatalf("created container: alive=%v exited=%v", e.rt.Alive(c), e.rt.Exited(c))
		}
		e.start(c)
		st := e.waitExit(c, 20*time.Second)
		if st.Code != 3 || st.Reason != ReasonError {
			t.Errorf("exit = %+v, want code 3 reason Error", st)
		}
		if st.FinishedAt.IsZero() || time.Since(st.FinishedAt) > time.Minute {
			t.Errorf("finished at %v", st.FinishedAt)
		}
		if n := e.rt.Spawned() - before; n != 3 {
			t.Errorf("spawned %d processes for create+start, want 3 (conmon, create, start)", n)
		}
		b, err := os.ReadFile(c.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			m := criLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("log line %q is not in CRI format", l)
			}
			got = append(got, m[1]+" "+m[2]+" "+m[3])
		}
		// stdout and stderr are separate pipes: only each stream's order holds.
		slices.Sort(got)
		want := []string{"stderr F oops", "stdout F hello", "stdout P partial"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("log = %q, want %q", got, want)
		}
	})
}

func TestCompletedReasonAndConmonInPodCgroup(t *testing.T) {
	e := newEnv(t, "runc")
	if _, err := cgroups.Create(e.cgroup); err != nil {
		t.Fatal(err)
	}
	c := e.bundle([]string{"sh", "-c", "echo ready; sleep 0.5"}, nil)
	c.MonitorCgroup = e.cgroup
	if err := e.rt.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.rt.Delete(context.Background(), c) })
	pid, err := e.rt.ConmonPID(c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if !strings.Contains(string(b), ":memory:"+e.cgroup+"\n") {
		t.Errorf("conmon's cgroups %q; want the pod's %s", b, e.cgroup)
	}
	e.start(c)
	if st := e.waitExit(c, 20*time.Second); st.Code != 0 || st.Reason != ReasonCompleted {
		t.Errorf("exit = %+v, want 0 Completed", st)
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	handlers(t, func(t *testing.T, h string) {
		e := newEnv(t, h)
		c := e.create([]string{"sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"}, nil)
		e.start(c)
		waitLog(t, c, "ready")
		begin := time.Now()
		if err := e.rt.Stop(context.Background(), c, time.Second, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waited := time.Since(begin)
		st, ok, err := e.rt.ExitStatus(c)
		if err != nil || !ok {
			t.Fatalf("after Stop: ok=%v err=%v", ok, err)
		}
		if st.Code != 137 {
			t.Errorf("exit code %d, want 137 (SIGKILL after the ignored SIGTERM)", st.Code)
		}
		if waited < time.Second {
			t.Errorf("Stop returned after %v, before the 1s timeout", waited)
		}
	})
}

func TestStopTerminates(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.create([]string{"sh", "-c", "trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done"}, nil)
	e.start(c)
	waitLog(t, c, "ready")
	if err := e.rt.Stop(context.Background(), c, 30*time.Second, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := e.rt.ExitStatus(c); st.Code != 7 {
		t.Errorf("exit code %d, want 7 from the TERM trap", st.Code)
	}
	// conmon + create, start: nothing else (no `runc state`, and the
	// signal goes to the process without `runc kill`).
	if n := e.rt.Spawned(); n != 3 {
		t.Errorf("spawned %d processes for create, start and a graceful stop; want 3", n)
	}
	// Stop again is a no-op.
	n := e.rt.Spawned()
	if err := e.rt.Stop(context.Background(), c, time.Second, 0); err != nil || e.rt.Spawned() != n {
		t.Errorf("second Stop: err=%v, spawned %d more", err, e.rt.Spawned()-n)
	}
}

func TestOOMKilled(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.create([]string{"sh", "-c", "a=xxxxxxxxxxxxxxxx; while true; do a=$a$a; done"},
		&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 16 << 20})
	e.start(c)
	st := e.waitExit(c, 60*time.Second)
	if st.Reason != ReasonOOMKilled || st.Code != 137 {
		t.Errorf("exit = %+v, want OOMKilled 137", st)
	}
}

func TestCreateMissingCommandLeavesNothing(t *testing.T) {
	e := newEnv(t, "runc")
	id := filepath.Base(e.dir) + "-nocmd"
	bundle := filepath.Join(e.dir, id)
	os.MkdirAll(bundle, 0o700)
	root := rootfs(t, bundle)
	r, err := spec.Build(spec.Input{ID: id, RootFS: root, Sandbox: spec.Sandbox{CgroupParent: e.cgroup},
		Config: &runtimeapi.ContainerConfig{Command: []string{"/no/such/cmd"}, Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}}}}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r.Spec)
	os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600)
	c := &Container{ID: id, Name: id, Bundle: bundle, LogPath: filepath.Join(bundle, "ctr.log")}
	err = e.rt.Create(context.Background(), c)
	if !errors.Is(err, ErrCreate) || !strings.Contains(err.Error(), "/no/such/cmd") {
		t.Fatalf("err = %v, want ErrCreate naming the command", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.dir, "root-runc")); len(ents) != 0 {
		t.Errorf("runtime state left behind: %v", ents)
	}
	if _, err := os.Stat(e.rt.ExitFile(id)); err == nil {
		t.Errorf("exit file left behind")
	}
	if _, err := os.Lstat(filepath.Join(e.dir, "attach", id)); err == nil {
		t.Errorf("attach link left behind")
	}
}

func TestUpdateChangesCgroupLimit(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.create([]string{"sleep", "100"}, &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20})
	e.start(c)
	limitFile := filepath.Join("/sys/fs/cgroup/memory", c.CgroupPath, "memory.limit_in_bytes")
	if b, _ := os.ReadFile(limitFile); strings.TrimSpace(string(b)) != fmt.Sprint(64<<20) {
		t.Fatalf("initial limit %s", b)
	}
	res, err := spec.Resources(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 << 20}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Update(context.Background(), c, res); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(limitFile); strings.TrimSpace(string(b)) != fmt.Sprint(128<<20) {
		t.Errorf("limit after update %s, want %d", b, 128<<20)
	}
	e.rt.Stop(context.Background(), c, 0, 0)
}

func TestReopenLogWritesFreshFile(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.create([]string{"sh", "-c", "while true; do echo tick; sleep 0.1; done"}, nil)
	e.start(c)
	waitLog(t, c, "tick")
	if err := os.Rename(c.LogPath, c.LogPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.ReopenLog(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.LogPath); err != nil {
		t.Fatalf("log not recreated when ReopenLog returned: %v", err)
	}
	waitLog(t, c, "tick")
	e.rt.Stop(context.Background(), c, 0, 0)
}

// A container outlives the Runtime (the daemon) that made it, and a new
// Runtime learns its exit from conmon's files.
func TestContainerOutlivesRuntime(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.create([]string{"sh", "-c", "echo ready; sleep 2; exit 5"}, nil)
	e.start(c)
	waitLog(t, c, "ready")
	e.rt.Close()
	saved := *c
	rt2, err := New(e.rt.cfg, e.rt.opts, e.exited)
	if err != nil {
		t.Fatal(err)
	}
	e.rt = rt2
	if !rt2.Alive(&saved) {
		t.Fatal("container not running after its Runtime closed")
	}
	st := e.waitExit(&saved, 20*time.Second)
	if st.Code != 5 {
		t.Errorf("exit code %d after restart, want 5", st.Code)
	}
}

func TestFeatures(t *testing.T) {
	for _, p := range []string{"/usr/local/bin/runc", "/usr/sbin/runc"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		f, err := probeFeatures(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !f.RecursiveReadOnly || !f.UserNamespaces {
			t.Errorf("%s features %+v: want rro and user namespaces", p, f)
		}
		t.Logf("%s: %+v", p, f)
	}
	if _, err := probeFeatures("/usr/bin/crun"); err == nil {
		t.Log("crun reports features")
	}
}

func waitLog(t *testing.T, c *Container, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(c.LogPath); err == nil && strings.Contains(string(b), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log %s never showed %q", c.LogPath, want)
}

// BenchmarkLifecycle measures create+start+stop+delete of a container
// that exits on SIGTERM: through conmon (this package), and with runc
// alone (`runc run -d`, `runc kill`, `runc delete`: no monitor, no log, no
// exit file) as the peer, in the same run.
func BenchmarkLifecycle(b *testing.B) {
	// PID 1 ignores a TERM that comes before its trap is set: wait for
	// the marker the trap's shell writes into the shared rootfs.
	cmd := []string{"sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; while true; do sleep 0.05; done"}
	waitReady := func(b *testing.B, root string) {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			if _, err := os.Stat(filepath.Join(root, "tmp/ready")); err == nil {
				os.Remove(filepath.Join(root, "tmp/ready"))
				return
			}
			time.Sleep(time.Millisecond)
		}
		b.Fatal("the container never became ready")
	}
	b.Run("conmon", func(b *testing.B) {
		e := newEnv(b, "runc")
		e.root = rootfs(b, e.dir)
		start := e.rt.Spawned()
		for i := 0; i < b.N; i++ {
			c := e.create(cmd, nil)
			e.start(c)
			waitReady(b, e.root)
			if err := e.rt.Stop(context.Background(), c, 10*time.Second, syscall.SIGTERM); err != nil {
				b.Fatal(err)
			}
			if err := e.rt.Delete(context.Background(), c); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(e.rt.Spawned()-start)/float64(b.N), "procs/op")
	})
	b.Run("runc-alone", func(b *testing.B) {
		e := newEnv(b, "runc")
		e.root = rootfs(b, e.dir)
		h, _, _ := e.rt.Handler("runc")
		// No pipes: the detached container would hold them open.
		runc := func(args ...string) {
			if err := exec.Command(h.RuntimePath, append([]string{"--root=" + h.RuntimeRoot}, args...)...).Run(); err != nil {
				b.Fatalf("runc %v: %v", args, err)
			}
		}
		for i := 0; i < b.N; i++ {
			id := fmt.Sprintf("%s-r%d", filepath.Base(e.dir), i)
			c := e.bundle(cmd, nil)
			pidFile := filepath.Join(c.Bundle, "runc.pid")
			runc("run", "-d", "--pid-file", pidFile, "-b", c.Bundle, id)
			raw, _ := os.ReadFile(pidFile)
			var pid int
			fmt.Sscan(string(raw), &pid)
			waitReady(b, e.root)
			runc("kill", id, "TERM")
			// Gone or a zombie (nobody here reaps runc's detached child).
			for {
				if _, err := procstat.StartTime(pid); err != nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			runc("delete", "--force", id)
		}
	})
}

// A daemon killed while conmon runs `runtime create` restarts and
// discards the container while that create may still run; the runtime
// must go with conmon, or it goes on to leave its state dir.
func TestDiscardKillsConmonsProcessGroup(t *testing.T) {
	e := newEnv(t, "runc")
	id := filepath.Base(e.dir) + "-cut"
	bundle := filepath.Join(e.dir, id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	childFile := filepath.Join(bundle, "child.pid")
	// A stand-in for conmon: its command line names the container, it
	// leads its own group, and its child stands in for `runtime create`.
	conmon := exec.Command("sh", "-c", `sleep 1000 & echo $! > "$1"; wait`, "conmon-"+id, childFile)
	conmon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := conmon.Start(); err != nil {
		t.Fatal(err)
	}
	go conmon.Wait()
	t.Cleanup(func() { syscall.Kill(-conmon.Process.Pid, syscall.SIGKILL) })
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		child, _ = readPIDFile(childFile)
	}
	if child == 0 {
		t.Fatal("the stand-in conmon never started its child")
	}
	if err := os.WriteFile(filepath.Join(bundle, "conmon.pid"), []byte(strconv.Itoa(conmon.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Discard(context.Background(), &Container{ID: id, Bundle: bundle}); err != nil {
		t.Fatal(err)
	}
	if anyAlive([]groupMember{{pid: child, state: procState(child)}}) {
		t.Errorf("conmon's child %d still runs after Discard", child)
	}
}

// procState is a process's state letter, 'X' when it is gone.
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 'X'
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 'X'
	}
	return b[i+2]
}
