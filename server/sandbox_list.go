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
	items := s.listSandboxes(req.GetFilter())
	for len(items) > 0 {
		n := min(streamChunk, len(items))
		if err := stream.Send(&runtimeapi.StreamPodSandboxesResponse{PodSandboxes: items[:n]}); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

func (s *Server) listSandboxes(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	var all []*store.Sandbox
	if id := f.GetId(); id != "" {
		// An ID filter matches one sandbox: the full ID or a unique prefix.
		sb, err := s.sandboxes.Get(id)
		if err != nil {
			return []*runtimeapi.PodSandbox{}
		}
		all = []*store.Sandbox{sb}
	} else {
		all = s.sandboxes.List()
	}
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
