package e2e

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// BenchmarkListPodSandbox500 measures ListPodSandbox on a daemon holding
// 500 sandboxes (host-network, no infra process, to keep them cheap), next
// to the Version RPC as the peer: the ratio is what the list itself costs
// over a bare gRPC round trip.
//
//	go test -tags "$TAGS" -run XXX -bench ListPodSandbox500 ./test/e2e/
func BenchmarkListPodSandbox500(b *testing.B) {
	requireRoot(b)
	const pods = 500
	d := framework.NewDaemon(b, framework.Options{})
	ids := make([]string, pods)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < pods; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := podConfig(fmt.Sprintf("bench%d", i), hostNetwork)
			c.Labels["shard"] = fmt.Sprint(i % 10)
			resp, err := d.Runtime.RunPodSandbox(context.Background(), &runtimeapi.RunPodSandboxRequest{Config: c})
			if err != nil {
				b.Errorf("RunPodSandbox %d: %v", i, err)
				return
			}
			ids[i] = resp.PodSandboxId
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		var wg sync.WaitGroup
		for _, id := range ids {
			if id == "" {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				removePod(b, d, id)
			}()
		}
		wg.Wait()
	})
	if b.Failed() {
		return
	}
	ctx := context.Background()
	var versionNs, listNs float64
	b.Run("Version", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
				b.Fatal(err)
			}
		}
		versionNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("List", func(b *testing.B) {
		for b.Loop() {
			resp, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
			if err != nil || len(resp.Items) != pods {
				b.Fatalf("ListPodSandbox: %d items, %v", len(resp.GetItems()), err)
			}
		}
		listNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if versionNs > 0 {
			b.ReportMetric(listNs/versionNs, "x-Version")
		}
	})
	b.Run("Stream", func(b *testing.B) {
		for b.Loop() {
			stream, err := d.Runtime.StreamPodSandboxes(ctx, &runtimeapi.StreamPodSandboxesRequest{})
			if err != nil {
				b.Fatal(err)
			}
			items, msgs := 0, 0
			for {
				resp, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				items += len(resp.PodSandboxes)
				msgs++
			}
			if items != pods || msgs < 2 {
				b.Fatalf("StreamPodSandboxes: %d items in %d messages; want %d in several", items, msgs, pods)
			}
		}
	})
	b.Run("ListLabelFilter", func(b *testing.B) {
		f := &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"shard": "3"}}
		for b.Loop() {
			resp, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: f})
			if err != nil || len(resp.Items) != pods/10 {
				b.Fatalf("ListPodSandbox: %d items, %v", len(resp.GetItems()), err)
			}
		}
	})
	b.Run("Status", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: ids[0]}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRunPodSandbox measures RunPodSandbox+Stop+Remove of a pod with
// its own network namespace (loopback-only CNI) and infra process.
func BenchmarkRunStopRemovePodSandbox(b *testing.B) {
	requireRoot(b)
	d := framework.NewDaemon(b, framework.Options{})
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(fmt.Sprintf("rb%d", i), podPID)})
		if err != nil {
			b.Fatal(err)
		}
		removePod(b, d, resp.PodSandboxId)
	}
}
