package nri

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/store"
)

func TestStartRefusesSocketInUse(t *testing.T) {
	first := startedRuntime(t)
	cfg := config.Default().NRI
	cfg.SocketPath = first.socket
	cfg.PluginPath = filepath.Join(t.TempDir(), "none")
	second, err := New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(Domain{List: func() ([]*api.PodSandbox, []*api.Container) { return nil, nil }})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Start on a served socket = %v, want an 'in use' error", err)
	}
}

// recorder is a plugin recording container events in order.
type recorder struct {
	mu     sync.Mutex
	events []string
	ready  chan struct{}
}

func (p *recorder) add(e string) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func (p *recorder) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

func (p *recorder) Synchronize(context.Context, []*api.PodSandbox, []*api.Container) ([]*api.ContainerUpdate, error) {
	close(p.ready)
	return nil, nil
}

func (p *recorder) CreateContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	p.add("create " + c.GetName())
	return nil, nil, nil
}

func (p *recorder) StopContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) ([]*api.ContainerUpdate, error) {
	p.add("stop " + c.GetName())
	return nil, nil
}

func (p *recorder) RemoveContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) error {
	p.add("remove " + c.GetName())
	return nil
}

// TestContainerEventsOnceAndInOrder: whichever paths report a stop (the
// StopContainer RPC, the exit monitor, a removal), a plugin hears
// StopContainer once and before RemoveContainer.
func TestContainerEventsOnceAndInOrder(t *testing.T) {
	r := startedRuntime(t)
	p := &recorder{ready: make(chan struct{})}
	connectPlugin(t, r, r.socket, "rec", p, p.ready)

	sb := &store.Sandbox{ID: "pod", Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p"}}}
	ctr := func(name string) *store.Container {
		return &store.Container{ID: name, SandboxID: "pod", Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: name}}}
	}
	spec := func() *rspec.Spec {
		return &rspec.Spec{Process: &rspec.Process{Args: []string{"sh"}}, Linux: &rspec.Linux{}}
	}
	bg := context.Background()

	a, b := ctr("a"), ctr("b")
	for _, c := range []*store.Container{a, b} {
		if err := r.CreateContainer(bg, sb, c, spec(), Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	r.StopContainer(bg, sb, a) // StopContainer RPC
	r.StopContainer(bg, sb, a) // the exit monitor, later
	r.RemoveContainer(bg, sb, a)
	r.RemoveContainer(bg, sb, a) // a second RemoveContainer RPC
	r.RemoveContainer(bg, sb, b) // removed while running: stop first
	r.StopContainer(bg, sb, b)   // the exit monitor, after the removal

	want := []string{"create a", "create b", "stop a", "remove a", "stop b", "remove b"}
	if got := p.get(); !slices.Equal(got, want) {
		t.Errorf("plugin heard %v, want %v", got, want)
	}
}

// seccompPlugin replaces every container's seccomp policy.
type seccompPlugin struct{ ready chan struct{} }

func (p *seccompPlugin) Synchronize(context.Context, []*api.PodSandbox, []*api.Container) ([]*api.ContainerUpdate, error) {
	close(p.ready)
	return nil, nil
}

func (p *seccompPlugin) CreateContainer(context.Context, *api.PodSandbox, *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	adj := &api.ContainerAdjustment{}
	adj.SetLinuxSeccompPolicy(&api.LinuxSeccomp{DefaultAction: "SCMP_ACT_ALLOW"})
	return adj, nil, nil
}

// TestSeccompAdjustmentFollowsValidatorConfig: a plugin's seccomp policy
// reaches the spec unless [crio.nri.default_validator] refuses changes to
// containers with the runtime's default profile.
func TestSeccompAdjustmentFollowsValidatorConfig(t *testing.T) {
	for _, reject := range []bool{false, true} {
		dir := t.TempDir()
		cfg := config.Default().NRI
		cfg.SocketPath = filepath.Join(dir, "nri.sock")
		cfg.PluginPath = filepath.Join(dir, "plugins")
		cfg.DefaultValidator.Enable = reject
		cfg.DefaultValidator.RejectRuntimeDefaultSeccompAdjustment = reject
		r, err := New(cfg, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(Domain{List: func() ([]*api.PodSandbox, []*api.Container) { return nil, nil }}); err != nil {
			t.Fatal(err)
		}
		p := &seccompPlugin{ready: make(chan struct{})}
		stop := connectPlugin(t, r, cfg.SocketPath, "seccomp", p, p.ready)

		sb := &store.Sandbox{ID: "pod", Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p"}}}
		c := &store.Container{ID: "c", SandboxID: "pod", Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
			Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
			}},
		}}
		spec := &rspec.Spec{Process: &rspec.Process{Args: []string{"sh"}}, Linux: &rspec.Linux{Seccomp: &rspec.LinuxSeccomp{DefaultAction: rspec.ActErrno}}}
		err = r.CreateContainer(context.Background(), sb, c, spec, Limits{})
		switch {
		case reject && err == nil:
			t.Errorf("validator rejecting runtime-default seccomp changes let the plugin's policy through")
		case !reject && err != nil:
			t.Errorf("seccomp adjustment refused without a validator: %v", err)
		case !reject && spec.Linux.Seccomp.DefaultAction != rspec.ActAllow:
			t.Errorf("seccomp default action = %s, want the plugin's SCMP_ACT_ALLOW", spec.Linux.Seccomp.DefaultAction)
		}
		stop()
		r.Stop()
	}
}

// connectPlugin runs p as a stub plugin on socket and waits until r
// counts it. The plugin runs until stop is called or the test ends.
func connectPlugin(tb testing.TB, r *Runtime, socket, name string, p any, ready <-chan struct{}) (stop func()) {
	tb.Helper()
	s, err := stub.New(p, stub.WithPluginName(name), stub.WithPluginIdx("10"), stub.WithSocketPath(socket))
	if err != nil {
		tb.Fatal(err)
	}
	// Builtin plugins (the default validator) are counted by the time
	// Start returns; the plugin is counted only after its synchronisation,
	// which is after ready.
	before := r.plugins.Load()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	tb.Cleanup(stop)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		tb.Fatal("plugin not synchronised")
	}
	for deadline := time.Now().Add(5 * time.Second); r.plugins.Load() <= before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("the runtime never counted the plugin")
		}
	}
	return stop
}
