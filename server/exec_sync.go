package server

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecSync runs a command in a running container and returns its output
// (each stream capped at 16 MiB, the rest discarded) and exit code. A
// timeout kills the command and answers DeadlineExceeded, which the
// kubelet reads as a probe timeout.
func (s *Server) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if len(req.Cmd) == 0 {
		return nil, status.Error(codes.InvalidArgument, "cmd is empty")
	}
	if req.Timeout < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "timeout %d is negative", req.Timeout)
	}
	c, err := s.runningContainer(req.ContainerId)
	if err != nil {
		return nil, err
	}
	release, err := s.sessions.Acquire(c.ID, s.cfg.Get().Limits.MaxExecSessions)
	if err != nil {
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	}
	defer release()
	res, err := s.containers.Runtime().ExecSync(ctx, &c.Runtime, req.Cmd, time.Duration(req.Timeout)*time.Second)
	if err != nil {
		return nil, execError(c.ID, err)
	}
	return &runtimeapi.ExecSyncResponse{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}, nil
}
