package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateRuntimeConfig takes the node's pod CIDR from the kubelet and hands
// it to CNI plugins that accept the ipRanges capability (host-local), for
// pods set up from now on.
func (s *Server) UpdateRuntimeConfig(_ context.Context, req *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	cidr := req.GetRuntimeConfig().GetNetworkConfig().GetPodCidr()
	if s.net == nil {
		return nil, status.Error(codes.FailedPrecondition, "no pod network is configured")
	}
	if err := s.net.SetPodCIDRs(cidr); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "runtime_config.network_config.pod_cidr: %v", err)
	}
	s.log.Info("pod CIDR updated", "pod_cidr", cidr)
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}
