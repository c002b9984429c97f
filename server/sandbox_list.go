package server

import (
	"context"
	"sort"
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
	out := make([]*runtimeapi.PodSandbox, 0, len(all))
	for _, sb := range all {
		state := sb.State()
		if f.GetState() != nil && f.GetState().GetState() != state {
			continue
		}
		if !matchLabels(sb.Config.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id:             sb.ID,
			Metadata:       sb.Metadata(),
			State:          state,
			CreatedAt:      sb.CreatedAt.UnixNano(),
			Labels:         sb.Config.GetLabels(),
			Annotations:    sb.Config.GetAnnotations(),
			RuntimeHandler: sb.RuntimeHandler,
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

// matchLabels reports whether labels has every key=value of selector.
func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
