package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/nri"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/store"
)

// PodContainers is the container side of a pod's lifecycle. StopPodSandbox
// and RemovePodSandbox call it before they free the pod's namespaces and
// network; the container half of the server sets s.podContainers.
type PodContainers interface {
	// StopPodContainers stops every container of the sandbox, forcibly.
	StopPodContainers(ctx context.Context, sb *store.Sandbox) error
	// RemovePodContainers removes every container of the sandbox.
	RemovePodContainers(ctx context.Context, sb *store.Sandbox) error
}

// noPodContainers is the hook while no container side is wired in.
type noPodContainers struct{}

func (noPodContainers) StopPodContainers(context.Context, *store.Sandbox) error   { return nil }
func (noPodContainers) RemovePodContainers(context.Context, *store.Sandbox) error { return nil }

// getSandbox resolves a sandbox ID or unique prefix, with the gRPC code
// the CRI expects when it cannot.
func (s *Server) getSandbox(id string) (*store.Sandbox, error) {
	sb, err := s.sandboxes.Get(id)
	switch {
	case err == nil:
		return sb, nil
	case id == "":
		return nil, status.Error(codes.InvalidArgument, "pod sandbox ID is empty")
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "pod sandbox %s not found", id)
	case errors.Is(err, store.ErrAmbiguous):
		return nil, status.Errorf(codes.InvalidArgument, "pod sandbox ID %v", err)
	}
	return nil, status.Errorf(codes.Internal, "looking up pod sandbox %s: %v", id, err)
}

// sandboxError maps an error from setting a sandbox up to a gRPC status.
func sandboxError(what string, err error) error {
	// Before FromError: a plugin's error carries the plugin's own status.
	if errors.As(err, new(*nri.PluginError)) {
		return status.Error(codes.FailedPrecondition, fmt.Sprintf("%s: %v", what, err))
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var se *sandbox.SysctlError
	switch {
	case errors.As(err, &se):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, fmt.Sprintf("%s: %v", what, err))
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, fmt.Sprintf("%s: %v", what, err))
	}
	return status.Error(codes.Internal, fmt.Sprintf("%s: %v", what, err))
}

// publishSandboxEvent sends a CRI event for a sandbox's lifecycle: the
// kubelet's evented PLEG takes the sandbox ID in ContainerId, as with
// containerd and CRI-O. A removed sandbox's event carries its last status.
func (s *Server) publishSandboxEvent(sb *store.Sandbox, t runtimeapi.ContainerEventType) {
	if s.events == nil {
		return
	}
	ev := &runtimeapi.ContainerEventResponse{
		ContainerId:        sb.ID,
		ContainerEventType: t,
		CreatedAt:          time.Now().UnixNano(),
		PodSandboxStatus:   sandboxStatus(sb),
	}
	s.events.Publish(ev)
}
