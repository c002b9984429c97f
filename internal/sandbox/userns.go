package sandbox

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/procstat"
)

// ValidateUserNS checks a pod's user namespace request and returns the
// mappings; nil means the pod runs in the host's user namespace. The
// request is the kubelet's (or anyone's with the socket): each side gets
// exactly one mapping, which maps container ID 0 (the pod's root), like
// the kubelet always sends, so that the pod's root is a real, contiguous
// range of host IDs that idmapped mounts can shift to.
func ValidateUserNS(u *runtimeapi.UserNamespace, hostNet, hostIPC, hostPID bool) (uids, gids []syscall.SysProcIDMap, err error) {
	if u == nil {
		// The proto calls a nil struct POD mode for old kubelets, which
		// never asked for a user namespace: run in the host's.
		return nil, nil, nil
	}
	switch u.GetMode() {
	case runtimeapi.NamespaceMode_NODE:
		if len(u.GetUids()) > 0 || len(u.GetGids()) > 0 {
			return nil, nil, fmt.Errorf("user namespace mode NODE takes no uid or gid mappings")
		}
		return nil, nil, nil
	case runtimeapi.NamespaceMode_POD:
	default:
		return nil, nil, fmt.Errorf("user namespace mode %s is not supported for a pod (only POD or NODE)", u.GetMode())
	}
	if hostNet || hostIPC || hostPID {
		return nil, nil, fmt.Errorf("a pod with its own user namespace cannot share the host's network, IPC or PID namespace")
	}
	conv := func(what string, in []*runtimeapi.IDMapping) ([]syscall.SysProcIDMap, error) {
		if len(in) != 1 || in[0] == nil {
			return nil, fmt.Errorf("user namespace: exactly one %s mapping is supported, got %d", what, len(in))
		}
		m := in[0]
		if err := CheckIDMapping(m); err != nil {
			return nil, fmt.Errorf("user namespace: %s %w", what, err)
		}
		if m.GetContainerId() != 0 {
			return nil, fmt.Errorf("user namespace: %s mapping %d:%d:%d does not map container ID 0 (the pod's root)", what, m.GetContainerId(), m.GetHostId(), m.GetLength())
		}
		return []syscall.SysProcIDMap{{ContainerID: int(m.GetContainerId()), HostID: int(m.GetHostId()), Size: int(m.GetLength())}}, nil
	}
	if uids, err = conv("uid", u.GetUids()); err != nil {
		return nil, nil, err
	}
	if gids, err = conv("gid", u.GetGids()); err != nil {
		return nil, nil, err
	}
	return uids, gids, nil
}

// CheckIDMapping refuses an empty mapping or one whose container or host
// range runs past the 32-bit ID space.
func CheckIDMapping(m *runtimeapi.IDMapping) error {
	if m.GetLength() == 0 || uint64(m.GetHostId())+uint64(m.GetLength()) > 1<<32 || uint64(m.GetContainerId())+uint64(m.GetLength()) > 1<<32 {
		return fmt.Errorf("mapping %d:%d:%d (container:host:length) is empty or overflows", m.GetContainerId(), m.GetHostId(), m.GetLength())
	}
	return nil
}

// pinWithUserNS makes the pod's namespaces inside a new user namespace.
// A multi-threaded process cannot unshare a user namespace, so a child
// ("crio pause") is cloned into all of them at once, which makes the
// user namespace own the others; they are pinned from /proc/CHILD/ns.
// The child then stays as the infra process if the pod wants one, or is
// killed. Hostname, lo and sysctls are set from a thread that joins the
// pinned namespaces.
func pinWithUserNS(o PinOptions) (p *Pinned, err error) {
	p = &Pinned{}
	defer func() {
		if err != nil {
			_ = p.Release()
			p = nil
		}
	}()
	flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
	if o.Infra {
		flags |= unix.CLONE_NEWPID
	}
	binary := o.InfraBinary
	if binary == "" {
		// The magic link skips the path's directories, which the
		// namespace's root may not be allowed to search.
		binary = "/proc/self/exe"
	}
	cmd := exec.Command(binary, "pause")
	cmd.Dir = "/"
	cmd.Env = infraEnv(o)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags, Setsid: true,
		UidMappings: o.UIDMappings, GidMappings: o.GIDMappings, GidMappingsEnableSetgroups: true,
	}
	if err := cmd.Start(); err != nil {
		return p, fmt.Errorf("starting user namespace holder: %w", err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	p.InfraPID = pid
	p.InfraStartTime, _ = procstat.StartTime(pid)

	pin := func(kind, dirName string, dst *string) error {
		return pinNamespace(kind, fmt.Sprintf("/proc/%d/ns/%s", pid, kind), filepath.Join(o.Dir, dirName, o.ID), dst)
	}
	for _, n := range []struct {
		kind, dir string
		dst       *string
	}{{"user", "userns", &p.User}, {"net", "netns", &p.Net}, {"ipc", "ipcns", &p.IPC}, {"uts", "utsns", &p.UTS}} {
		if err := pin(n.kind, n.dir, n.dst); err != nil {
			return p, err
		}
	}
	if err := inNamespaces(p, func() error {
		if o.Hostname != "" {
			if err := unix.Sethostname([]byte(o.Hostname)); err != nil {
				return fmt.Errorf("setting hostname %q: %w", o.Hostname, err)
			}
		}
		if err := loopbackUp(); err != nil {
			return err
		}
		var err error
		p.DeferredSysctls, err = applySysctls(o.Sysctls)
		return err
	}); err != nil {
		return p, err
	}
	if !o.Infra {
		if err := KillInfra(p.InfraPID, p.InfraStartTime); err != nil {
			return p, err
		}
		p.InfraPID, p.InfraStartTime = 0, 0
	}
	return p, nil
}

// inNetNamespace runs f on a fresh thread joined to the network namespace
// pinned at netns; the thread is then discarded.
func inNetNamespace(netns string, f func() error) error {
	return inNamespaces(&Pinned{Net: netns}, f)
}

// inNamespaces runs f on a fresh thread joined to p's UTS, network and IPC
// namespaces (those that are set); the thread is then discarded.
func inNamespaces(p *Pinned, f func() error) error {
	errc := make(chan error, 1)
	var work func()
	work = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			go work() // never leave the main thread in a pod's namespaces
			return
		}
		for _, n := range []struct {
			path string
			typ  int
		}{{p.UTS, unix.CLONE_NEWUTS}, {p.Net, unix.CLONE_NEWNET}, {p.IPC, unix.CLONE_NEWIPC}} {
			if n.path == "" {
				continue
			}
			fd, err := unix.Open(n.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				errc <- fmt.Errorf("joining %s: %w", n.path, err)
				return
			}
			err = unix.Setns(fd, n.typ)
			unix.Close(fd)
			if err != nil {
				errc <- fmt.Errorf("joining %s: %w", n.path, err)
				return
			}
		}
		errc <- f()
	}
	go work()
	return <-errc
}
