package server

import (
	"context"
	"os"
	"path/filepath"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
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
	for dir, why := range bad {
		s.log.Warn("cleaning up a sandbox whose creation never finished", "dir", dir, "reason", why)
		s.cleanupPartialSandbox(dir)
	}
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
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return sb.InfraPID == 0 || sandbox.InfraAlive(sb.InfraPID, sb.InfraStartTime)
}

// cleanupPartialSandbox frees what a RunPodSandbox cut short by a crash
// may have made: its CNI attachment, namespace pins, shm mount and dir.
func (s *Server) cleanupPartialSandbox(dir string) {
	id := filepath.Base(dir)
	ctx := context.Background()
	if err := s.detachNetwork(ctx, dir); err != nil {
		s.log.Warn("CNI DEL of an unfinished sandbox failed", "dir", dir, "error", err)
	}
	var setup partialSetup
	if err := store.ReadJSON(filepath.Join(dir, setupFile), &setup); err == nil && setup.Pins != nil {
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
