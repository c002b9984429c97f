package server

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/limits"
	"github.com/crio/crio/internal/store"
)

// CreateContainer creates a container in a ready pod. A repeated request
// for the same metadata (a kubelet retry after a timeout) returns the
// first request's container.
func (s *Server) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	lim := s.cfg.Get().Limits
	if err := limits.Metadata("container config", req.GetConfig().GetLabels(), req.GetConfig().GetAnnotations(), lim); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	// Checked at the request's start: concurrent creates may pass it
	// together, which bounds the overshoot by the client's concurrency.
	if lim.MaxContainersPerPod > 0 {
		if sb, err := s.sandboxes.Get(req.GetPodSandboxId()); err == nil {
			held := s.containers.Containers.OfSandbox(sb.ID)
			name := store.ContainerName(req.GetConfig().GetMetadata(), sb.Metadata())
			// A kubelet retry of a create that succeeded gets its first
			// answer, not a refusal.
			retry := slices.ContainsFunc(held, func(c *store.Container) bool { return c.Name == name })
			if n := len(held); n >= lim.MaxContainersPerPod && !retry {
				return nil, status.Errorf(codes.ResourceExhausted, "pod sandbox %s already holds %d containers, [crio.limits] max_containers_per_pod = %d: remove exited ones first", sb.ID, n, lim.MaxContainersPerPod)
			}
		}
	}
	id, err := s.containers.Create(ctx, req.GetPodSandboxId(), req.GetConfig())
	if err != nil {
		return nil, containerError("creating container", err)
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}
