package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateContainerResources changes a running container's cgroup limits and
// records them for ContainerStatus.
func (s *Server) UpdateContainerResources(ctx context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	if err := s.containers.Update(ctx, req.GetContainerId(), req.GetLinux()); err != nil {
		return nil, containerError("updating container "+req.GetContainerId(), err)
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}
