package nri

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/store"
)

// startedRuntime is an enabled NRI runtime serving a socket in a temp dir,
// with no plugin connected.
func startedRuntime(tb testing.TB) *Runtime {
	tb.Helper()
	dir := tb.TempDir()
	cfg := config.Default().NRI
	cfg.SocketPath = filepath.Join(dir, "nri.sock")
	cfg.PluginPath = filepath.Join(dir, "plugins")
	cfg.PluginConfigPath = filepath.Join(dir, "conf.d")
	r, err := New(cfg, "test", nil)
	if err != nil {
		tb.Fatal(err)
	}
	err = r.Start(Domain{
		List:   func() ([]*api.PodSandbox, []*api.Container) { return nil, nil },
		Update: func(context.Context, string, *api.LinuxResources) error { return nil },
		Evict:  func(context.Context, string, string) error { return nil },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Stop)
	return r
}

// lifecycle calls every hook one pod and container go through, as the
// server does for RunPodSandbox, Create/Start/Stop/RemoveContainer and
// Stop/RemovePodSandbox.
func lifecycle(b *testing.B, r *Runtime, sb *store.Sandbox, c *store.Container, spec *rspec.Spec) {
	ctx := context.Background()
	unblock := r.BlockSync()
	if err := r.RunPodSandbox(ctx, sb); err != nil {
		b.Fatal(err)
	}
	unblock()
	unblock = r.BlockSync()
	if err := r.CreateContainer(ctx, sb, c, spec, Limits{}); err != nil {
		b.Fatal(err)
	}
	unblock()
	r.PostCreateContainer(ctx, sb, c)
	if err := r.StartContainer(ctx, sb, c); err != nil {
		b.Fatal(err)
	}
	r.PostStartContainer(ctx, sb, c)
	r.StopContainer(ctx, sb, c)
	unblock = r.BlockSync()
	r.RemoveContainer(ctx, sb, c)
	unblock()
	if err := r.StopPodSandbox(ctx, sb); err != nil {
		b.Fatal(err)
	}
	unblock = r.BlockSync()
	if err := r.RemovePodSandbox(ctx, sb); err != nil {
		b.Fatal(err)
	}
	unblock()
}

// BenchmarkLifecycleHooks measures what NRI adds to the 8 lifecycle RPCs
// of one pod with one container: "off" is enable_nri=false (a nil
// Runtime), "no-plugin" is NRI enabled and serving with no plugin
// connected, the state of most nodes; "one-plugin" adds a plugin in this
// process that records container events (the ttrpc round trips).
func BenchmarkLifecycleHooks(b *testing.B) {
	sb := &store.Sandbox{ID: "pod", Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p"}}}
	c := &store.Container{ID: "ctr", SandboxID: "pod", Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}}}
	spec := &rspec.Spec{Process: &rspec.Process{Args: []string{"sh"}}, Linux: &rspec.Linux{}}
	b.Run("off", func(b *testing.B) {
		var r *Runtime
		b.ReportAllocs()
		for b.Loop() {
			lifecycle(b, r, sb, c, spec)
		}
	})
	b.Run("no-plugin", func(b *testing.B) {
		r := startedRuntime(b)
		b.ReportAllocs()
		for b.Loop() {
			lifecycle(b, r, sb, c, spec)
		}
	})
	b.Run("one-plugin", func(b *testing.B) {
		r := startedRuntime(b)
		p := &recorder{ready: make(chan struct{})}
		connectPlugin(b, r, r.socket, "bench", p, p.ready)
		b.ReportAllocs()
		for b.Loop() {
			lifecycle(b, r, sb, c, spec)
		}
	})
}
