package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exec returns the streaming server's single-use URL for running a
// command in a running container.
func (s *Server) Exec(_ context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if err := s.streamingServed(); err != nil {
		return nil, err
	}
	if len(req.Cmd) == 0 {
		return nil, status.Error(codes.InvalidArgument, "cmd is empty")
	}
	c, err := s.runningContainer(req.ContainerId)
	if err != nil {
		return nil, err
	}
	return s.stream.GetExec(&runtimeapi.ExecRequest{ContainerId: c.ID, Cmd: req.Cmd,
		Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr, Tty: req.Tty})
}
