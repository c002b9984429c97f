package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
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
// Stop/RemovePodSandbox) on three daemons in the same run: NRI off, NRI
// on with no plugin (the default; its ratio to "off" is NRI's idle cost),
// and NRI on with one plugin that subscribes to every event.
//
//	go test -tags "$TAGS" -run XXX -bench NRILifecycle -benchtime 20x ./test/e2e/
func BenchmarkNRILifecycle(b *testing.B) {
	requireRoot(b)
	var offNs float64
	for _, mode := range []string{"off", "no-plugin", "one-plugin"} {
		b.Run(mode, func(b *testing.B) {
			d := newImageDaemon(b, imageDaemonOptions{registry: sharedRegistry(b).Addr})
			if mode == "off" {
				d.WriteDropIn("60-nri-off.conf", "[crio.nri]\nenable_nri = false\n")
				d.Restart(syscall.SIGTERM)
			}
			mustPull(b, d, ctrImage)
			if mode == "one-plugin" {
				p := &nopPlugin{ready: make(chan struct{})}
				s, err := stub.New(p, stub.WithPluginName("bench"), stub.WithPluginIdx("10"), stub.WithSocketPath(d.NRISocket))
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx) }()
				b.Cleanup(func() { cancel(); <-done })
				select {
				case <-p.ready:
				case err := <-done:
					b.Fatalf("plugin stopped: %v", err)
				}
			}
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				pc := podConfig(fmt.Sprintf("nri-bench-%d", i), hostNetwork)
				podID := runPod(b, d, pc)
				cc := ctrConfig("c", []string{"sleep", "300"})
				resp, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cc, SandboxConfig: pc})
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
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if mode == "off" {
				offNs = ns
			} else if offNs > 0 {
				b.ReportMetric(ns/offNs, "x-off")
			}
		})
	}
}
