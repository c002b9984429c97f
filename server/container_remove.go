package server

import (
	"context"
	"errors"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/container"
)

// RemoveContainer removes a container, killing it first if it runs.
func (s *Server) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	err := s.containers.Remove(ctx, req.GetContainerId())
	// "If the container has already been removed, it must not return an
	// error."
	if err != nil && !errors.Is(err, container.ErrNotFound) {
		return nil, containerError("removing container "+req.GetContainerId(), err)
	}
	return &runtimeapi.RemoveContainerResponse{}, nil
}
