package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BenchmarkRestart measures a daemon restart on a node of running
// containers (200 by default, CRIO_BENCH_CONTAINERS to change): the time
// from starting the process to ListContainers answering with all of
// them, after a SIGKILL (recovery, storage check) and after a SIGTERM.
//
//	go test -tags "$TAGS" -run XXX -bench Restart -benchtime 3x ./test/e2e/
func BenchmarkRestart(b *testing.B) {
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
		pc := podConfig(fmt.Sprintf("restartbench%d", p))
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
	restart := func(sig syscall.Signal) func(*testing.B) {
		return func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				if sig == syscall.SIGKILL {
					d.Kill()
				} else {
					d.Stop()
				}
				b.StartTimer()
				start := time.Now()
				d.Start()
				r, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
				total += time.Since(start)
				if err != nil || len(r.Containers) != n {
					b.Fatalf("ListContainers after restart: %d containers, %v; want %d", len(r.GetContainers()), err, n)
				}
				for _, c := range r.Containers {
					if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
						b.Fatalf("container %s is %s after restart", c.Id, c.State)
					}
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-list")
		}
	}
	b.Run("after-SIGKILL", restart(syscall.SIGKILL))
	b.Run("after-SIGTERM", restart(syscall.SIGTERM))
}
