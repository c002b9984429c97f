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

func TestListContainersNewestFirstAndStateFilter(t *testing.T) {
	s := serverWithContainers(30)
	resp, err := s.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{})
	if err != nil || len(resp.Containers) != 30 {
		t.Fatalf("ListContainers: %d containers, %v; want 30", len(resp.GetContainers()), err)
	}
	for i := 1; i < len(resp.Containers); i++ {
		if resp.Containers[i-1].CreatedAt < resp.Containers[i].CreatedAt {
			t.Fatalf("not newest first at %d", i)
		}
	}
	resp, _ = s.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
	if len(resp.Containers) != 3 {
		t.Fatalf("running containers: %d; want 3", len(resp.Containers))
	}
	for _, c := range resp.Containers {
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING || c.Labels["io.kubernetes.container.name"] == "" {
			t.Errorf("listed %+v", c)
		}
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
		if len(resp.Containers) != 500 {
			b.Fatal(len(resp.Containers))
		}
		if _, err := proto.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}
