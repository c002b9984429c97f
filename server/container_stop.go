package server

import (
	"context"
	"errors"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/container"
)

// StopContainer stops a container with its stop signal, killing it after
// the request's timeout (0 kills at once).
func (s *Server) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	timeout := time.Duration(max(req.GetTimeout(), 0)) * time.Second
	err := s.containers.Stop(ctx, req.GetContainerId(), timeout)
	// "This call is idempotent, and must not return an error if the
	// container has already been stopped": an absent one is stopped too.
	if err != nil && !errors.Is(err, container.ErrNotFound) {
		return nil, containerError("stopping container "+req.GetContainerId(), err)
	}
	return &runtimeapi.StopContainerResponse{}, nil
}
