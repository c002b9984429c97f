package e2e

import (
	"context"
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
	d, n := benchNode(b, "restartbench")
	ctx := context.Background()
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
