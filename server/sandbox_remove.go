package server

import (
	"context"
	"fmt"
	"os"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/failpoint"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/store"
)

// RemovePodSandbox stops the sandbox if needed, removes its containers and
// frees everything it holds. The proto: "If there are any running
// containers in the sandbox, they must be forcibly terminated and removed.
// This call is idempotent, and must not return an error if the sandbox has
// already been removed."
func (s *Server) RemovePodSandbox(ctx context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	sb, err := s.getSandbox(req.GetPodSandboxId())
	if status.Code(err) == codes.NotFound {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	// Before the sandbox's lock, as BlockSync requires: a plugin
	// registering meanwhile sees the pod and its containers or hears of
	// their removal.
	defer s.nri.BlockSync()()
	sb.Lock()
	defer sb.Unlock()
	if _, err := s.sandboxes.Get(sb.ID); err != nil {
		return &runtimeapi.RemovePodSandboxResponse{}, nil // removed while we waited for the lock
	}
	if err := s.removeSandbox(ctx, sb); err != nil {
		return nil, sandboxError("RemovePodSandbox "+sb.ID, err)
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

// removeSandbox does the work of RemovePodSandbox; the caller holds sb.Lock.
func (s *Server) removeSandbox(ctx context.Context, sb *store.Sandbox) error {
	if err := s.stopSandbox(ctx, sb); err != nil {
		return err
	}
	if err := s.podContainers.RemovePodContainers(ctx, sb); err != nil {
		return fmt.Errorf("removing the pod's containers: %w", err)
	}
	failpoint.Hit(failpoint.SandboxRemoveAfterCtrs)
	for _, p := range []string{sb.NetNS, sb.IPCNS, sb.UTSNS, sb.UserNS} {
		if err := sandbox.Unpin(p); err != nil {
			return err
		}
	}
	failpoint.Hit(failpoint.SandboxRemoveAfterPins)
	if err := cgroups.Remove(sb.CgroupsCreated); err != nil {
		// A cgroup the kubelet still uses (or a process that
		// escaped) must not keep the sandbox: report it and go on.
		s.sandboxLog(sb).Warn("pod cgroup not removed", "error", err)
	}
	if err := os.RemoveAll(sb.Dir); err != nil {
		return fmt.Errorf("removing sandbox dir: %w", err)
	}
	s.sandboxes.Delete(sb.ID)
	s.sandboxes.Names.Release(sb.Name, sb.ID)
	if err := s.nri.RemovePodSandbox(ctx, sb); err != nil {
		// The pod is gone whatever a plugin says.
		s.sandboxLog(sb).Warn("NRI RemovePodSandbox", "error", err)
	}
	s.publishSandboxEvent(sb, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	s.sandboxLog(sb).Info("pod sandbox removed")
	return nil
}
