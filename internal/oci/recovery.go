package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/systemd"
)

// What restart recovery needs from the runtime: whether a container's
// monitor lives, what the runtime says of a container whose start may or
// may not have happened, and how to free a container nothing records.

// MonitorAlive says whether the container's conmon still runs.
func (r *Runtime) MonitorAlive(c *Container) bool { return r.conmonAlive(c) }

// RuntimeStatus asks the runtime for the container's status ("created",
// "running", "stopped", ...). It spawns the runtime: for restart
// recovery of a container whose start was cut short, not for status.
func (r *Runtime) RuntimeStatus(ctx context.Context, c *Container) (string, error) {
	h, _, err := r.Handler(c.Handler)
	if err != nil {
		return "", err
	}
	out, err := r.runtime(ctx, h, "state", c.ID)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", fmt.Errorf("%s state %s: %w", filepath.Base(h.RuntimePath), c.ID, err)
	}
	return st.Status, nil
}

// KillOrphan kills a container's process when its monitor is gone: with
// nothing to hold its stdio or record its exit, it would run unseen. It
// waits up to d for the process to go.
func (r *Runtime) KillOrphan(c *Container, d time.Duration) error {
	if !r.Alive(c) {
		return nil
	}
	r.oom.sigkilled(c)
	if err := unix.Kill(c.PID, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing container process %d: %w", c.PID, err)
	}
	deadline := time.Now().Add(d)
	for r.Alive(c) {
		if time.Now().After(deadline) {
			return fmt.Errorf("container process %d still runs %s after SIGKILL", c.PID, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Discard frees whatever a container cut short at creation may hold:
// its conmon (found by the pid file in the bundle and checked by its
// command line), the runtime's state and process, and conmon's files.
// Everything absent is skipped.
func (r *Runtime) Discard(ctx context.Context, c *Container) error {
	if pid, err := readPIDFile(filepath.Join(c.Bundle, "conmon.pid")); err == nil && pid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(b, []byte(c.ID)) {
			// conmon leads its own process group, which holds the runtime
			// it runs until the container's init makes a session of its
			// own. A `runtime create` left running would go on after the
			// delete below and, killed by SIGPIPE on conmon's closed
			// pipes, leave its state dir behind; it goes with conmon.
			if pgid, err := unix.Getpgid(pid); err == nil && pgid == pid {
				_ = unix.Kill(-pid, unix.SIGKILL)
				waitGroupsExited([]int{pid}, killWait)
			} else {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	if err := r.Delete(ctx, c); err != nil {
		return err
	}
	// A runtime killed mid-create (conmon gone, its pipes closed) may
	// have made the container's cgroup, and even started its init,
	// without writing the state delete works from.
	return removeSpecCgroup(ctx, c.Bundle)
}

// removeSpecCgroup kills what is left in the cgroup named in the bundle's
// config.json and removes it from every hierarchy.
func removeSpecCgroup(ctx context.Context, bundle string) error {
	var spec struct {
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil || json.Unmarshal(b, &spec) != nil {
		return nil // no spec: the runtime was never started
	}
	rel := spec.Linux.CgroupsPath
	if rel == "" {
		return nil
	}
	if parts := strings.Split(rel, ":"); len(parts) == 3 {
		// systemd driver: stopping the scope kills what is in it, and
		// systemd removes its cgroup.
		if parts[2] == "" || strings.HasSuffix(parts[2], ".slice") {
			return nil
		}
		prefix := parts[1]
		if prefix == "" {
			return systemd.StopUnit(ctx, parts[2]+".scope")
		}
		return systemd.StopUnit(ctx, systemd.ScopeName(prefix, parts[2]))
	}
	hs, err := cgroups.Hierarchies()
	if err != nil {
		return err
	}
	var dirs []string
	for _, h := range hs {
		dir := filepath.Join(h, rel)
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, p := range strings.Fields(string(procs)) {
			if pid, err := strconv.Atoi(p); err == nil && pid > 0 {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		dirs = append(dirs, dir)
	}
	return cgroups.Remove(dirs)
}
