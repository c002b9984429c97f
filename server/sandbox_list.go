package server

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

// ListPodSandbox lists sandboxes from memory, filtered by ID (or a prefix
// of one), state and labels (all must match), newest first.
func (s *Server) ListPodSandbox(_ context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: s.listSandboxes(req.GetFilter())}, nil
}

// StreamPodSandboxes is ListPodSandbox in chunks, for nodes whose list
// would pass the gRPC message limit.
func (s *Server) StreamPodSandboxes(req *runtimeapi.StreamPodSandboxesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxesResponse]) error {
	return sendChunks(s.listSandboxes(req.GetFilter()), func(items []*runtimeapi.PodSandbox) error {
		return stream.Send(&runtimeapi.StreamPodSandboxesResponse{PodSandboxes: items})
	})
}

// selectSandboxes returns the sandbox an ID (or unique prefix) names, or
// every sandbox when id is empty.
func (s *Server) selectSandboxes(id string) []*store.Sandbox {
	if id == "" {
		return s.sandboxes.List()
	}
	sb, err := s.sandboxes.Get(id)
	if err != nil {
		return nil
	}
	return []*store.Sandbox{sb}
}

func (s *Server) listSandboxes(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	all := s.selectSandboxes(f.GetId())
	// One backing array for all items: one allocation instead of one per
	// sandbox.
	backing := make([]runtimeapi.PodSandbox, len(all))
	out := make([]*runtimeapi.PodSandbox, 0, len(all))
	for i, sb := range all {
		state := sb.State()
		if f.GetState() != nil && f.GetState().GetState() != state {
			continue
		}
		if !matchLabels(sb.Config.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		p := &backing[i]
		p.Id = sb.ID
		p.Metadata = sb.Metadata()
		p.State = state
		p.CreatedAt = sb.CreatedAt.UnixNano()
		p.Labels = sb.Config.GetLabels()
		p.Annotations = sb.Config.GetAnnotations()
		p.RuntimeHandler = sb.RuntimeHandler
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *runtimeapi.PodSandbox) int {
		if c := cmp.Compare(b.CreatedAt, a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Id, b.Id)
	})
	return out
}

// matchLabels reports whether labels has every key=value of selector.
func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
