package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio/crio/internal/procstat"
)

// PinOptions say which namespaces a pod gets and what is set in them.
type PinOptions struct {
	// Dir is [crio.runtime] namespaces_dir; pins go in Dir/{netns,ipcns,utsns}/ID.
	Dir string
	ID  string
	// Net, IPC and UTS ask for a new namespace of that kind; false means
	// the pod shares the host's.
	Net, IPC, UTS bool
	// Hostname is set in the new UTS namespace.
	Hostname string
	// Sysctls are applied inside the new namespaces.
	Sysctls []Sysctl
	// Infra starts the infra process in a new PID namespace joined to the
	// pod's other namespaces.
	Infra bool
	// InfraBinary is the executable run as "BINARY pause"; empty means
	// this process's own binary.
	InfraBinary string
	// UIDMappings and GIDMappings, when set, put the pod in a new user
	// namespace that owns its other namespaces.
	UIDMappings, GIDMappings []syscall.SysProcIDMap
}

// Pinned is what Pin made.
type Pinned struct {
	Net, IPC, UTS  string // pin paths; "" for a host namespace
	User           string // user namespace pin; "" for none
	InfraPID       int
	InfraStartTime uint64
	// DeferredSysctls wait for the pod's interfaces; see
	// ApplyDeferredSysctls.
	DeferredSysctls []Sysctl `json:"-"`
}

// Pin creates the pod's namespaces and pins them by bind-mounting their
// nsfs files, so no process has to live to hold them. It works on a
// fresh OS thread: unshare there, set the hostname and sysctls, bind-mount
// /proc/<tid>/ns/*, and start the infra process from that thread so it
// inherits the namespaces. The thread is never unlocked, so the Go runtime
// discards it instead of running other goroutines in the pod's namespaces.
// On error nothing is left behind.
func Pin(o PinOptions) (*Pinned, error) {
	if len(o.UIDMappings) > 0 {
		return pinWithUserNS(o)
	}
	if !o.Net && !o.IPC && !o.UTS && !o.Infra && len(o.Sysctls) == 0 {
		return &Pinned{}, nil // all host namespaces: no thread to spend
	}
	type result struct {
		p   *Pinned
		err error
	}
	ch := make(chan result, 1)
	var work func()
	work = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread is never discarded (the runtime parks it
			// instead), so it would stay in the pod's namespaces and keep
			// them alive. Move to another thread: while this goroutine
			// holds the main thread locked, the new one cannot get it.
			go work()
			return
		}
		// No UnlockOSThread: see above.
		p, err := pinOnThread(o)
		ch <- result{p, err}
	}
	go work()
	r := <-ch
	return r.p, r.err
}

func pinOnThread(o PinOptions) (p *Pinned, err error) {
	p = &Pinned{}
	defer func() {
		if err != nil {
			_ = p.Release()
			p = nil
		}
	}()
	var flags int
	if o.Net {
		flags |= unix.CLONE_NEWNET
	}
	if o.IPC {
		flags |= unix.CLONE_NEWIPC
	}
	if o.UTS {
		flags |= unix.CLONE_NEWUTS
	}
	if flags != 0 {
		if err := unix.Unshare(flags); err != nil {
			return p, fmt.Errorf("creating namespaces: unshare: %w", err)
		}
	}
	if o.UTS && o.Hostname != "" {
		if err := unix.Sethostname([]byte(o.Hostname)); err != nil {
			return p, fmt.Errorf("setting hostname %q: %w", o.Hostname, err)
		}
	}
	tid := unix.Gettid()
	pin := func(kind, dirName string, want bool, dst *string) error {
		if !want {
			return nil
		}
		return pinNamespace(kind, fmt.Sprintf("/proc/self/task/%d/ns/%s", tid, kind), filepath.Join(o.Dir, dirName, o.ID), dst)
	}
	if err := pin("net", "netns", o.Net, &p.Net); err != nil {
		return p, err
	}
	if err := pin("ipc", "ipcns", o.IPC, &p.IPC); err != nil {
		return p, err
	}
	if err := pin("uts", "utsns", o.UTS, &p.UTS); err != nil {
		return p, err
	}
	if o.Net {
		// Bring up lo even when the CNI config has no loopback plugin.
		if err := loopbackUp(); err != nil {
			return p, err
		}
	}
	if p.DeferredSysctls, err = applySysctls(o.Sysctls); err != nil {
		return p, err
	}
	if o.Infra {
		pid, err := startInfra(o.InfraBinary, infraEnv(o))
		if err != nil {
			return p, err
		}
		p.InfraPID = pid
		p.InfraStartTime, _ = procstat.StartTime(pid)
	}
	return p, nil
}

// loopbackUp sets lo up in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	return nil
}

// startInfra starts "BINARY pause" (by default crio-pause, see
// defaultInfra) in a new PID namespace, in its own
// session so that it outlives the daemon. It inherits the calling
// thread's namespaces, hence runs on the pinning thread.
func startInfra(binary string, env []string) (int, error) {
	argv := []string{binary, "pause"}
	if binary == "" {
		argv = defaultInfra()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting infra process: %w", err)
	}
	pid := cmd.Process.Pid
	// Reap it when it dies while this daemon lives; after a restart init
	// (or a subreaper) does.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}

// Release unmounts and removes the pins. Releasing twice is fine.
func (p *Pinned) Release() error {
	var errs []error
	if p.InfraPID != 0 {
		if err := KillInfra(p.InfraPID, p.InfraStartTime); err != nil {
			errs = append(errs, err)
		}
	}
	for _, path := range []string{p.Net, p.IPC, p.UTS, p.User} {
		if err := Unpin(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Unpin unmounts a namespace pin and removes its file; an absent pin is
// not an error.
func Unpin(path string) error {
	if path == "" {
		return nil
	}
	if err := unmount(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing namespace pin: %w", err)
	}
	return nil
}

// KillInfra kills the infra process if pid is still it (same start time);
// all processes of the pod's PID namespace die with it.
func KillInfra(pid int, startTime uint64) error {
	if !procstat.Alive(pid, startTime) {
		return nil
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing infra process %d: %w", pid, err)
	}
	// Wait until it is gone (reaped), so that its PID namespace, with the
	// containers in it, and its cgroup membership are gone too.
	deadline := time.Now().Add(5 * time.Second)
	for procstat.Alive(pid, startTime) {
		if time.Now().After(deadline) {
			return fmt.Errorf("infra process %d still exists 5s after SIGKILL", pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// pinNamespace bind-mounts the namespace file src onto a new file at path,
// so that the namespace outlives every process in it. It sets *dst to path
// as soon as the file exists, so that Release removes it even when the
// mount fails.
func pinNamespace(kind, src, path string, dst *string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating namespace dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("creating %s pin: %w", kind, err)
	}
	f.Close()
	*dst = path
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("pinning %s namespace on %s: %w", kind, path, err)
	}
	return nil
}
