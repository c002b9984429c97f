package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// BenchmarkRemoveContainer measures RemoveContainer of a container that
// has exited, as the kubelet removes them (after a stop or an exit, and
// its garbage collection): only the remove is timed. CRIO_BENCH_STRACE=1
// pauses before the loop so that `strace -f -T -p <daemon>` can attach.
//
//	go test -tags "$TAGS" -run XXX -bench RemoveContainer ./test/e2e/
func BenchmarkRemoveContainer(b *testing.B) {
	requireRoot(b)
	d := newImageDaemon(b, imageDaemonOptions{registry: sharedRegistry(b).Addr})
	mustPull(b, d, ctrImage)
	ctx := context.Background()
	pc := podConfig("rmbench")
	pc.LogDirectory = b.TempDir()
	podID := runPod(b, d, pc)
	if os.Getenv("CRIO_BENCH_STRACE") == "1" {
		b.Logf("daemon pid %d; starting in 10 s", d.PID())
		time.Sleep(10 * time.Second)
	}
	cmd, stop := []string{"true"}, os.Getenv("CRIO_BENCH_STOP") == "1"
	if stop {
		cmd = []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		name := fmt.Sprintf("rm%d", i)
		cfg := ctrConfig(name, cmd)
		resp, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: pc})
		if err != nil {
			b.Fatal(err)
		}
		id := resp.ContainerId
		if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
			b.Fatal(err)
		}
		if stop {
			time.Sleep(100 * time.Millisecond) // the trap is set
			if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
				b.Fatal(err)
			}
		} else {
			waitExited(b, d, id, 20*time.Second)
		}
		b.StartTimer()
		if _, err := d.Runtime.RemoveContainer(framework.Ctx(b), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			b.Fatal(err)
		}
	}
}
