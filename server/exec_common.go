package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"

	"github.com/crio/crio/internal/oci"
	"github.com/crio/crio/internal/store"
	"github.com/crio/crio/internal/streaming"
)

// newStreamServer starts the streaming server exec, attach and
// port-forward sessions connect to. It looks containers and pods up again
// when a client connects: a URL outlives the RPC that issued it.
func (s *Server) newStreamServer() (*streaming.Server, error) {
	// The streaming library logs through klog; keep one log.
	klog.SetSlogLogger(s.log)
	rt := &streaming.Runtime{
		OCI: s.containers.Runtime(),
		Container: func(id string) (*oci.Container, func(), error) {
			c, err := s.runningContainer(id)
			if err != nil {
				return nil, nil, err
			}
			release, err := s.sessions.Acquire(c.ID, s.cfg.Get().Limits.MaxExecSessions)
			if err != nil {
				return nil, nil, err
			}
			return &c.Runtime, release, nil
		},
		NetNS: func(id string) (string, error) {
			sb, err := s.readySandbox(id)
			if err != nil {
				return "", err
			}
			return sb.NetNS, nil
		},
	}
	srv, err := streaming.New(s.cfg.Get().API, rt, s.log)
	if err != nil {
		return nil, err
	}
	s.log.Info("streaming server listening", "url", srv.URL().String())
	return srv, nil
}

// runningContainer resolves a container ID or unique prefix to a running
// container: exec and attach need one (CRI: NotFound for an unknown ID,
// FailedPrecondition for one not running).
func (s *Server) runningContainer(id string) (*store.Container, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	c, err := s.containers.Get(id)
	if err != nil {
		return nil, containerError("container "+id, err)
	}
	if st := c.State(); st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, status.Errorf(codes.FailedPrecondition, "container %s is %s, not running", c.ID, stateName(st))
	}
	return c, nil
}

// readySandbox resolves a pod for port-forward: its network namespace
// exists only while it is ready.
func (s *Server) readySandbox(id string) (*store.Sandbox, error) {
	sb, err := s.getSandbox(id)
	if err != nil {
		return nil, err
	}
	if sb.State() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, status.Errorf(codes.FailedPrecondition, "pod sandbox %s is not ready", sb.ID)
	}
	return sb, nil
}

func stateName(st runtimeapi.ContainerState) string {
	switch st {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return "created"
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return "exited"
	}
	return "in an unknown state"
}

// execError maps an error of running a command in a container.
func execError(id string, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	msg := fmt.Sprintf("exec in container %s: %v", id, err)
	switch {
	case errors.Is(err, oci.ErrExecTimeout):
		return status.Error(codes.DeadlineExceeded, msg)
	case errors.Is(err, oci.ErrNotRunning):
		return status.Error(codes.FailedPrecondition, msg)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msg)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msg)
	}
	return status.Error(codes.Unknown, msg)
}

// streamingServed answers Unimplemented while no streaming server runs.
func (s *Server) streamingServed() error {
	if err := s.containersServed(); err != nil {
		return err
	}
	if s.stream == nil {
		return status.Error(codes.Unimplemented, "the streaming server is not running")
	}
	return nil
}
