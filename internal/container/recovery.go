package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/leakcheck"
	"github.com/crio/crio/internal/oci"
	"github.com/crio/crio/internal/store"
)

// createFile, in a container's directory, names the runtime handler
// before conmon is started: a container whose creation a crash cut short
// has no state file, and its runtime state must still be deleted.
const createFile = "create.json"

type createRecord struct {
	Handler string `json:"handler"`
}

// monitorSweepPeriod is how often running containers' monitors are
// checked for having died without recording an exit.
const monitorSweepPeriod = 2 * time.Second

// restore reloads containers from their state files after a restart and
// reconciles each with what happened while the daemon was down: exits
// conmon recorded, a start that happened but was not recorded, a monitor
// that died, a pod sandbox that is gone. A container that cannot be
// served (no readable state file, no sandbox) is freed: runtime state,
// conmon, rootfs, bundle.
func (m *Manager) restore() error {
	all, err := m.store.Containers()
	if err != nil {
		return fmt.Errorf("listing storage containers: %w", err)
	}
	var loaded []*store.Container
	// Freeing a container spawns the runtime; reconciling reads a few
	// files per container, and asks the runtime only when a start is in
	// doubt. Both in parallel, a few at a time.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	async := func(f func()) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f()
		}()
	}
	for _, sc := range all {
		if sc.Metadata != storageMetadata {
			continue
		}
		dir, err := m.store.ContainerDirectory(sc.ID)
		if err != nil {
			continue
		}
		c, err := store.LoadContainer(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				m.log.Warn("removing a container left half-created", "id", sc.ID)
			} else {
				m.log.Error("removing a container whose state file is unreadable", "id", sc.ID, "error", err)
			}
			async(func() { m.discard(sc.ID, dir) })
			continue
		}
		if _, err := m.sandboxes(c.SandboxID); err != nil {
			m.log.Warn("removing a container whose pod sandbox is gone", "id", c.ID, "sandbox", c.SandboxID)
			async(func() { m.discardContainer(c) })
			continue
		}
		m.Containers.Add(c.ID, c)
		m.Containers.Names.Add(c.Name, c.ID)
		loaded = append(loaded, c)
	}
	for _, c := range loaded {
		if c.State() != runtimeapi.ContainerState_CONTAINER_EXITED {
			async(func() { m.reconcile(c) })
		}
	}
	wg.Wait()
	// Image volumes of containers freed above, or never recorded.
	m.deleteImageVolumes(func(owner string) bool {
		c, err := m.Containers.Get(owner)
		return err != nil || c.ID != owner
	})
	m.sweepOrphans()
	if len(loaded) > 0 {
		m.log.Info("restored containers", "count", len(loaded))
	}
	return nil
}

// reconcile brings a restored container's state up to date.
func (m *Manager) reconcile(c *store.Container) {
	if c.State() == runtimeapi.ContainerState_CONTAINER_CREATED && m.rt.Alive(&c.Runtime) && !m.rt.Exited(&c.Runtime) {
		// StartContainer may have started it and died before recording
		// so; only the runtime knows.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := m.rt.RuntimeStatus(ctx, &c.Runtime)
		cancel()
		switch {
		case err != nil:
			m.log.Warn("asking the runtime whether a created container started", "id", c.ID, "error", err)
		case st == "running":
			m.log.Info("container was started before the restart; recording it", "id", c.ID)
			m.exitMu.Lock()
			c.SetStarted(time.Now())
			m.exitMu.Unlock()
			if err := c.Save(); err != nil {
				m.log.Error("saving container state", "id", c.ID, "error", err)
			}
		}
	}
	m.checkMonitor(c)
	m.recordExit(c)
	if !m.rt.Exited(&c.Runtime) {
		m.rt.WatchOOM(&c.Runtime)
	}
}

// checkMonitor kills a container whose conmon died without recording an
// exit: nothing holds its stdio or would record its exit, so it would run
// unseen and never be reported. recordExit then reports it exited.
func (m *Manager) checkMonitor(c *store.Container) {
	if c.Runtime.PID <= 0 || m.rt.Exited(&c.Runtime) || m.rt.MonitorAlive(&c.Runtime) {
		return
	}
	if m.rt.Alive(&c.Runtime) {
		m.log.Warn("container monitor (conmon) is gone; killing the container it left", "id", c.ID, "pid", c.Runtime.PID)
		if err := m.rt.KillOrphan(&c.Runtime, 5*time.Second); err != nil {
			m.log.Error("killing a container without monitor", "id", c.ID, "error", err)
			return
		}
	}
	m.recordExit(c)
}

// sweepMonitors checks, every period, that each running container's
// conmon lives (conmon killed by hand, by the OOM killer).
func (m *Manager) sweepMonitors(period time.Duration) {
	defer close(m.swept)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-m.stopSweep:
			return
		case <-t.C:
		}
		for _, c := range m.Containers.List() {
			if c.State() == runtimeapi.ContainerState_CONTAINER_RUNNING {
				m.checkMonitor(c)
			}
		}
	}
}

// discard frees a container known only by its storage: no state file to
// say more than its ID.
func (m *Manager) discard(id, dir string) {
	var rec createRecord
	_ = store.ReadJSON(filepath.Join(dir, createFile), &rec)
	bundle, err := m.store.ContainerRunDirectory(id)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := m.rt.Discard(ctx, &oci.Container{ID: id, Handler: rec.Handler, Bundle: bundle}); err != nil {
			m.log.Warn("removing a half-created container from the runtime", "id", id, "error", err)
		}
		cancel()
	}
	m.deleteStorage(id)
}

// discardContainer frees a restored container that cannot be served.
func (m *Manager) discardContainer(c *store.Container) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.rt.Discard(ctx, &c.Runtime); err != nil {
		m.log.Warn("removing a container from the runtime", "id", c.ID, "error", err)
	}
	m.unmountImageVolumes(c.ID, c.Mounts)
	m.deleteStorage(c.ID)
	os.RemoveAll(c.Dir)
	os.RemoveAll(c.Runtime.Bundle)
}

// sweepOrphans frees the monitors and runtime state of containers that
// no storage container records any more: removed behind the daemon's
// back, or by the storage repair after an unclean shutdown. Only conmons
// writing to this daemon's exits dir and runtime containers whose bundle
// lies in its storage are considered.
func (m *Manager) sweepOrphans() {
	cfg := m.cfg.Get()
	known := func(id string) bool {
		c, err := m.Containers.Get(id)
		return err == nil && c.ID == id
	}
	for id, pid := range leakcheck.Conmons(cfg.Runtime.ContainerExitsDir) {
		if !known(id) {
			m.log.Warn("killing the monitor of a container no state records", "id", id, "pid", pid)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	seen := map[string]bool{}
	for name := range cfg.Runtime.Runtimes {
		h, err := oci.ResolveHandler(cfg, name)
		if err != nil || seen[h.RuntimeRoot] {
			continue
		}
		seen[h.RuntimeRoot] = true
		for _, rc := range leakcheck.RuntimeContainers([]string{h.RuntimeRoot}, m.store.GraphRoot(), m.store.RunRoot()) {
			if known(rc.ID) {
				continue
			}
			m.log.Warn("removing a runtime container no state records", "id", rc.ID, "handler", name)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := m.rt.Discard(ctx, &oci.Container{ID: rc.ID, Handler: name, Bundle: rc.Bundle}); err != nil {
				m.log.Warn("removing a runtime container no state records", "id", rc.ID, "error", err)
			}
			cancel()
		}
	}
}
