package server

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/container"
	"github.com/crio/crio/internal/store"
)

// ContainerStatus reports one container from memory; verbose adds the
// pid and the OCI spec (read from the bundle).
func (s *Server) ContainerStatus(_ context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	c, err := s.containers.Get(req.GetContainerId())
	if err != nil {
		return nil, containerError("container status", err)
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: containerStatus(c)}
	if req.GetVerbose() {
		spec, _ := container.Spec(c)
		info, err := json.Marshal(struct {
			SandboxID   string          `json:"sandboxID"`
			PID         int             `json:"pid"`
			Handler     string          `json:"runtimeHandler"`
			Bundle      string          `json:"bundle"`
			RuntimeSpec json.RawMessage `json:"runtimeSpec,omitempty"`
		}{c.SandboxID, c.Runtime.PID, c.Runtime.Handler, c.Runtime.Bundle, spec})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encoding verbose status: %v", err)
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

// containerStatus is the CRI status of c, from memory.
func containerStatus(c *store.Container) *runtimeapi.ContainerStatus {
	st := c.Status()
	out := &runtimeapi.ContainerStatus{
		Id:          c.ID,
		Metadata:    c.Config.GetMetadata(),
		State:       st.State,
		CreatedAt:   nanos(c.CreatedAt),
		StartedAt:   nanos(st.StartedAt),
		FinishedAt:  nanos(st.FinishedAt),
		ExitCode:    st.ExitCode,
		Image:       imageSpec(c),
		ImageRef:    c.ImageRef,
		ImageId:     c.ImageID,
		Reason:      st.Reason,
		Message:     st.Message,
		Labels:      c.Config.GetLabels(),
		Annotations: c.Config.GetAnnotations(),
		Mounts:      c.Mounts,
		LogPath:     c.Runtime.LogPath,
		User: &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{
			Uid: c.UID, Gid: c.GID, SupplementalGroups: c.SupplementalGroups,
		}},
		StopSignal: c.Config.GetStopSignal(),
	}
	if st.Resources != nil {
		out.Resources = &runtimeapi.ContainerResources{Linux: st.Resources}
	}
	return out
}

func imageSpec(c *store.Container) *runtimeapi.ImageSpec {
	return &runtimeapi.ImageSpec{
		Image:              c.ImageName,
		UserSpecifiedImage: c.Config.GetImage().GetUserSpecifiedImage(),
		Annotations:        c.Config.GetImage().GetAnnotations(),
	}
}
