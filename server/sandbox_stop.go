package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/failpoint"
	"github.com/crio/crio/internal/network"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/store"
)

// StopPodSandbox stops the pod's containers and infra process and frees
// its network (CNI DEL) and /dev/shm. The proto makes it idempotent: a
// stopped or unknown sandbox is not an error.
func (s *Server) StopPodSandbox(ctx context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	sb, err := s.getSandbox(req.GetPodSandboxId())
	if status.Code(err) == codes.NotFound {
		// "If there are any running containers in the sandbox, they must be
		// forcibly terminated ... must not return an error if all relevant
		// resources have already been reclaimed": nothing is left to stop.
		return &runtimeapi.StopPodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	sb.Lock()
	defer sb.Unlock()
	if err := s.stopSandbox(ctx, sb); err != nil {
		return nil, sandboxError("StopPodSandbox "+sb.ID, err)
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// stopSandbox does the work of StopPodSandbox; the caller holds sb.Lock.
// Each step is idempotent so a retry after a partial failure finishes.
func (s *Server) stopSandbox(ctx context.Context, sb *store.Sandbox) error {
	log := s.sandboxLog(sb)
	if err := s.podContainers.StopPodContainers(ctx, sb); err != nil {
		return fmt.Errorf("stopping the pod's containers: %w", err)
	}
	// Plugins hear of the stop once, with the containers stopped and the
	// pod still whole; a plugin's error fails the RPC, whose retry asks
	// again.
	if sb.State() == runtimeapi.PodSandboxState_SANDBOX_READY {
		if err := s.nri.StopPodSandbox(ctx, sb); err != nil {
			return err
		}
	}
	if sb.InfraPID != 0 {
		if err := sandbox.KillInfra(sb.InfraPID, sb.InfraStartTime); err != nil {
			return err
		}
	}
	if err := s.detachNetwork(ctx, sb.Dir); err != nil {
		return err
	}
	failpoint.Hit(failpoint.SandboxStopAfterCNIDel)
	if sb.ShmPath != "" && sb.ShmPath != "/dev/shm" {
		if err := sandbox.UnmountShm(sb.ShmPath); err != nil {
			return err
		}
	}
	if sb.State() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		sb.SetState(runtimeapi.PodSandboxState_SANDBOX_NOTREADY)
		if err := sb.Save(); err != nil {
			return err
		}
		s.publishSandboxEvent(sb, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
		log.Info("pod sandbox stopped")
	}
	return nil
}

// detachNetwork runs CNI DEL with the arguments saved at ADD, then forgets
// them, so that a second stop does not DEL again. The record next to the
// sandbox is used, else its copy in the persistent root (the sandbox dir
// of a partial set-up, or a reboot).
func (s *Server) detachNetwork(ctx context.Context, dir string) error {
	path := filepath.Join(dir, networkFile)
	kept := s.keptAttachment(filepath.Base(dir))
	att, err := network.LoadAttachment(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error("unreadable CNI attachment record; trying its copy", "file", path, "error", err)
	}
	if err != nil {
		att, err = network.LoadAttachment(kept)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		// Nothing says how to DEL: an unremovable pod would be worse
		// than a lease the CNI plugin's own garbage collection frees.
		s.log.Error("no readable CNI attachment record: the pod's network is not detached", "file", kept, "error", err)
		os.Remove(path)
		os.Remove(kept)
		return nil
	}
	if err := s.delAttachment(ctx, att); err != nil {
		return err
	}
	for _, p := range []string{path, kept} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// delAttachment runs CNI DEL for att, without the network namespace when
// it is gone.
func (s *Server) delAttachment(ctx context.Context, att *network.Attachment) error {
	if att.NetNS != "" && !sandbox.IsNamespace(att.NetNS) {
		// The pin is gone or no longer a namespace (a reboot, an unmount
		// behind our back): DEL without one, as the CNI spec allows, so
		// that IPAM still frees the address and the pod stays removable.
		s.log.Warn("pod network namespace is gone; CNI DEL without it", "netns", att.NetNS)
		att.NetNS = ""
	}
	return s.net.Del(context.WithoutCancel(ctx), att)
}

// keptAttachment is where a sandbox's CNI attachment is kept in the
// persistent root.
func (s *Server) keptAttachment(id string) string {
	return filepath.Join(s.cfg.Get().Root, "crio", "cni-attachments", id+".json")
}
