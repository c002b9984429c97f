package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ReopenContainerLog makes the container's monitor reopen its log file
// (after the kubelet rotated it); the new file exists when this returns.
func (s *Server) ReopenContainerLog(ctx context.Context, req *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	if err := s.containers.ReopenLog(ctx, req.GetContainerId()); err != nil {
		return nil, containerError("reopening the log of container "+req.GetContainerId(), err)
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}
