package server

import (
	"context"
	"sort"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

// ListContainers lists containers from memory, filtered by ID (or unique
// prefix), state, pod sandbox ID (or unique prefix) and labels (all must
// match), newest first.
func (s *Server) ListContainers(_ context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	return &runtimeapi.ListContainersResponse{Containers: s.listContainers(req.GetFilter())}, nil
}

// StreamContainers is ListContainers in chunks, for nodes whose list
// would pass the gRPC message limit.
func (s *Server) StreamContainers(req *runtimeapi.StreamContainersRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainersResponse]) error {
	if err := s.containersServed(); err != nil {
		return err
	}
	return sendChunks(s.listContainers(req.GetFilter()), func(items []*runtimeapi.Container) error {
		return stream.Send(&runtimeapi.StreamContainersResponse{Containers: items})
	})
}

// selectContainers returns the containers a filter selects: by ID or
// unique prefix, by pod sandbox ID or unique prefix, and by labels (all
// must match); empty criteria select everything.
func (s *Server) selectContainers(id, podID string, labels map[string]string) []*store.Container {
	var all []*store.Container
	if id != "" {
		c, err := s.containers.Containers.Get(id)
		if err != nil {
			return nil
		}
		all = []*store.Container{c}
	} else {
		all = s.containers.Containers.List()
	}
	if podID != "" {
		if sb, err := s.sandboxes.Get(podID); err == nil {
			podID = sb.ID
		}
	}
	out := all[:0:0]
	for _, c := range all {
		if podID != "" && c.SandboxID != podID {
			continue
		}
		if !matchLabels(c.Config.GetLabels(), labels) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (s *Server) listContainers(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	all := s.selectContainers(f.GetId(), f.GetPodSandboxId(), f.GetLabelSelector())
	out := make([]*runtimeapi.Container, 0, len(all))
	for _, c := range all {
		state := c.State()
		if f.GetState() != nil && f.GetState().GetState() != state {
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id:           c.ID,
			PodSandboxId: c.SandboxID,
			Metadata:     c.Config.GetMetadata(),
			Image:        imageSpec(c),
			ImageRef:     c.ImageRef,
			ImageId:      c.ImageID,
			State:        state,
			CreatedAt:    c.CreatedAt.UnixNano(),
			Labels:       c.Config.GetLabels(),
			Annotations:  c.Config.GetAnnotations(),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt > out[j].CreatedAt
		}
		return strings.Compare(out[i].Id, out[j].Id) < 0
	})
	return out
}

// ContainerStates counts containers by state ("created", "running",
// "exited", "unknown"), from memory, for the metrics endpoint.
func (s *Server) ContainerStates() map[string]int {
	out := map[string]int{}
	if s.containers == nil {
		return out
	}
	for _, c := range s.containers.Containers.List() {
		out[strings.ToLower(strings.TrimPrefix(c.State().String(), "CONTAINER_"))]++
	}
	return out
}

// OnOOM sets a function told of each OOM-killed container; set it before
// serving.
func (s *Server) OnOOM(f func()) {
	if s.containers != nil {
		s.containers.OnOOM(f)
	}
}
