package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/procstat"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/store"
)

// restoreSandboxes loads the sandboxes a previous daemon left, marks those
// whose namespaces or infra process are gone (a reboot, a kill) as not
// ready, and cleans up sandboxes whose RunPodSandbox never finished.
func (s *Server) restoreSandboxes() error {
	loaded, bad, err := store.LoadSandboxes(s.sandboxRoot)
	if err != nil {
		return err
	}
	for _, sb := range loaded {
		if sb.State() == runtimeapi.PodSandboxState_SANDBOX_READY && !sandboxIntact(sb) {
			s.sandboxLog(sb).Warn("pod sandbox lost its namespaces or infra process; marking it not ready")
			sb.SetState(runtimeapi.PodSandboxState_SANDBOX_NOTREADY)
			if err := sb.Save(); err != nil {
				s.sandboxLog(sb).Error("saving state", "error", err)
			}
		}
		s.sandboxes.Add(sb.ID, sb)
		s.sandboxes.Names.Add(sb.Name, sb.ID)
	}
	nsDir := s.cfg.Get().Runtime.NamespacesDir
	var infra []sandbox.InfraProcess
	if len(bad) > 0 {
		infra = sandbox.FindInfra(nsDir)
	}
	// Each clean-up spawns CNI plugins: in parallel, a few at a time.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for dir, why := range bad {
		if errors.Is(why, os.ErrNotExist) {
			s.log.Warn("cleaning up a sandbox whose creation never finished", "dir", dir)
		} else {
			// A state file that cannot be read (truncated, corrupt): the
			// sandbox cannot be served; free what it holds.
			s.log.Error("cleaning up a sandbox whose state file is unreadable", "dir", dir, "error", why)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.cleanupPartialSandbox(dir, infra)
		}()
	}
	wg.Wait()
	s.removeStalePins(nsDir)
	s.detachStaleNetworks()
	if len(loaded) > 0 {
		s.log.Info("restored pod sandboxes", "count", len(loaded))
	}
	return nil
}

// sandboxIntact reports whether a ready sandbox's namespaces and infra
// process still exist.
func sandboxIntact(sb *store.Sandbox) bool {
	for _, p := range []string{sb.NetNS, sb.IPCNS, sb.UTSNS} {
		if p == "" {
			continue
		}
		if !sandbox.IsNamespace(p) {
			return false // gone, or a file no longer mounted (a reboot)
		}
	}
	return sb.InfraPID == 0 || procstat.Alive(sb.InfraPID, sb.InfraStartTime)
}

// cleanupPartialSandbox frees what a RunPodSandbox cut short by a crash
// may have made: its CNI attachment, namespace pins, shm mount and dir.
func (s *Server) cleanupPartialSandbox(dir string, infra []sandbox.InfraProcess) {
	id := filepath.Base(dir)
	ctx := context.Background()
	// The infra process may have started before any record of it was
	// written: find it by the sandbox ID in its environment.
	for _, p := range infra {
		if p.SandboxID == id {
			if err := sandbox.KillInfra(p.PID, p.StartTime); err != nil {
				s.log.Warn("killing the infra process of an unfinished sandbox", "error", err)
			}
		}
	}
	if err := s.detachNetwork(ctx, dir); err != nil {
		s.log.Warn("CNI DEL of an unfinished sandbox failed", "dir", dir, "error", err)
	}
	var setup partialSetup
	if err := store.ReadJSON(filepath.Join(dir, setupFile), &setup); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("unreadable set-up record of an unfinished sandbox", "dir", dir, "error", err)
	}
	if sb, err := store.LoadSandbox(dir); err == nil {
		// Unreachable for a dir in bad, but a state file that loads
		// names more than the set-up record.
		setup.CgroupsCreated = sb.CgroupsCreated
	}
	if setup.Pins != nil {
		if err := setup.Pins.Release(); err != nil { // kills the infra process, unpins
			s.log.Warn("releasing the namespaces of an unfinished sandbox", "error", err)
		}
	}
	// The pins may exist without the record if the crash came between
	// the two.
	nsDir := s.cfg.Get().Runtime.NamespacesDir
	for _, kind := range []string{"netns", "ipcns", "utsns", "userns"} {
		if err := sandbox.Unpin(filepath.Join(nsDir, kind, id)); err != nil {
			s.log.Warn("unpinning namespace of an unfinished sandbox", "error", err)
		}
	}
	if err := sandbox.UnmountShm(filepath.Join(dir, "shm")); err != nil {
		s.log.Warn("unmounting shm of an unfinished sandbox", "error", err)
	}
	if err := cgroups.Remove(setup.CgroupsCreated); err != nil {
		s.log.Warn("removing the cgroup of an unfinished sandbox", "error", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		s.log.Warn("removing an unfinished sandbox dir", "dir", dir, "error", err)
	}
}

// removeStalePins unpins namespaces whose sandbox is unknown: a
// RemovePodSandbox or a clean-up cut short between unpinning and removing
// the state dir, or pins left by a sandbox dir removed behind our back.
func (s *Server) removeStalePins(nsDir string) {
	for _, kind := range []string{"netns", "ipcns", "utsns", "userns"} {
		entries, err := os.ReadDir(filepath.Join(nsDir, kind))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if _, err := s.sandboxes.Get(e.Name()); err == nil && len(e.Name()) == 64 {
				continue
			}
			if _, err := os.Stat(filepath.Join(s.sandboxRoot, e.Name())); err == nil {
				continue // a sandbox being set up (not at start-up, but be safe)
			}
			p := filepath.Join(nsDir, kind, e.Name())
			s.log.Warn("removing a namespace pin of no known sandbox", "pin", p)
			if err := sandbox.Unpin(p); err != nil {
				s.log.Warn("unpinning a stale namespace", "pin", p, "error", err)
			}
		}
	}
}

// detachStaleNetworks runs CNI DEL for attachments kept in the persistent
// root whose sandbox is gone: after a reboot wiped the run root, the
// leases the IPAM plugin keeps on disk would otherwise never be freed.
func (s *Server) detachStaleNetworks() {
	dir := filepath.Dir(s.keptAttachment("x"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if _, err := s.sandboxes.Get(id); err == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.sandboxRoot, id)); err == nil {
			continue
		}
		s.log.Warn("detaching the network of a pod sandbox that no longer exists (node reboot?)", "sandbox", id)
		if err := s.detachNetwork(context.Background(), filepath.Join(s.sandboxRoot, id)); err != nil {
			s.log.Warn("CNI DEL of a vanished sandbox failed", "sandbox", id, "error", err)
		}
	}
}
