package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/spec"
)

// createStdio is like env.create but with the container's stdin and
// terminal settings, for attach.
func (e *env) createStdio(cmd []string, stdin, once, tty bool) *Container {
	t := e.t
	t.Helper()
	seq++
	id := fmt.Sprintf("%s-%d", filepath.Base(e.dir), seq)
	bundle := filepath.Join(e.dir, id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	root := rootfs(t, bundle)
	r, err := spec.Build(spec.Input{
		ID: id, RootFS: root,
		Config: &runtimeapi.ContainerConfig{Command: cmd, Stdin: stdin, StdinOnce: once, Tty: tty,
			Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}}}},
		Sandbox:  spec.Sandbox{ID: "pod", CgroupParent: e.cgroup},
		Defaults: spec.Defaults{Capabilities: config.Default().Runtime.DefaultCapabilities},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r.Spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: id, Name: id, Bundle: bundle, LogPath: filepath.Join(bundle, "ctr.log"),
		CgroupPath: r.Spec.Linux.CgroupsPath, Stdin: stdin, StdinOnce: once, Terminal: tty}
	if err := e.rt.Create(context.Background(), c); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { e.rt.Delete(context.Background(), c) })
	return c
}

// running starts a container that sleeps, for commands to run in.
func (e *env) running() *Container {
	c := e.create([]string{"sleep", "1000"}, nil)
	e.start(c)
	return c
}

func TestExecSyncOutputAndExitCode(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	before := e.rt.Spawned()
	res, err := e.rt.ExecSync(context.Background(), c, []string{"sh", "-c", "echo out; echo err >&2; id -u; exit 3"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "out\n0\n" || string(res.Stderr) != "err\n" || res.ExitCode != 3 {
		t.Errorf("got stdout %q stderr %q code %d, want \"out\\n0\\n\" \"err\\n\" 3", res.Stdout, res.Stderr, res.ExitCode)
	}
	if n := e.rt.Spawned() - before; n != 1 {
		t.Errorf("ExecSync spawned %d processes, want 1 (runc exec)", n)
	}
	if ents, _ := filepath.Glob(filepath.Join(c.Bundle, "exec-*")); len(ents) != 0 {
		t.Errorf("exec files left in the bundle: %v", ents)
	}
}

// The exec'd command runs in the container: its pid namespace, its root.
func TestExecSyncRunsInsideContainer(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	res, err := e.rt.ExecSync(context.Background(), c, []string{"sh", "-c", "cat /proc/1/cmdline; echo; ls /"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Stdout)
	if !strings.HasPrefix(out, "sleep\x001000") {
		t.Errorf("pid 1 seen by the command is %q, want the container's sleep", out)
	}
	if strings.Contains(out, "home") || !strings.Contains(out, "bin") {
		t.Errorf("root of the command holds %q, want the container's rootfs", out)
	}
}

func TestExecSyncUnknownCommandFails(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	_, err := e.rt.ExecSync(context.Background(), c, []string{"/no/such/binary"}, 0)
	if err == nil || !strings.Contains(err.Error(), "/no/such/binary") {
		t.Errorf("err = %v, want an error naming the missing binary", err)
	}
}

func TestExecSyncTimeoutKillsCommand(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	begin := time.Now()
	// sh forks sleep: the child must go too.
	_, err := e.rt.ExecSync(context.Background(), c, []string{"sh", "-c", "sleep 10; echo never"}, time.Second)
	took := time.Since(begin)
	if !errors.Is(err, ErrExecTimeout) {
		t.Fatalf("err = %v, want ErrExecTimeout", err)
	}
	if took > 5*time.Second {
		t.Errorf("ExecSync returned after %v, want about 1s", took)
	}
	// Only the container's own process is left in its cgroup.
	procs := cgroupProcs(t, c)
	if len(procs) != 1 || procs[0] != fmt.Sprint(c.PID) {
		t.Errorf("container cgroup holds %v after the timeout, want only %d", procs, c.PID)
	}
}

func TestExecTTYTimeoutKillsCommandAndChildren(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	begin := time.Now()
	_, err := e.rt.exec(context.Background(), c, execIO{cmd: []string{"sh", "-c", "sleep 10; echo never"}, tty: true, timeout: time.Second})
	if !errors.Is(err, ErrExecTimeout) || time.Since(begin) > 5*time.Second {
		t.Fatalf("err = %v after %v, want ErrExecTimeout after about 1s", err, time.Since(begin))
	}
	if procs := cgroupProcs(t, c); len(procs) != 1 {
		t.Errorf("container cgroup holds %v after the timeout, want only its init", procs)
	}
}

func cgroupProcs(t *testing.T, c *Container) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", c.CgroupPath, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestExecSyncCapsOutput(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	res, err := e.rt.ExecSync(context.Background(), c, []string{"sh", "-c", "head -c 50000000 /dev/zero; head -c 20000000 /dev/zero >&2; echo done >&2"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != MaxExecSyncOutput || len(res.Stderr) != MaxExecSyncOutput || res.ExitCode != 0 {
		t.Errorf("stdout %d bytes, stderr %d bytes, exit %d; want %d, %d, 0",
			len(res.Stdout), len(res.Stderr), res.ExitCode, MaxExecSyncOutput, MaxExecSyncOutput)
	}
}

func TestExecSyncConcurrent(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.rt.ExecSync(context.Background(), c, []string{"sh", "-c", fmt.Sprintf("echo %d; exit %d", i, i)}, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			if string(res.Stdout) != fmt.Sprintf("%d\n", i) || res.ExitCode != int32(i) {
				errs <- fmt.Errorf("exec %d: stdout %q exit %d", i, res.Stdout, res.ExitCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestExecSyncLeavesNoProcessesOrFDs(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	// Warm up: the first exec resolves the handler and opens lazily
	// created descriptors.
	e.rt.ExecSync(context.Background(), c, []string{"true"}, 0)
	fds, kids := countFDs(t), children(t)
	for range 30 {
		if _, err := e.rt.ExecSync(context.Background(), c, []string{"sh", "-c", "echo probe"}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.rt.ExecSync(context.Background(), c, []string{"sleep", "5"}, 100*time.Millisecond); !errors.Is(err, ErrExecTimeout) {
		t.Fatalf("timeout exec: %v", err)
	}
	if n := countFDs(t); n > fds {
		t.Errorf("open fds went from %d to %d", fds, n)
	}
	if n := children(t); n > kids {
		t.Errorf("child processes went from %d to %d", kids, n)
	}
	if procs := cgroupProcs(t, c); len(procs) != 1 {
		t.Errorf("container cgroup holds %v, want only its init", procs)
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// children counts this process's children, zombies included.
func children(t *testing.T) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/children", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	n := len(strings.Fields(string(b)))
	// Children of other threads of this process count too.
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, tk := range tasks {
		if tk.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc/self/task", tk.Name(), "children"))
		n += len(strings.Fields(string(b)))
	}
	return n
}

func TestExecStoppedContainerFails(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.create([]string{"true"}, nil)
	e.start(c)
	e.waitExit(c, 20*time.Second)
	if _, err := e.rt.ExecSync(context.Background(), c, []string{"true"}, 0); !errors.Is(err, ErrNotRunning) {
		t.Errorf("exec in an exited container: err = %v, want ErrNotRunning", err)
	}
}

func TestExecStdinWithoutTTY(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	var out, errb bytes.Buffer
	code, err := e.rt.Exec(context.Background(), c, []string{"sh", "-c", "cat; echo bye >&2; exit 4"},
		ExecStreams{Stdin: strings.NewReader("hello\n"), Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\n" || errb.String() != "bye\n" || code != 4 {
		t.Errorf("stdout %q stderr %q code %d, want hello, bye, 4", out.String(), errb.String(), code)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(b.String(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("output %q never showed %q", b.String(), want)
}

// typeUntil types line into a shell until its output shows want. A
// terminal's size reaches the container's pty through the runtime, which
// may apply it after the shell has already read a line typed early.
func typeUntil(t *testing.T, in io.Writer, out *syncBuffer, line, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), want) && time.Now().Before(deadline); {
		io.WriteString(in, line)
		time.Sleep(200 * time.Millisecond)
	}
	waitFor(t, out, want)
}

func TestExecTTYWithResize(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	inR, inW := io.Pipe()
	var out syncBuffer
	resize := make(chan TerminalSize, 2)
	resize <- TerminalSize{Width: 100, Height: 40}
	done := make(chan error, 1)
	var code int32
	go func() {
		var err error
		code, err = e.rt.Exec(context.Background(), c, []string{"sh"}, ExecStreams{Stdin: inR, Stdout: &out, TTY: true, Resize: resize})
		done <- err
	}()
	typeUntil(t, inW, &out, "tty; stty size\n", "40 100")
	if !strings.Contains(out.String(), "/dev/pts/") {
		t.Errorf("tty output %q does not name a pts", out.String())
	}
	resize <- TerminalSize{Width: 132, Height: 50}
	typeUntil(t, inW, &out, "stty size\n", "50 132")
	io.WriteString(inW, "exit 6\n")
	select {
	case err := <-done:
		if err != nil || code != 6 {
			t.Errorf("exec ended with code %d err %v, want 6", code, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("exec did not end after exit")
	}
	close(resize)
	inW.Close()
}

func TestExecCancelKillsCommand(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.running()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	_, err := e.rt.Exec(ctx, c, []string{"sleep", "30"}, ExecStreams{Stdout: io.Discard})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if procs := cgroupProcs(t, c); len(procs) != 1 {
		t.Errorf("container cgroup holds %v, want only its init", procs)
	}
}

func TestAttachStdinOnce(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.createStdio([]string{"sh", "-c", "echo ready; while read l; do echo got $l; echo err $l >&2; done; echo eof; sleep 1"}, true, true, false)
	e.start(c)
	waitLog(t, c, "ready")
	inR, inW := io.Pipe()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- e.rt.Attach(context.Background(), c, ExecStreams{Stdin: inR, Stdout: &out, Stderr: &errb})
	}()
	// conmon takes the connection asynchronously; keep writing until
	// the container answers.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "got one") && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("attach ended early: %v", err)
		default:
		}
		io.WriteString(inW, "one\n")
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, &out, "got one")
	waitFor(t, &errb, "err one")
	// stdin_once: closing the client's stdin closes the container's.
	inW.Close()
	waitFor(t, &out, "eof")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("attach: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("attach did not end when the container exited")
	}
}

func TestAttachTTYResize(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.createStdio([]string{"sh"}, true, false, true)
	e.start(c)
	inR, inW := io.Pipe()
	var out syncBuffer
	resize := make(chan TerminalSize, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.rt.Attach(context.Background(), c, ExecStreams{Stdin: inR, Stdout: &out, TTY: true, Resize: resize})
	}()
	resize <- TerminalSize{Width: 91, Height: 33}
	typeUntil(t, inW, &out, "stty size\n", "33 91")
	// Detach: the container keeps running.
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("attach: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach did not end when the client closed stdin")
	}
	close(resize)
	if !e.rt.Alive(c) {
		t.Error("container stopped after the client detached")
	}
}

func TestAttachStoppedContainerFails(t *testing.T) {
	e := newEnv(t, "runc")
	c := e.create([]string{"true"}, nil)
	e.start(c)
	e.waitExit(c, 20*time.Second)
	if err := e.rt.Attach(context.Background(), c, ExecStreams{Stdout: io.Discard}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("err = %v, want ErrNotRunning", err)
	}
}
