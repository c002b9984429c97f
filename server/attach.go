package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Attach returns the streaming server's single-use URL for attaching to
// a running container's stdio.
func (s *Server) Attach(_ context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if err := s.streamingServed(); err != nil {
		return nil, err
	}
	c, err := s.runningContainer(req.ContainerId)
	if err != nil {
		return nil, err
	}
	if req.Stdin && !c.Config.GetStdin() {
		return nil, status.Errorf(codes.InvalidArgument, "container %s was created without stdin", c.ID)
	}
	return s.stream.GetAttach(&runtimeapi.AttachRequest{ContainerId: c.ID,
		Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr, Tty: req.Tty})
}
