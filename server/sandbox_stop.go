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
// them, so that a second stop does not DEL again.
func (s *Server) detachNetwork(ctx context.Context, dir string) error {
	path := filepath.Join(dir, networkFile)
	att, err := network.LoadAttachment(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if att.NetNS != "" && !sandbox.IsNamespace(att.NetNS) {
		// The pin is gone or no longer a namespace (a reboot, an unmount
		// behind our back): DEL without one, as the CNI spec allows, so
		// that IPAM still frees the address and the pod stays removable.
		s.log.Warn("pod network namespace is gone; CNI DEL without it", "netns", att.NetNS)
		att.NetNS = ""
	}
	if err := s.net.Del(context.WithoutCancel(ctx), att); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
