package server

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

// ListContainers lists containers from memory, filtered by ID (or unique
// prefix), state, pod sandbox ID (or unique prefix) and labels (all must
// match), newest first. The entries are pre-encoded: see
// container_list_wire.go.
func (s *Server) ListContainers(_ context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	return s.listContainers(req, func(size int) []byte { return make([]byte, size) })
}

// listContainersEncoded is ListContainers as the gRPC service answers it
// (see Codec): the encoding is built in a buffer from gRPC's pool and
// sent from there, so a list of 500 containers neither copies its 150 KB
// again nor leaves them to the garbage collector.
func (s *Server) listContainersEncoded(req *runtimeapi.ListContainersRequest) (any, error) {
	pool := mem.DefaultBufferPool()
	var buf *[]byte
	resp, err := s.listContainers(req, func(size int) []byte {
		buf = pool.Get(size)
		return *buf
	})
	if err != nil {
		return nil, err
	}
	if buf == nil { // answered without the encoding cache
		return resp, nil
	}
	*buf = resp.ProtoReflect().GetUnknown()
	return &encodedList{ListContainersResponse: resp, buf: buf}, nil
}

// listContainers answers with the pre-encoded entries as the response's
// unknown fields, built in the buffer alloc returns for the size they
// need.
func (s *Server) listContainers(req *runtimeapi.ListContainersRequest, alloc func(size int) []byte) (*runtimeapi.ListContainersResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	cs := s.listed(req.GetFilter())
	resp := &runtimeapi.ListContainersResponse{}
	wire, err := wireContainers(cs, alloc)
	if err != nil {
		s.log.Warn("listing containers without the encoding cache", "error", err)
		resp.Containers = entries(cs)
		return resp, nil
	}
	resp.ProtoReflect().SetUnknown(wire)
	return resp, nil
}

// StreamContainers is ListContainers in chunks, for nodes whose list
// would pass the gRPC message limit.
func (s *Server) StreamContainers(req *runtimeapi.StreamContainersRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainersResponse]) error {
	if err := s.containersServed(); err != nil {
		return err
	}
	return sendChunks(entries(s.listed(req.GetFilter())), func(items []*runtimeapi.Container) error {
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

// listed is a container selected for a list with the state it had.
type listed struct {
	c       *store.Container
	state   runtimeapi.ContainerState
	created int64 // c.CreatedAt in ns, for sorting
}

// listed selects the containers a filter asks for, newest first.
func (s *Server) listed(f *runtimeapi.ContainerFilter) []listed {
	all := s.selectContainers(f.GetId(), f.GetPodSandboxId(), f.GetLabelSelector())
	out := make([]listed, 0, len(all))
	for _, c := range all {
		state := c.State()
		if f.GetState() != nil && f.GetState().GetState() != state {
			continue
		}
		out = append(out, listed{c, state, c.CreatedAt.UnixNano()})
	}
	slices.SortFunc(out, func(a, b listed) int {
		if a.created != b.created {
			return cmp.Compare(b.created, a.created)
		}
		return strings.Compare(a.c.ID, b.c.ID)
	})
	return out
}

// entries are the list messages of cs.
func entries(cs []listed) []*runtimeapi.Container {
	out := make([]*runtimeapi.Container, len(cs))
	for i, l := range cs {
		out[i] = listEntry(l.c, l.state)
	}
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
