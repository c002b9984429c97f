package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/container"
	"github.com/crio/crio/internal/image"
	"github.com/crio/crio/internal/nri"
	"github.com/crio/crio/internal/store"
)

// podContainers lets StopPodSandbox and RemovePodSandbox act on the pod's
// containers.
type podContainers struct{ m *container.Manager }

// StopPodContainers kills the pod's containers: the kubelet has already
// stopped them gracefully, and the CRI says to stop forcibly here.
func (p podContainers) StopPodContainers(ctx context.Context, sb *store.Sandbox) error {
	return p.m.StopPod(ctx, sb.ID, 0)
}

func (p podContainers) RemovePodContainers(ctx context.Context, sb *store.Sandbox) error {
	return p.m.RemovePod(ctx, sb.ID)
}

// containersServed answers Unimplemented while no storage is wired in.
func (s *Server) containersServed() error {
	if s.containers == nil {
		return status.Error(codes.Unimplemented, "container RPCs need the storage store, which this server was built without")
	}
	return nil
}

// containerError maps an error of the container manager to a gRPC status.
func containerError(what string, err error) error {
	msg := fmt.Sprintf("%s: %v", what, err)
	// Before FromError: a plugin's error carries the plugin's own status.
	if errors.As(err, new(*nri.PluginError)) {
		return status.Error(codes.FailedPrecondition, msg)
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, container.ErrNotFound):
		return status.Error(codes.NotFound, msg)
	case errors.Is(err, store.ErrAmbiguous), errors.Is(err, container.ErrInvalid), errors.Is(err, image.ErrInvalidName):
		return status.Error(codes.InvalidArgument, msg)
	case errors.Is(err, container.ErrState), errors.Is(err, container.ErrUnsupported):
		return status.Error(codes.FailedPrecondition, msg)
	case errors.Is(err, container.ErrUnavailable):
		return status.Error(codes.FailedPrecondition, msg)
	case errors.Is(err, container.ErrExists):
		return status.Error(codes.AlreadyExists, msg)
	case errors.Is(err, container.ErrBadArchive):
		return status.Error(codes.InvalidArgument, msg)
	case errors.Is(err, container.ErrImageMissing):
		return status.Error(codes.NotFound, msg)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msg)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msg)
	}
	return status.Error(codes.Internal, msg)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// publishContainerEvent sends a CRI event for c with its status and its
// pod's.
func (s *Server) publishContainerEvent(c *store.Container, t runtimeapi.ContainerEventType) {
	ev := &runtimeapi.ContainerEventResponse{
		ContainerId:        c.ID,
		ContainerEventType: t,
		CreatedAt:          time.Now().UnixNano(),
		ContainersStatuses: []*runtimeapi.ContainerStatus{containerStatus(c)},
	}
	if ps, err := s.PodSandboxStatus(context.Background(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: c.SandboxID}); err == nil {
		ev.PodSandboxStatus = ps.Status
	}
	s.events.Publish(ev)
}
