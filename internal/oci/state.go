package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio/crio/internal/procstat"
	"github.com/crio/crio/internal/systemd"
)

// Exit reasons, as the kubelet expects them in ContainerStatus.reason.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
)

// ExitStatus is how a container ended.
type ExitStatus struct {
	Code       int32
	FinishedAt time.Time
	Reason     string
	Message    string
}

// ExitFile is where conmon writes the container's exit code.
func (r *Runtime) ExitFile(id string) string { return filepath.Join(r.opts.ExitsDir, id) }

// Exited says whether conmon has recorded the container's exit.
func (r *Runtime) Exited(c *Container) bool {
	_, err := os.Stat(r.ExitFile(c.ID))
	return err == nil
}

// ExitStatus reads the exit recorded by conmon. ok is false while the
// container has not exited. A container whose process and conmon are
// both gone without an exit file (conmon killed, host rebooted) is
// reported as exited with code 255 and a message saying so.
func (r *Runtime) ExitStatus(c *Container) (st ExitStatus, ok bool, err error) {
	b, err := os.ReadFile(r.ExitFile(c.ID))
	switch {
	case err == nil:
		s := strings.TrimSpace(string(b))
		if s == "" {
			// conmon is writing it; the monitor will be told again.
			return ExitStatus{}, false, nil
		}
		code, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return ExitStatus{}, false, fmt.Errorf("exit file of %s holds %q", c.ID, s)
		}
		st.Code = int32(code)
		if fi, err := os.Stat(r.ExitFile(c.ID)); err == nil {
			st.FinishedAt = fi.ModTime()
		}
	case errors.Is(err, os.ErrNotExist):
		if c.PID == 0 || r.Alive(c) || r.conmonAlive(c) {
			return ExitStatus{}, false, nil
		}
		return ExitStatus{Code: 255, FinishedAt: time.Now(), Reason: ReasonError,
			Message: "container process and its monitor are gone without recording an exit code"}, true, nil
	default:
		return ExitStatus{}, false, err
	}
	switch {
	case r.oomKilled(c, st.Code), st.Code == 128+int32(syscall.SIGKILL) && r.oom.fromParent(c):
		st.Reason = ReasonOOMKilled
	case st.Code == 0:
		st.Reason = ReasonCompleted
	default:
		st.Reason = ReasonError
	}
	return st, true, nil
}

// oomKilled looks at conmon's oom marker and the container's memory
// cgroup (still there until the runtime deletes the container).
func (r *Runtime) oomKilled(c *Container, code int32) bool {
	marker := filepath.Join(c.Bundle, "oom")
	if _, err := os.Stat(marker); err == nil {
		return true
	}
	if c.CgroupPath == "" {
		return false
	}
	// Under the systemd driver the scope's cgroup is gone as soon as its
	// last process is: systemd's record of the scope tells (runc delete
	// resets it, so this is asked first). The OOM killer kills with
	// SIGKILL, so no other exit is worth a D-Bus round trip.
	unit := path.Base(c.CgroupPath)
	if code == 128+int32(syscall.SIGKILL) && r.opts.SystemdCgroup && strings.HasSuffix(unit, ".scope") {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := systemd.ScopeResult(ctx, unit)
		cancel()
		if err != nil {
			r.log.Warn("asking systemd whether the container was OOM-killed", "id", c.ID, "error", err)
		}
		if res == "oom-kill" {
			if r.oom != nil {
				r.oom.record(c)
			}
			return true
		}
	}
	if r.oom != nil {
		// Through the watcher, so the parent's count gives this kill to
		// this container and not later to a sibling.
		r.oom.check(memoryEventsPath(r.oom.root, c.CgroupPath), c)
		_, err := os.Stat(marker)
		return err == nil
	}
	for _, f := range []string{
		filepath.Join("/sys/fs/cgroup/memory", c.CgroupPath, "memory.oom_control"),
		memoryEventsPath("/sys/fs/cgroup", c.CgroupPath),
	} {
		if n, _ := oomKills(f); n > 0 {
			return true
		}
	}
	return false
}

// Alive says whether the container's init process still runs (and is the
// same process, not a recycled pid).
func (r *Runtime) Alive(c *Container) bool {
	return procstat.Alive(c.PID, c.PIDStartTime)
}

// conmonAlive says whether the container's conmon still runs.
func (r *Runtime) conmonAlive(c *Container) bool {
	pid, err := readPIDFile(filepath.Join(c.Bundle, "conmon.pid"))
	if err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(c.ID))
}

// ConmonPID returns conmon's pid from its pid file.
func (r *Runtime) ConmonPID(c *Container) (int, error) {
	return readPIDFile(filepath.Join(c.Bundle, "conmon.pid"))
}

func readPIDFile(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// Signal parses a stop signal name from an image ("SIGINT", "INT", "2").
func Signal(name string) (syscall.Signal, error) {
	if name == "" {
		return syscall.SIGTERM, nil
	}
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	for i := 1; i < 65; i++ {
		if unix.SignalName(syscall.Signal(i)) == n {
			return syscall.Signal(i), nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q", name)
}
