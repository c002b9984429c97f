package server

import (
	"errors"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/container"
	"github.com/crio/crio/internal/inspect"
)

// Info answers the inspect API's GET /info.
func (s *Server) Info() inspect.Info {
	return inspect.Info{
		StorageDriver: s.storageDriver,
		StorageRoot:   s.storageRoot,
		CgroupDriver:  cgroups.Driver(s.cfg.Get().Runtime.CgroupManager),
	}
}

// InspectContainer answers the inspect API's GET /containers/{id} from
// memory, as ContainerStatus does.
func (s *Server) InspectContainer(id string) (*inspect.Container, error) {
	if s.containers == nil {
		return nil, inspect.ErrNotFound
	}
	c, err := s.containers.Get(id)
	if errors.Is(err, container.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", inspect.ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	out := &inspect.Container{
		Name:        c.Name,
		Image:       c.ImageName,
		CreatedTime: c.CreatedAt.UnixNano(),
		Labels:      c.Config.GetLabels(),
		Annotations: c.Config.GetAnnotations(),
		LogPath:     c.Runtime.LogPath,
		Root:        c.RootFS,
	}
	// cAdvisor reads the process's network and asks again while the pid
	// is 0, so a stopped container's old pid is not given out.
	if c.State() == runtimeapi.ContainerState_CONTAINER_RUNNING {
		out.Pid = c.Runtime.PID
	}
	if sb, err := s.sandboxes.Get(c.SandboxID); err == nil && len(sb.IPs) > 0 {
		out.IP, out.IPs = sb.IPs[0], sb.IPs
	}
	return out, nil
}
