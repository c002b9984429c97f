package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PortForward returns the streaming server's single-use URL for
// forwarding connections to ports on a ready pod's loopback.
func (s *Server) PortForward(_ context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if err := s.streamingServed(); err != nil {
		return nil, err
	}
	for _, p := range req.Port {
		if p <= 0 || p > 65535 {
			return nil, status.Errorf(codes.InvalidArgument, "port %d is out of range", p)
		}
	}
	sb, err := s.readySandbox(req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	return s.stream.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: sb.ID, Port: req.Port})
}
