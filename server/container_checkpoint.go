package server

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CheckpointContainer dumps a running container with CRIU into a tar
// archive at the request's location (CRI-O's layout); the container goes
// on running, as the kubelet's forensic checkpoint expects. A timeout of
// 0 means none.
func (s *Server) CheckpointContainer(ctx context.Context, req *runtimeapi.CheckpointContainerRequest) (*runtimeapi.CheckpointContainerResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	if t := req.GetTimeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(t)*time.Second)
		defer cancel()
	}
	if _, err := s.containers.Checkpoint(ctx, req.GetContainerId(), req.GetLocation()); err != nil {
		return nil, containerError("checkpointing container "+req.GetContainerId(), err)
	}
	return &runtimeapi.CheckpointContainerResponse{}, nil
}
