package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

func serverWithSandboxes(n int) *Server {
	s := &Server{sandboxes: store.NewSandboxes(), podContainers: noPodContainers{}}
	for i := 0; i < n; i++ {
		sb := &store.Sandbox{
			ID: store.GenerateID(), CreatedAt: time.Unix(int64(i), 0), RuntimeHandler: "runc",
			Config: &runtimeapi.PodSandboxConfig{
				Metadata:    &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("p%d", i), Namespace: "ns", Uid: fmt.Sprint(i)},
				Labels:      map[string]string{"app": "x", "shard": fmt.Sprint(i % 10)},
				Annotations: map[string]string{"kubernetes.io/config.source": "api"},
			},
		}
		if i%2 == 0 {
			sb.SetState(runtimeapi.PodSandboxState_SANDBOX_READY)
		}
		sb.Name = store.SandboxName(sb.Config.Metadata)
		s.sandboxes.Add(sb.ID, sb)
	}
	return s
}

func TestListPodSandboxFiltersAndOrder(t *testing.T) {
	s := serverWithSandboxes(20)
	resp, _ := s.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
	if len(resp.Items) != 20 {
		t.Fatalf("%d items; want 20", len(resp.Items))
	}
	for i := 1; i < len(resp.Items); i++ {
		if resp.Items[i-1].CreatedAt < resp.Items[i].CreatedAt {
			t.Fatalf("not newest first at %d", i)
		}
	}
	resp, _ = s.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{"shard": "2"},
	}})
	if len(resp.Items) != 2 {
		t.Fatalf("ready pods in shard 2: %d; want 2", len(resp.Items))
	}
	for _, it := range resp.Items {
		if it.State != runtimeapi.PodSandboxState_SANDBOX_READY || it.Labels["shard"] != "2" {
			t.Errorf("item %+v does not match the filter", it)
		}
	}
}

// BenchmarkListPodSandboxInMemory500 is the handler alone (no gRPC): what
// answering from memory costs for 500 sandboxes.
func BenchmarkListPodSandboxInMemory500(b *testing.B) {
	s := serverWithSandboxes(500)
	ctx := context.Background()
	for b.Loop() {
		if resp, _ := s.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); len(resp.Items) != 500 {
			b.Fatal(len(resp.Items))
		}
	}
}
