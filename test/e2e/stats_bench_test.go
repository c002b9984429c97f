package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// BenchmarkListContainerStats measures ListContainerStats over a node of
// running containers (200 by default, CRIO_BENCH_CONTAINERS to change),
// sampled on demand from their cgroups and then answered from the
// background collector's samples.
//
//	go test -tags "$TAGS" -run XXX -bench ListContainerStats -benchtime 50x ./test/e2e/
func BenchmarkListContainerStats(b *testing.B) {
	d, n := benchNode(b, "statsbench")
	ctx := context.Background()
	list := func(b *testing.B) {
		for b.Loop() {
			r, err := d.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
			if err != nil || len(r.Stats) != n {
				b.Fatalf("ListContainerStats: %d stats, %v", len(r.GetStats()), err)
			}
		}
	}
	b.Run("on-demand", list)
	// The same node with background collection: answers from memory.
	d.WriteDropIn("60-stats.conf", "[crio.stats]\nstats_collection_period = 10\n")
	d.Stop()
	d.Start()
	b.Run("collected", list)
}

// benchNode starts a daemon running CRIO_BENCH_CONTAINERS (200 by
// default) "sleep" containers, ten per pod, in pods named after prefix,
// and returns it with their number.
func benchNode(b *testing.B, prefix string) (*framework.Daemon, int) {
	requireRoot(b)
	n := 200
	if v, err := strconv.Atoi(os.Getenv("CRIO_BENCH_CONTAINERS")); err == nil && v > 0 {
		n = v
	}
	d := newImageDaemon(b, imageDaemonOptions{registry: sharedRegistry(b).Addr})
	mustPull(b, d, ctrImage)
	ctx := context.Background()
	const perPod = 10
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, n)
	for p := 0; p*perPod < n; p++ {
		pc := podConfig(fmt.Sprintf("%s%d", prefix, p))
		podID := runPod(b, d, pc)
		for i := 0; i < perPod && p*perPod+i < n; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				cfg := ctrConfig(fmt.Sprintf("c%d", i), []string{"sleep", "3600"})
				cfg.LogPath = ""
				c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: pc})
				if err == nil {
					_, err = d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId})
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return d, n
}
