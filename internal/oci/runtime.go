package oci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/procstat"
	"github.com/crio/crio/internal/systemd"
)

// Options configure a Runtime.
type Options struct {
	// ExitsDir is where conmon writes a file named after each container
	// holding its exit code ([crio.runtime] container_exits_dir).
	ExitsDir string
	// AttachDir is where conmon links each container's attach socket.
	AttachDir     string
	ConmonEnv     []string
	LogSizeMax    int64
	SystemdCgroup bool
	Logger        *slog.Logger
}

// Runtime runs containers with a handler's OCI runtime under conmon. It
// learns containers' state from conmon's pid and exit files and /proc,
// never from `runtime state`.
type Runtime struct {
	cfg  *config.Config
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	handlers map[string]*handlerEntry

	// spawned counts runtime and conmon processes started, to keep the
	// per-container cost visible.
	spawned atomic.Int64

	monitor *exitMonitor
	journal *journald
	// oom is nil unless systemd removes containers' cgroups (the systemd
	// driver on cgroup v2).
	oom *oomWatcher
}

type handlerEntry struct {
	h        *Handler
	features Features
	err      error
}

// New makes a Runtime and starts watching the exits directory. onExit is
// called (from one goroutine) for every exit file that appears.
func New(cfg *config.Config, opts Options, onExit func(id string)) (*Runtime, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, d := range []string{opts.ExitsDir, opts.AttachDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	r := &Runtime{cfg: cfg, opts: opts, log: opts.Logger, handlers: map[string]*handlerEntry{}, journal: newJournald()}
	m, err := newExitMonitor(opts.ExitsDir, onExit, opts.Logger)
	if err != nil {
		return nil, err
	}
	r.monitor = m
	if opts.SystemdCgroup && cgroups.IsV2() {
		if r.oom, err = newOOMWatcher("/sys/fs/cgroup", opts.Logger); err != nil {
			m.close()
			return nil, fmt.Errorf("watching for OOM kills: %w", err)
		}
	}
	return r, nil
}

// Close stops the exit and OOM monitors. Containers keep running.
func (r *Runtime) Close() error { return errors.Join(r.monitor.close(), r.oom.close()) }

// WatchOOM watches a container found again after a restart for OOM kills,
// as Create does for a new one.
func (r *Runtime) WatchOOM(c *Container) { r.oom.add(c) }

// Spawned returns how many processes the runtime has started.
func (r *Runtime) Spawned() int64 { return r.spawned.Load() }

// Handler resolves a handler by name (empty: the default) and probes its
// features once.
func (r *Runtime) Handler(name string) (*Handler, Features, error) {
	if name == "" {
		name = r.cfg.Runtime.DefaultRuntime
	}
	r.mu.Lock()
	e, ok := r.handlers[name]
	r.mu.Unlock()
	if ok {
		return e.h, e.features, e.err
	}
	e = &handlerEntry{}
	e.h, e.err = ResolveHandler(r.cfg, name)
	if e.err == nil {
		f, err := probeFeatures(e.h.RuntimePath)
		if err != nil {
			r.log.Info("runtime handler reports no features; assuming none", "handler", name, "error", err)
		}
		e.features = f
	}
	if e.err == nil {
		// Only successes are cached: a binary installed later is found.
		r.mu.Lock()
		r.handlers[name] = e
		r.mu.Unlock()
	}
	return e.h, e.features, e.err
}

// HandlerFeatures resolves every configured handler and returns the
// features of those that resolve, for Status's runtime_handlers.
func (r *Runtime) HandlerFeatures() map[string]Features {
	out := map[string]Features{}
	for name := range r.cfg.Runtime.Runtimes {
		if _, f, err := r.Handler(name); err == nil {
			out[name] = f
		}
	}
	return out
}

// Container is what the runtime needs to know about one container. The
// caller persists it; after a restart the same values find the container
// again.
type Container struct {
	ID      string
	Name    string
	Handler string
	// Bundle holds config.json and conmon's files: pidfile, conmon.pid,
	// the ctl and winsz fifos, the attach socket and the oom marker.
	Bundle    string
	LogPath   string
	Stdin     bool
	StdinOnce bool
	Terminal  bool
	// CgroupPath is where the container's cgroup is below a hierarchy's
	// root (a systemd scope's too), for OOM detection.
	CgroupPath string
	// MonitorCgroup is the cgroup (relative, cgroupfs form) conmon is
	// moved into before it starts the runtime, when the handler's
	// monitor_cgroup is "pod": the pod's cgroup. Empty leaves conmon in
	// the daemon's cgroup.
	MonitorCgroup string
	// PID and PIDStartTime identify the container's init process; the
	// start time guards against a recycled pid.
	PID          int
	PIDStartTime uint64
	// RestoreFrom, while set, is the directory of CRIU images the
	// container is restored from: Create then has conmon run `runtime
	// restore` instead of `runtime create`, and the container runs as
	// soon as Create returns.
	RestoreFrom string `json:",omitempty"`
}

// ErrCreate wraps a failure of the runtime to create the container (bad
// command, bad spec): the request's fault more often than the host's.
var ErrCreate = errors.New("runtime failed to create the container")

// Create starts conmon, which runs `runtime create` and holds the
// container's stdio and log. It fills c.PID and c.PIDStartTime.
func (r *Runtime) Create(ctx context.Context, c *Container) error {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	c.Handler = h.Name
	if c.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(c.LogPath), 0o755); err != nil {
			return fmt.Errorf("creating log directory: %w", err)
		}
	}
	// A stale exit file from an earlier container with this ID would read
	// as an exit of this one.
	os.Remove(r.ExitFile(c.ID))
	args := []string{
		"--api-version", "1",
		"-c", c.ID, "-u", c.ID, "-n", c.Name,
		"-r", h.RuntimePath,
		"--runtime-arg", "--root=" + h.RuntimeRoot,
		"-b", c.Bundle,
		"-p", filepath.Join(c.Bundle, "pidfile"),
		"-P", filepath.Join(c.Bundle, "conmon.pid"),
		"--persist-dir", c.Bundle,
		"--exit-dir", r.opts.ExitsDir,
		"--socket-dir-path", r.opts.AttachDir,
		"--log-level", "info",
	}
	if c.LogPath != "" {
		args = append(args, "-l", "k8s-file:"+c.LogPath)
	}
	args = append(args, r.journalLogArgs()...)
	if c.RestoreFrom != "" {
		// conmon runs `runtime restore --detach --image-path DIR
		// --work-path BUNDLE`; the process runs once it returns.
		args = append(args, "--restore", c.RestoreFrom)
	}
	if r.opts.LogSizeMax > 0 {
		args = append(args, "--log-size-max", strconv.FormatInt(r.opts.LogSizeMax, 10))
	}
	if r.opts.SystemdCgroup {
		args = append(args, "-s")
	}
	if c.Stdin {
		args = append(args, "-i")
		if !c.StdinOnce {
			args = append(args, "--leave-stdin-open")
		}
	}
	if c.Terminal {
		args = append(args, "-t")
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer syncR.Close()
	cmd := exec.Command(h.MonitorPath, args...)
	cmd.Dir = c.Bundle
	// conmon's own stderr is closed (/dev/null): a pipe would SIGPIPE it
	// once the daemon is gone. Errors come back on the sync pipe.
	cmd.ExtraFiles = []*os.File{syncW}
	cmd.Env = append(append([]string{}, r.opts.ConmonEnv...), h.Config.MonitorEnv...)
	cmd.Env = append(cmd.Env, "_OCI_SYNCPIPE=3")
	// With a start pipe conmon waits for a write before it forks or runs
	// anything, so that it (and what it forks) starts in its cgroup.
	var startW *os.File
	place := r.monitorPlacement(h, c)
	if place != nil {
		startR, w, err := os.Pipe()
		if err != nil {
			syncW.Close()
			return err
		}
		defer startR.Close()
		startW = w
		defer startW.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, startR)
		cmd.Env = append(cmd.Env, "_OCI_STARTPIPE=4")
	}
	// Its own session: signals to the daemon's group must not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	r.spawned.Add(2) // conmon and `runtime create`
	if err := cmd.Start(); err != nil {
		syncW.Close()
		return fmt.Errorf("starting conmon: %w", err)
	}
	syncW.Close()
	if startW != nil {
		if err := place(ctx, cmd.Process.Pid); err != nil {
			r.log.Warn("conmon stays in the daemon's cgroup", "id", c.ID, "error", err)
		}
		if _, err := startW.Write([]byte{0}); err != nil {
			r.log.Warn("writing conmon's start pipe", "id", c.ID, "error", err)
		}
		startW.Close()
	}
	// conmon forks and its parent exits at once; the child stays.
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("conmon: %w", err)
	}
	pid, err := readSync(ctx, syncR)
	if err != nil {
		r.cleanupFailedCreate(h, c)
		return err
	}
	c.PID = pid
	c.PIDStartTime, err = procstat.StartTime(pid)
	if err != nil {
		return fmt.Errorf("container process %d: %w", pid, err)
	}
	r.oom.add(c)
	return nil
}

// monitorPlacement says how conmon is moved to its cgroup before it
// starts the runtime, or nil to leave it in the daemon's. A handler's
// monitor_cgroup "pod" is the pod's cgroup (cgroupfs) or a scope in the
// pod's slice (systemd); under systemd a slice name puts the scope there.
func (r *Runtime) monitorPlacement(h *Handler, c *Container) func(context.Context, int) error {
	mc := h.Config.MonitorCgroup
	if !r.opts.SystemdCgroup {
		if c.MonitorCgroup == "" || mc != "pod" {
			return nil
		}
		return func(_ context.Context, pid int) error { return cgroups.AddProcess(c.MonitorCgroup, pid) }
	}
	slice := mc
	if mc == "pod" {
		slice = cgroups.PodSlice(c.MonitorCgroup)
	}
	if !strings.HasSuffix(slice, ".slice") {
		return nil
	}
	return func(ctx context.Context, pid int) error {
		return systemd.StartScope(ctx, systemd.ScopeName("crio-conmon", c.ID), slice, pid, "crio conmon of "+c.ID)
	}
}

type syncInfo struct {
	Data    int    `json:"data"`
	Message string `json:"message,omitempty"`
}

// readSync reads conmon's first message: the container pid, or -1 and
// the runtime's error.
func readSync(ctx context.Context, f *os.File) (int, error) {
	type res struct {
		si  syncInfo
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var si syncInfo
		line, err := bufio.NewReader(f).ReadBytes('\n')
		if err != nil && len(line) == 0 {
			ch <- res{err: fmt.Errorf("conmon exited without reporting the container: %w", err)}
			return
		}
		if err := json.Unmarshal(bytes.TrimSpace(line), &si); err != nil {
			ch <- res{err: fmt.Errorf("conmon sent %q: %w", line, err)}
			return
		}
		ch <- res{si: si}
	}()
	select {
	case <-ctx.Done():
		f.SetReadDeadline(time.Now())
		return 0, ctx.Err()
	case r := <-ch:
		if r.err != nil {
			return 0, r.err
		}
		if r.si.Data <= 0 {
			msg := strings.TrimSpace(r.si.Message)
			return 0, fmt.Errorf("%w: %s", ErrCreate, cleanRuntimeError(msg))
		}
		return r.si.Data, nil
	}
}

// cleanRuntimeError keeps the useful part of runc's logrus-formatted line.
func cleanRuntimeError(msg string) string {
	if i := strings.LastIndex(msg, "msg=\""); i >= 0 {
		m := msg[i+5:]
		if j := strings.LastIndex(m, "\""); j >= 0 {
			m = m[:j]
		}
		return strings.ReplaceAll(m, `\"`, `"`)
	}
	return msg
}

func (r *Runtime) cleanupFailedCreate(h *Handler, c *Container) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// runc may have left its state behind; delete is a no-op otherwise.
	r.runtime(ctx, h, "delete", "--force", c.ID)
	os.Remove(r.ExitFile(c.ID))
	os.Remove(filepath.Join(r.opts.AttachDir, c.ID))
}

// Start starts the container's process.
func (r *Runtime) Start(ctx context.Context, c *Container) error {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	if _, err := r.runtime(ctx, h, "start", c.ID); err != nil {
		return err
	}
	return nil
}

// Checkpoint dumps the running container's process tree with the
// runtime's CRIU integration (`runtime checkpoint --leave-running`): its
// images go to imagePath, CRIU's log (dump.log) to workPath, and the
// container goes on running. A dump cut short (by ctx) may leave the
// container frozen, so a failure is followed by `runtime resume`, which
// is a no-op error for a container that is not paused.
func (r *Runtime) Checkpoint(ctx context.Context, c *Container, imagePath, workPath string) error {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	_, err = r.runtime(ctx, h, "checkpoint", "--image-path", imagePath, "--work-path", workPath, "--leave-running", c.ID)
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		r.runtime(rctx, h, "resume", c.ID)
		return err
	}
	return nil
}

// Pause freezes every process of the container (`runtime pause`, the
// cgroup freezer). A pod checkpoint pauses all its containers before it
// dumps any, for one pod-wide cut; CRIU leaves a cgroup it found frozen
// frozen after its dump.
func (r *Runtime) Pause(ctx context.Context, c *Container) error {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	_, err = r.runtime(ctx, h, "pause", c.ID)
	return err
}

// Resume thaws a container Pause froze.
func (r *Runtime) Resume(ctx context.Context, c *Container) error {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	_, err = r.runtime(ctx, h, "resume", c.ID)
	return err
}

// Kill sends sig to the container's init process. It signals the process
// itself through a pidfd, which `runtime kill` would do after costing a
// process (17 ms of runc here) per stop; the runtime is the fallback for
// a container whose pid is not known.
func (r *Runtime) Kill(ctx context.Context, c *Container, sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		r.oom.sigkilled(c)
	}
	if c.PID > 0 {
		err := signalProcess(c.PID, c.PIDStartTime, sig)
		if err == nil || errors.Is(err, errProcessGone) {
			return nil
		}
		r.log.Debug("signalling the container's process directly failed; asking the runtime", "id", c.ID, "error", err)
	}
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	_, err = r.runtime(ctx, h, "kill", c.ID, strconv.Itoa(int(sig)))
	if err != nil && r.Exited(c) {
		return nil
	}
	return err
}

// errProcessGone says the process to signal has exited (or is a zombie
// not reaped yet, or its pid now names another process).
var errProcessGone = errors.New("process is gone")

// signalProcess sends sig to pid if it is still the process that started
// at startTime (0 skips the check). The pidfd pins the process: once the
// start time read after opening it matches, the signal cannot reach a
// process that recycled the pid.
func signalProcess(pid int, startTime uint64, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return errProcessGone
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	st, err := procstat.StartTime(pid)
	if err != nil || (startTime != 0 && st != startTime) {
		return errProcessGone
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errProcessGone
		}
		return fmt.Errorf("signalling %d: %w", pid, err)
	}
	return nil
}

// Stop sends sig (SIGTERM when 0), waits up to timeout for the exit, then
// sends SIGKILL. A zero timeout kills at once. It returns when the exit
// has been recorded by conmon.
func (r *Runtime) Stop(ctx context.Context, c *Container, timeout time.Duration, sig syscall.Signal) error {
	if r.Exited(c) {
		return nil
	}
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if timeout > 0 && sig != syscall.SIGKILL {
		if err := r.Kill(ctx, c, sig); err != nil {
			return fmt.Errorf("sending %v: %w", sig, err)
		}
		if r.waitExit(ctx, c, timeout) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.Info("container did not stop in time; killing it", "id", c.ID, "timeout", timeout)
	}
	if err := r.Kill(ctx, c, syscall.SIGKILL); err != nil {
		return fmt.Errorf("sending SIGKILL: %w", err)
	}
	wait := r.killWait()
	if !r.waitExit(ctx, c, wait) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("container %s did not exit within %v of SIGKILL ([crio.runtime] ctr_stop_timeout)", c.ID, wait)
	}
	return nil
}

// killWait is how long Stop waits for a killed container to exit:
// [crio.runtime] ctr_stop_timeout, never under CRI-O's floor of 30 s
// (the configuration raises lower values when it loads).
func (r *Runtime) killWait() time.Duration {
	return time.Duration(max(r.cfg.Runtime.CtrStopTimeout, config.MinCtrStopTimeout)) * time.Second
}

// waitExit waits until conmon has written the exit file, or the process
// is gone without one (conmon killed), or d passes.
func (r *Runtime) waitExit(ctx context.Context, c *Container, d time.Duration) bool {
	ch := r.monitor.wait(c.ID)
	defer r.monitor.unwait(c.ID, ch)
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if r.Exited(c) {
			return true
		}
		select {
		case <-ch:
		case <-tick.C:
			// conmon gone and process gone: no exit file will come.
			if !r.Alive(c) && !r.conmonAlive(c) {
				return true
			}
		case <-t.C:
			return r.Exited(c)
		case <-ctx.Done():
			return false
		}
	}
}

// Delete removes the container from the runtime, killing it if it still
// runs, and removes conmon's exit file.
func (r *Runtime) Delete(ctx context.Context, c *Container) error {
	if err := r.DeleteState(ctx, c); err != nil {
		return err
	}
	r.RemoveFiles(c)
	return nil
}

// RemoveFiles removes conmon's exit file and attach socket of a container
// the runtime no longer has.
func (r *Runtime) RemoveFiles(c *Container) {
	os.Remove(r.ExitFile(c.ID))
	os.Remove(filepath.Join(r.opts.AttachDir, c.ID))
}

// DeleteState removes the runtime's record of the container (and with it
// its cgroup and any process left in it), killing its process first if it
// still runs; the exit file stays.
func (r *Runtime) DeleteState(ctx context.Context, c *Container) error {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	// `runc delete --force` (and a plain delete of a created container)
	// sends SIGKILL and then sleeps 100 ms before it looks again, even
	// for a container that has long exited: RemoveContainer took 4x the
	// floor for it. So the daemon kills a process still there itself
	// (a created container's init) and deletes without --force, which
	// for a stopped container goes straight to removing it, leftover
	// processes of a shared PID namespace included. --force is the
	// fallback when the runtime still finds the container running.
	r.killAndWait(c)
	r.oom.remove(c)
	_, err = r.runtime(ctx, h, "delete", c.ID)
	if err != nil && !isNotExist(err) {
		if _, err := r.runtime(ctx, h, "delete", "--force", c.ID); err != nil && !isNotExist(err) {
			return err
		}
	}
	return nil
}

// killAndWait SIGKILLs the container's process if it is still there and
// waits (up to 5 s) until it is gone.
func (r *Runtime) killAndWait(c *Container) {
	if !r.Alive(c) {
		return
	}
	r.oom.sigkilled(c)
	if signalProcess(c.PID, c.PIDStartTime, syscall.SIGKILL) != nil {
		return
	}
	for deadline := time.Now().Add(5 * time.Second); r.Alive(c) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

func isNotExist(err error) bool {
	s := err.Error()
	return strings.Contains(s, "does not exist") || strings.Contains(s, "not found")
}

// Update applies new resource limits to a running container.
func (r *Runtime) Update(ctx context.Context, c *Container, res *rspec.LinuxResources) error {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = r.runtimeStdin(ctx, h, bytes.NewReader(b), "update", "--resources", "-", c.ID)
	return err
}

// ReopenLog asks conmon to reopen the container's log file and waits
// until the file exists again.
func (r *Runtime) ReopenLog(ctx context.Context, c *Container) error {
	if !r.conmonAlive(c) {
		return fmt.Errorf("container %s has no running monitor to reopen its log", c.ID)
	}
	ctl := filepath.Join(c.Bundle, "ctl")
	f, err := os.OpenFile(ctl, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("opening conmon's control fifo: %w", err)
	}
	defer f.Close()
	// conmon's control message: type 2 (reopen log), then two unused sizes.
	if _, err := fmt.Fprintf(f, "2 0 0\n"); err != nil {
		return fmt.Errorf("writing to conmon's control fifo: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(c.LogPath); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("conmon did not reopen log %s", c.LogPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// globalArgs go before every command of the handler's runtime: its
// --root, and --systemd-cgroup under the systemd driver, without which
// runc would take a container's "slice:prefix:name" for a path.
func (r *Runtime) globalArgs(h *Handler) []string {
	if r.opts.SystemdCgroup {
		return []string{"--root=" + h.RuntimeRoot, "--systemd-cgroup"}
	}
	return []string{"--root=" + h.RuntimeRoot}
}

// runtime runs the handler's runtime binary with its global arguments.
func (r *Runtime) runtime(ctx context.Context, h *Handler, args ...string) ([]byte, error) {
	return r.runtimeStdin(ctx, h, nil, args...)
}

func (r *Runtime) runtimeStdin(ctx context.Context, h *Handler, stdin *bytes.Reader, args ...string) ([]byte, error) {
	full := append(r.globalArgs(h), args...)
	cmd := exec.CommandContext(ctx, h.RuntimePath, full...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r.spawned.Add(1)
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return nil, fmt.Errorf("%s %s: %w: %s", filepath.Base(h.RuntimePath), args[0], err, cleanRuntimeError(msg))
	}
	return out.Bytes(), nil
}
