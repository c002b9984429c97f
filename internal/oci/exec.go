package oci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MaxExecSyncOutput caps what ExecSync keeps of each of stdout and stderr;
// the rest is read and discarded (CRI: "The runtime should cap the output
// of this response to 16MB", CVE-2022-1708).
const MaxExecSyncOutput = 16 << 20

var (
	// ErrNotRunning: the container's process is not running (never
	// started, or exited), so nothing can be executed in or attached to it.
	ErrNotRunning = errors.New("container is not running")
	// ErrExecTimeout: an ExecSync command ran past its timeout and was
	// killed.
	ErrExecTimeout = errors.New("command timed out")
)

// ExecSyncResult is the outcome of a command run to completion.
type ExecSyncResult struct {
	Stdout, Stderr []byte
	ExitCode       int32
}

// ExecSync runs cmd in the container with the container's process
// settings (user, capabilities, environment, cwd, security), waits for it
// and returns its output, each stream capped at MaxExecSyncOutput. A
// positive timeout kills the command when it expires and returns
// ErrExecTimeout. Only `runtime exec` is spawned: no monitor.
func (r *Runtime) ExecSync(ctx context.Context, c *Container, cmd []string, timeout time.Duration) (*ExecSyncResult, error) {
	var stdout, stderr cappedBuffer
	stdout.limit, stderr.limit = MaxExecSyncOutput, MaxExecSyncOutput
	code, err := r.exec(ctx, c, execIO{cmd: cmd, stdout: &stdout, stderr: &stderr, timeout: timeout})
	if err != nil {
		return nil, err
	}
	return &ExecSyncResult{Stdout: stdout.buf, Stderr: stderr.buf, ExitCode: code}, nil
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct{ Width, Height uint16 }

// ExecStreams are the client's ends of an interactive exec. Nil streams
// are not connected. With TTY, Stderr is unused (a terminal has one output)
// and Resize carries the client's window size changes.
type ExecStreams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan TerminalSize
}

// Exec runs cmd in the container connected to the client's streams and
// returns its exit code when it ends. It ends early, killing the command,
// when ctx is done.
func (r *Runtime) Exec(ctx context.Context, c *Container, cmd []string, s ExecStreams) (int32, error) {
	return r.exec(ctx, c, execIO{cmd: cmd, stdin: s.Stdin, stdout: s.Stdout, stderr: s.Stderr, tty: s.TTY, resize: s.Resize})
}

type execIO struct {
	cmd            []string
	stdin          io.Reader
	stdout, stderr io.Writer
	tty            bool
	resize         <-chan TerminalSize
	timeout        time.Duration
}

func (r *Runtime) exec(ctx context.Context, c *Container, o execIO) (int32, error) {
	if len(o.cmd) == 0 {
		return -1, errors.New("exec: empty command")
	}
	if !r.Alive(c) || r.Exited(c) {
		return -1, fmt.Errorf("%w: %s", ErrNotRunning, c.ID)
	}
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return -1, err
	}
	base, err := execFileBase(c)
	if err != nil {
		return -1, err
	}
	procFile, pidFile := base+".json", base+".pid"
	defer os.Remove(procFile)
	defer os.Remove(pidFile)
	if err := writeExecProcess(c, procFile, o.cmd, o.tty); err != nil {
		return -1, err
	}

	args := append(r.globalArgs(h), "exec", "--process", procFile, "--pid-file", pidFile, c.ID)
	cmd := exec.Command(h.RuntimePath, args...)
	// Output left in the pipes by background children that outlive the
	// command must not hold the caller forever.
	cmd.WaitDelay = time.Second
	var (
		ptm     *os.File
		copies  sync.WaitGroup
		stdinW  *os.File
		errTail tailBuffer
	)
	if o.tty {
		// runc proxies a terminal exec between the container's pty and its
		// own terminal, and follows that terminal's size on SIGWINCH. Give
		// it one: a pty whose master the client's streams are copied to.
		var pts *os.File
		ptm, pts, err = pty.Open()
		if err != nil {
			return -1, fmt.Errorf("allocating a terminal for exec: %w", err)
		}
		defer ptm.Close()
		if sz, ok := initialSize(o.resize); ok {
			setWinsize(ptm, sz)
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		r.spawned.Add(1)
		err = cmd.Start()
		pts.Close()
		if err != nil {
			return -1, fmt.Errorf("starting %s exec: %w", filepath.Base(h.RuntimePath), err)
		}
		if o.stdin != nil {
			go io.Copy(ptm, o.stdin)
		}
		out := o.stdout
		if out == nil {
			// The terminal must be drained or the command blocks.
			out = io.Discard
		}
		copies.Add(1)
		go func() { defer copies.Done(); io.Copy(out, ptm) }()
		if o.resize != nil {
			go func() {
				for sz := range o.resize {
					if setWinsize(ptm, sz) != nil {
						return // the exec has ended and closed the terminal
					}
				}
			}()
		}
	} else {
		if o.stdin != nil {
			var stdinR *os.File
			stdinR, stdinW, err = os.Pipe()
			if err != nil {
				return -1, err
			}
			defer stdinR.Close()
			cmd.Stdin = stdinR
		}
		cmd.Stdout = o.stdout
		// runc's own errors arrive on stderr before the command runs; keep
		// the end of it to explain a failure.
		if o.stderr != nil {
			cmd.Stderr = io.MultiWriter(o.stderr, &errTail)
		} else {
			cmd.Stderr = &errTail
		}
		// runc and the command it starts get a process group of their
		// own: a ^C to the daemon's group spares them, and a timeout
		// kills the whole group.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		r.spawned.Add(1)
		if err := cmd.Start(); err != nil {
			if stdinW != nil {
				stdinW.Close()
			}
			return -1, fmt.Errorf("starting %s exec: %w", filepath.Base(h.RuntimePath), err)
		}
		if stdinW != nil {
			// The command sees EOF when the client closes its stdin; the
			// copy may outlive the command until the stream closes.
			go func() { io.Copy(stdinW, o.stdin); stdinW.Close() }()
		}
	}

	// The command is killed when the timeout expires or the caller goes
	// away; why is remembered to tell the caller.
	done := make(chan struct{})
	var (
		killMu sync.Mutex
		killed error
		groups []int
	)
	kill := func(why error) {
		killMu.Lock()
		defer killMu.Unlock()
		if killed == nil {
			killed = why
			groups = killExec(pidFile, cmd.Process.Pid, done)
		}
	}
	if o.timeout > 0 {
		t := time.AfterFunc(o.timeout, func() {
			kill(fmt.Errorf("%w after %v: %s", ErrExecTimeout, o.timeout, strings.Join(o.cmd, " ")))
		})
		defer t.Stop()
	}
	stopCtx := context.AfterFunc(ctx, func() { kill(ctx.Err()) })
	werr := cmd.Wait()
	close(done)
	stopCtx()
	if o.tty {
		// Output still in the terminal is read until runc's side closes.
		copies.Wait()
	}
	killMu.Lock()
	why := killed
	// Set so that a late timer or cancellation does nothing.
	killed = context.Canceled
	killMu.Unlock()
	if why != nil {
		// SIGKILL is delivered asynchronously: runc may reap the command
		// before a child it forked has run its exit. The caller is told
		// the command was killed once nothing of it runs any more.
		waitGroupsExited(groups, killWait)
		return -1, why
	}
	var ee *exec.ExitError
	switch {
	case werr == nil:
		return 0, nil
	case errors.As(werr, &ee):
		if _, err := os.Stat(pidFile); err != nil {
			// runc failed before the command started: its error, not the
			// command's exit code.
			if !r.Alive(c) {
				return -1, fmt.Errorf("%w: %s", ErrNotRunning, c.ID)
			}
			return -1, fmt.Errorf("%s exec: %s", filepath.Base(h.RuntimePath), cleanRuntimeError(strings.TrimSpace(errTail.String())))
		}
		return int32(ee.ExitCode()), nil
	case errors.Is(werr, exec.ErrWaitDelay):
		// The command exited but something it left behind still holds
		// its output open; what was read is returned.
		return int32(cmd.ProcessState.ExitCode()), nil
	}
	return -1, fmt.Errorf("%s exec: %w", filepath.Base(h.RuntimePath), werr)
}

// killExec kills the exec'd command and what it started, but not runc:
// runc is the command's parent and must live to reap it (the
// container's init may reap nothing, and a zombie still shows in ps).
// Without a terminal the command and its children share runc's process
// group (runc runs in its own); with one, runc makes the command a
// session leader, so its group is killed once the pid file names it.
// While runc is still setting the process up there is no pid file yet;
// killing runc's group but runc stops that.
// It returns the process groups it signalled.
func killExec(pidFile string, runcPID int, done <-chan struct{}) []int {
	select {
	case <-done:
		// runc is reaped; its pid may be reused.
		return nil
	default:
	}
	// Twice: a process may fork while the first pass runs.
	for range 2 {
		for _, m := range groupMembers(runcPID) {
			if m.pid != runcPID {
				syscall.Kill(m.pid, syscall.SIGKILL)
			}
		}
	}
	groups := []int{runcPID}
	for {
		if pid, err := readPIDFile(pidFile); err == nil && pid > 0 {
			select {
			case <-done:
				// runc reaped the command; its pid may be reused.
				return groups
			default:
			}
			if pid != runcPID {
				syscall.Kill(-pid, syscall.SIGKILL)
				syscall.Kill(pid, syscall.SIGKILL)
				groups = append(groups, pid)
			}
			return groups
		}
		select {
		case <-done:
			return groups
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// setWinsize sets the terminal's size inside SyscallConn's Control, which
// holds the file open for the call: a resize arriving as the exec ends
// would otherwise ioctl a closed descriptor's number, which may already
// name another file. (pty.Setsize goes through Fd, which does not hold
// it, and switches the terminal to blocking mode.)
func setWinsize(f *os.File, sz TerminalSize) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Height, Col: sz.Width})
	}); err != nil {
		return err
	}
	return ioctlErr
}

// initialSize takes a size already queued on the resize channel, so that
// the terminal starts with the client's size.
func initialSize(ch <-chan TerminalSize) (TerminalSize, bool) {
	select {
	case sz, ok := <-ch:
		return sz, ok
	default:
		return TerminalSize{}, false
	}
}

// execFileBase names the process and pid files of one exec, in the
// container's bundle directory.
func execFileBase(c *Container) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return filepath.Join(c.Bundle, "exec-"+hex.EncodeToString(b[:])), nil
}

// writeExecProcess writes the process of an exec: the container's own
// process (user, capabilities, environment, cwd, rlimits, no_new_privs,
// AppArmor/SELinux labels) with cmd as its arguments.
func writeExecProcess(c *Container, path string, cmd []string, tty bool) error {
	b, err := os.ReadFile(filepath.Join(c.Bundle, "config.json"))
	if err != nil {
		return fmt.Errorf("reading the container's spec: %w", err)
	}
	var s struct {
		Process *rspec.Process `json:"process"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("parsing the container's spec: %w", err)
	}
	p := s.Process
	if p == nil {
		p = &rspec.Process{Cwd: "/"}
	}
	p.Args = cmd
	p.CommandLine = ""
	p.Terminal = tty
	p.ConsoleSize = nil
	out, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

// cappedBuffer keeps the first limit bytes written and discards the rest,
// never failing a write (the command must not see EPIPE because the
// daemon stopped keeping its output). It doubles its capacity, never past
// limit, so that a capped 16 MiB costs at most 16 MiB of garbage on the
// way (append's gentler growth for large slices makes several times
// that, and the daemon's peak RSS with it).
type cappedBuffer struct {
	buf   []byte
	limit int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.limit - len(b.buf)
	if room <= 0 {
		return len(p), nil
	}
	keep := p
	if len(keep) > room {
		keep = keep[:room]
	}
	if need := len(b.buf) + len(keep); need > cap(b.buf) {
		c := max(2*cap(b.buf), 4<<10, need)
		c = min(c, b.limit)
		nb := make([]byte, len(b.buf), c)
		copy(nb, b.buf)
		b.buf = nb
	}
	b.buf = append(b.buf, keep...)
	return len(p), nil
}

// tailBuffer keeps the last 4 KiB written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 4 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > tailMax {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
