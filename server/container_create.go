package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CreateContainer creates a container in a ready pod. A repeated request
// for the same metadata (a kubelet retry after a timeout) returns the
// first request's container.
func (s *Server) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	id, err := s.containers.Create(ctx, req.GetPodSandboxId(), req.GetConfig())
	if err != nil {
		return nil, containerError("creating container", err)
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}
