package server

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/version"
)

// RuntimeName is what Version reports as the runtime's name.
const RuntimeName = "crio"

// Version reports the runtime's name and version.
func (s *Server) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	v, _ := version.Get()
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       RuntimeName,
		RuntimeVersion:    v,
		RuntimeApiVersion: version.CRIVersion,
	}, nil
}
