package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// nopPlugin subscribes to every event and changes nothing: the cost of
// NRI itself with one plugin connected.
type nopPlugin struct{ ready chan struct{} }

func (p *nopPlugin) Synchronize(context.Context, []*api.PodSandbox, []*api.Container) ([]*api.ContainerUpdate, error) {
	select {
	case <-p.ready:
	default:
		close(p.ready)
	}
	return nil, nil
}
func (p *nopPlugin) RunPodSandbox(context.Context, *api.PodSandbox) error    { return nil }
func (p *nopPlugin) StopPodSandbox(context.Context, *api.PodSandbox) error   { return nil }
func (p *nopPlugin) RemovePodSandbox(context.Context, *api.PodSandbox) error { return nil }
func (p *nopPlugin) CreateContainer(context.Context, *api.PodSandbox, *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	return nil, nil, nil
}
func (p *nopPlugin) StartContainer(context.Context, *api.PodSandbox, *api.Container) error {
	return nil
}
func (p *nopPlugin) StopContainer(context.Context, *api.PodSandbox, *api.Container) ([]*api.ContainerUpdate, error) {
	return nil, nil
}
func (p *nopPlugin) RemoveContainer(context.Context, *api.PodSandbox, *api.Container) error {
	return nil
}

// BenchmarkNRILifecycle runs the 7 RPCs of a host-network pod with one
// busybox container (RunPodSandbox, Create/Start/Stop/RemoveContainer,
// Stop/RemovePodSandbox) on three daemons: NRI off, NRI on with no plugin
// (the default; its ratio to "off" is NRI's idle cost), and NRI on with one
// plugin that subscribes to every event. Each iteration runs the lifecycle
// once on each daemon, in rotating order, so that load from elsewhere on
// the machine falls on all three alike; the metrics are the mean time per
// lifecycle of each and the ratios to "off".
//
//	go test -tags "$TAGS" -run XXX -bench NRILifecycle -benchtime 30x ./test/e2e/
func BenchmarkNRILifecycle(b *testing.B) {
	requireRoot(b)
	modes := []string{"off", "no-plugin", "one-plugin"}
	daemons := make([]*framework.Daemon, len(modes))
	for i, mode := range modes {
		d := newImageDaemon(b, imageDaemonOptions{registry: sharedRegistry(b).Addr})
		if mode == "off" {
			d.WriteDropIn("60-nri-off.conf", "[crio.nri]\nenable_nri = false\n")
			d.Restart(syscall.SIGTERM)
		}
		mustPull(b, d, ctrImage)
		if mode == "one-plugin" {
			startNopPlugin(b, d)
		}
		daemons[i] = d
	}
	var total [3]time.Duration
	n := 0
	for b.Loop() {
		for k := range modes {
			i := (n + k) % len(modes)
			start := time.Now()
			lifecycleOnce(b, daemons[i], fmt.Sprintf("nri-bench-%d", n))
			total[i] += time.Since(start)
		}
		n++
	}
	for i, mode := range modes {
		b.ReportMetric(float64(total[i].Milliseconds())/float64(n), mode+"-ms/lifecycle")
		if i > 0 {
			b.ReportMetric(float64(total[i])/float64(total[0]), mode+"-x-off")
		}
	}
}

func startNopPlugin(b *testing.B, d *framework.Daemon) {
	p := &nopPlugin{ready: make(chan struct{})}
	startPlugin(b, d.NRISocket, "bench", p, p.ready)
}

// lifecycleOnce runs a host-network pod with one container through its
// whole life.
func lifecycleOnce(b *testing.B, d *framework.Daemon, name string) {
	ctx := context.Background()
	pc := podConfig(name, hostNetwork)
	pc.LogDirectory = filepath.Join(d.Dir, "podlogs", name)
	podID := runPod(b, d, pc)
	resp, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: ctrConfig("c", []string{"sleep", "300"}), SandboxConfig: pc})
	if err != nil {
		b.Fatal(err)
	}
	id := resp.ContainerId
	if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		b.Fatal(err)
	}
	if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
		b.Fatal(err)
	}
	if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		b.Fatal(err)
	}
	removePod(b, d, podID)
}
