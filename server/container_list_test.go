package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/container"
	"github.com/crio/crio/internal/store"
)

// serverWithContainers holds n containers in memory, as a kubelet's pods
// make them: labels and annotations on each, a tenth of them running.
func serverWithContainers(n int) *Server {
	s := &Server{sandboxes: store.NewSandboxes(), containers: &container.Manager{Containers: store.NewContainers()}}
	for i := 0; i < n; i++ {
		c := &store.Container{
			ID: store.GenerateID(), SandboxID: store.GenerateID(), CreatedAt: time.Unix(int64(i), 0),
			ImageName: "registry.k8s.io/e2e-test-images/busybox:1.29-2", ImageID: "sha256:0123456789abcdef", ImageRef: "registry.k8s.io/e2e-test-images/busybox@sha256:0123456789abcdef",
			Config: &runtimeapi.ContainerConfig{
				Metadata:    &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("c%d", i)},
				Image:       &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e-test-images/busybox:1.29-2"},
				Labels:      map[string]string{"io.kubernetes.pod.name": fmt.Sprintf("p%d", i/10), "io.kubernetes.container.name": fmt.Sprintf("c%d", i)},
				Annotations: map[string]string{"io.kubernetes.container.hash": "1234abcd", "io.kubernetes.container.restartCount": "0"},
			},
		}
		c.SetCreated(nil)
		if i%10 == 0 {
			c.SetStarted(time.Now())
		}
		s.containers.Containers.Add(c.ID, c)
	}
	return s
}

// listOverWire calls ListContainers and decodes its answer as a client
// does: the entries travel pre-encoded.
func listOverWire(t testing.TB, s *Server, f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	t.Helper()
	resp, err := s.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var out runtimeapi.ListContainersResponse
	if err := proto.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.ProtoReflect().GetUnknown()) != 0 {
		t.Fatal("the decoded response has unknown fields")
	}
	return out.Containers
}

func TestListContainersNewestFirstAndStateFilter(t *testing.T) {
	s := serverWithContainers(30)
	cs := listOverWire(t, s, nil)
	if len(cs) != 30 {
		t.Fatalf("ListContainers: %d containers; want 30", len(cs))
	}
	for i := 1; i < len(cs); i++ {
		if cs[i-1].CreatedAt < cs[i].CreatedAt {
			t.Fatalf("not newest first at %d", i)
		}
	}
	running := &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
	cs = listOverWire(t, s, running)
	if len(cs) != 3 {
		t.Fatalf("running containers: %d; want 3", len(cs))
	}
	for _, c := range cs {
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING || c.Labels["io.kubernetes.container.name"] == "" {
			t.Errorf("listed %+v", c)
		}
	}
}

// The pre-encoded answer decodes to exactly what marshalling the entries
// gives, and follows state changes made after an entry was cached.
func TestListContainersWireMatchesEntries(t *testing.T) {
	s := serverWithContainers(20)
	listOverWire(t, s, nil) // fills the cache
	for _, c := range s.containers.Containers.List() {
		switch c.State() {
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			c.SetStarted(time.Now())
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			c.SetExited(1, time.Now(), "Error", "")
		}
	}
	got := listOverWire(t, s, nil)
	want := entries(s.listed(nil))
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	states := map[runtimeapi.ContainerState]int{}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("entry %d:\n got %v\nwant %v", i, got[i], want[i])
		}
		states[got[i].State]++
	}
	if states[runtimeapi.ContainerState_CONTAINER_RUNNING] != 18 || states[runtimeapi.ContainerState_CONTAINER_EXITED] != 2 {
		t.Fatalf("states after the changes: %v", states)
	}
}

// BenchmarkListContainersInMemory500 is what the daemon spends on a
// ListContainers of 500 containers: the handler and the encoding gRPC
// does next.
func BenchmarkListContainersInMemory500(b *testing.B) {
	s := serverWithContainers(500)
	ctx := context.Background()
	for b.Loop() {
		resp, _ := s.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		if _, err := proto.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListContainersDecode500 is the client's share of a
// ListContainers of 500 containers: decoding the response, which no
// daemon-side change can shorten.
func BenchmarkListContainersDecode500(b *testing.B) {
	s := serverWithContainers(500)
	resp, _ := s.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{})
	buf, err := proto.Marshal(resp)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		var out runtimeapi.ListContainersResponse
		if err := proto.Unmarshal(buf, &out); err != nil || len(out.Containers) != 500 {
			b.Fatal(len(out.Containers), err)
		}
	}
}
