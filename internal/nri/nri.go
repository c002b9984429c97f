// Package nri is the runtime side of NRI, the Node Resource Interface
// (github.com/containerd/nri): plugins started by the daemon or connecting
// to its socket hear of every pod and container lifecycle event, may
// adjust a container's OCI spec before it is created, and may update or
// evict running containers.
//
// A nil *Runtime is NRI disabled; every method is then a no-op. With NRI
// enabled and no plugin connected, each hook returns after one atomic load:
// nothing is converted or sent.
package nri

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	nri "github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
	nrilog "github.com/containerd/nri/pkg/log"
	validator "github.com/containerd/nri/plugins/default-validator/builtin"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/store"
)

// Domain is what NRI needs from the rest of the daemon: the current pods
// and containers, and a way to change containers as plugins ask. Set by
// the server before Start.
type Domain struct {
	// List returns every pod and container, for a plugin's synchronisation.
	List func() ([]*api.PodSandbox, []*api.Container)
	// Update applies new resources a plugin asks for (checked already) to
	// a running or created container, without calling NRI hooks again.
	Update func(ctx context.Context, id string, r *api.LinuxResources) error
	// Evict stops a container a plugin evicts.
	Evict func(ctx context.Context, id, reason string) error
}

// Runtime is the daemon's NRI adaptation.
type Runtime struct {
	a      *nri.Adaptation
	log    *slog.Logger
	domain Domain
	// socket is the path plugins connect to; "" when connections are off.
	socket string

	// plugins is the number of registered plugins, kept by the
	// adaptation through the Metrics interface. Hooks skip all work while
	// it is 0.
	plugins atomic.Int64

	// mu serialises hooks and synchronisation (the adaptation serialises
	// hooks too) so that each plugin sees a container's events once and in
	// order, whichever goroutine reports them.
	mu sync.Mutex
	// ctrs is the state of each container as plugins know it: which of
	// StopContainer and RemoveContainer they are still owed.
	ctrs map[string]ctrState
}

type ctrState int

const (
	ctrCreated ctrState = iota + 1
	ctrRunning
	ctrStopped
)

// New builds the NRI runtime from [crio.nri]; it returns nil (NRI off)
// when enable_nri is false. Start serves it.
func New(cfg config.NRIConfig, version string, log *slog.Logger) (*Runtime, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Runtime{log: log.With("component", "nri"), ctrs: map[string]ctrState{}}
	if !cfg.DisableConnections {
		r.socket = cfg.SocketPath
	}
	nrilog.Set(slogAdapter{r.log})
	if cfg.PluginRegistrationTimeout > 0 {
		nri.SetPluginRegistrationTimeout(cfg.PluginRegistrationTimeout.Std())
	}
	if cfg.PluginRequestTimeout > 0 {
		nri.SetPluginRequestTimeout(cfg.PluginRequestTimeout.Std())
	}
	opts := []nri.Option{
		nri.WithSocketPath(cfg.SocketPath),
		nri.WithPluginPath(cfg.PluginPath),
		nri.WithPluginConfigPath(cfg.PluginConfigPath),
		nri.WithMetrics(pluginCounter{&r.plugins}),
	}
	if cfg.DisableConnections {
		opts = append(opts, nri.WithDisabledExternalConnections())
	}
	if v := cfg.DefaultValidator; v.Enable {
		opts = append(opts, nri.WithDefaultValidator(&validator.DefaultValidatorConfig{
			Enable:                                true,
			RejectOCIHookAdjustment:               v.RejectOCIHookAdjustment,
			RejectRuntimeDefaultSeccompAdjustment: v.RejectRuntimeDefaultSeccompAdjustment,
			RejectUnconfinedSeccompAdjustment:     v.RejectUnconfinedSeccompAdjustment,
			RejectCustomSeccompAdjustment:         v.RejectCustomSeccompAdjustment,
			RejectNamespaceAdjustment:             v.RejectNamespaceAdjustment,
			RequiredPlugins:                       v.RequiredPlugins,
			TolerateMissingAnnotation:             v.TolerateMissingAnnotation,
		}))
	}
	a, err := nri.New("crio", version, r.syncPlugin, r.updateFromPlugin, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the NRI adaptation: %w", err)
	}
	r.a = a
	return r, nil
}

// Start starts the pre-installed plugins and opens the socket. d must be
// complete: plugins are synchronised with it at once.
func (r *Runtime) Start(d Domain) error {
	if r == nil {
		return nil
	}
	r.domain = d
	// The adaptation removes whatever is at the socket path; another
	// runtime on this node may serve NRI there (containerd's default is
	// the same path).
	if r.socket != "" {
		if c, err := net.DialTimeout("unix", r.socket, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("NRI socket %s is in use by another process; set [crio.nri] nri_listen to another path or nri_disable_connections", r.socket)
		}
	}
	if err := r.a.Start(); err != nil {
		return fmt.Errorf("starting NRI: %w", err)
	}
	return nil
}

// Stop disconnects the plugins and stops the pre-installed ones.
func (r *Runtime) Stop() {
	if r == nil {
		return
	}
	r.a.Stop()
}

// Active says whether any plugin is registered.
func (r *Runtime) Active() bool { return r != nil && r.plugins.Load() > 0 }

// BlockSync keeps plugins from finishing their registration until the
// returned function is called. Hold it from before a pod or container
// creation or removal hook until the object is added to or removed from
// the store, so that a plugin connecting meanwhile either sees the object
// in its synchronisation or hears of the event: never neither. Take it
// before any sandbox or container lock, and never twice in one goroutine.
func (r *Runtime) BlockSync() func() {
	if r == nil {
		return func() {}
	}
	return r.a.BlockPluginSync().Unblock
}

// syncPlugin gives a newly registered plugin the current pods and
// containers. The adaptation holds the sync block's write side, so no
// creation or removal is between its hook and the store meanwhile.
func (r *Runtime) syncPlugin(ctx context.Context, cb nri.SyncCB) error {
	r.mu.Lock()
	pods, ctrs := r.domain.List()
	r.log.Info("synchronising an NRI plugin", "pods", len(pods), "containers", len(ctrs))
	clear(r.ctrs)
	for _, c := range ctrs {
		switch c.GetState() {
		case api.ContainerState_CONTAINER_CREATED:
			r.ctrs[c.GetId()] = ctrCreated
		case api.ContainerState_CONTAINER_RUNNING, api.ContainerState_CONTAINER_PAUSED:
			r.ctrs[c.GetId()] = ctrRunning
		default:
			r.ctrs[c.GetId()] = ctrStopped
		}
	}
	updates, err := cb(ctx, pods, ctrs)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if failed := r.applyUpdates(ctx, updates); len(failed) > 0 {
		r.log.Warn("updates a plugin asked for at synchronisation failed", "containers", len(failed))
	}
	return nil
}

// updateFromPlugin applies the updates a plugin asks for on its own.
func (r *Runtime) updateFromPlugin(ctx context.Context, updates []*api.ContainerUpdate) ([]*api.ContainerUpdate, error) {
	r.log.Info("unsolicited container updates from a plugin", "containers", len(updates))
	return r.applyUpdates(ctx, updates), nil
}

// applyUpdates applies resource updates and returns the ones that failed.
// A failure of an update marked IgnoreFailure is only logged. Never called
// with r.mu held: an update takes a container's lock, which a goroutine
// may hold while it waits for r.mu (StartContainer does).
func (r *Runtime) applyUpdates(ctx context.Context, updates []*api.ContainerUpdate) []*api.ContainerUpdate {
	var failed []*api.ContainerUpdate
	for _, u := range updates {
		res := u.GetLinux().GetResources()
		if res == nil {
			continue
		}
		_, err := checkResources(res)
		if err == nil {
			err = r.domain.Update(ctx, u.GetContainerId(), res)
		}
		if err != nil {
			r.log.Warn("NRI container update failed", "id", u.GetContainerId(), "ignored", u.GetIgnoreFailure(), "error", err)
			if !u.GetIgnoreFailure() {
				failed = append(failed, u)
			}
		}
	}
	return failed
}

// evict stops the containers plugins evict; called without r.mu (stopping
// reports to plugins again).
func (r *Runtime) evict(ctx context.Context, evictions []*api.ContainerEviction) {
	for _, e := range evictions {
		r.log.Info("NRI plugin evicts a container", "id", e.GetContainerId(), "reason", e.GetReason())
		if err := r.domain.Evict(ctx, e.GetContainerId(), e.GetReason()); err != nil {
			r.log.Warn("evicting container", "id", e.GetContainerId(), "error", err)
		}
	}
}

// RunPodSandbox tells plugins a pod is made; an error fails the RPC. The
// caller holds BlockSync and has not published the sandbox yet.
func (r *Runtime) RunPodSandbox(ctx context.Context, sb *store.Sandbox) error {
	if !r.Active() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return pluginError(r.a.RunPodSandbox(ctx, &api.RunPodSandboxRequest{Pod: PodSandbox(sb)}))
}

// StopPodSandbox tells plugins a pod is being stopped; its containers
// have stopped.
func (r *Runtime) StopPodSandbox(ctx context.Context, sb *store.Sandbox) error {
	if !r.Active() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return pluginError(r.a.StopPodSandbox(ctx, &api.StopPodSandboxRequest{Pod: PodSandbox(sb)}))
}

// RemovePodSandbox tells plugins a pod is gone.
func (r *Runtime) RemovePodSandbox(ctx context.Context, sb *store.Sandbox) error {
	if !r.Active() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return pluginError(r.a.RemovePodSandbox(ctx, &api.RemovePodSandboxRequest{Pod: PodSandbox(sb)}))
}

// UpdatePodSandbox asks plugins about new pod-level resources, then tells
// them they were applied (PostUpdatePodSandbox) through the returned
// function.
func (r *Runtime) UpdatePodSandbox(ctx context.Context, sb *store.Sandbox, res, overhead *runtimeapi.LinuxContainerResources) (post func(), err error) {
	if !r.Active() {
		return func() {}, nil
	}
	pod := PodSandbox(sb)
	r.mu.Lock()
	_, err = r.a.UpdatePodSandbox(ctx, &api.UpdatePodSandboxRequest{
		Pod: pod, LinuxResources: criResources(res), OverheadLinuxResources: criResources(overhead),
	})
	r.mu.Unlock()
	if err != nil {
		return nil, pluginError(err)
	}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := r.a.PostUpdatePodSandbox(ctx, &api.PostUpdatePodSandboxRequest{Pod: pod}); err != nil {
			r.log.Warn("NRI PostUpdatePodSandbox", "sandbox", sb.ID, "error", err)
		}
	}, nil
}

// CreateContainer asks plugins about a container before it is created and
// applies their adjustments to spec, after checking them. Updates of other
// containers are applied and evictions honoured. The caller holds
// BlockSync and has not published the container yet.
func (r *Runtime) CreateContainer(ctx context.Context, sb *store.Sandbox, c *store.Container, spec *rspec.Spec, limits Limits) error {
	if !r.Active() {
		return nil
	}
	ctr := Container(c, spec)
	ctr.State = api.ContainerState_CONTAINER_UNKNOWN
	pod := PodSandbox(sb)
	r.mu.Lock()
	rpl, err := r.a.CreateContainer(ctx, &api.CreateContainerRequest{Pod: pod, Container: ctr})
	r.ctrs[c.ID] = ctrCreated
	updates := rpl.GetUpdate()
	if err == nil {
		err = Adjust(spec, rpl.GetAdjust(), limits)
	}
	if err != nil {
		// Plugins before the one that failed, or all of them for a
		// refused adjustment, may have reserved resources for the
		// container: tell them it is gone.
		updates = r.removeLocked(ctx, sb, c)
	}
	r.mu.Unlock()
	if failed := r.applyUpdates(ctx, updates); len(failed) > 0 {
		r.log.Warn("container updates asked by NRI plugins failed", "containers", len(failed))
	}
	if err != nil {
		return pluginError(err)
	}
	r.evict(ctx, rpl.GetEvict())
	return nil
}

// PostCreateContainer tells plugins a container was created.
func (r *Runtime) PostCreateContainer(ctx context.Context, sb *store.Sandbox, c *store.Container) {
	if !r.Active() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.a.PostCreateContainer(ctx, &api.PostCreateContainerRequest{Pod: PodSandbox(sb), Container: LoadContainer(c)}); err != nil {
		r.log.Warn("NRI PostCreateContainer", "id", c.ID, "error", err)
	}
}

// StartContainer tells plugins a container is about to start; an error
// fails the start.
func (r *Runtime) StartContainer(ctx context.Context, sb *store.Sandbox, c *store.Container) error {
	if !r.Active() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.a.StartContainer(ctx, &api.StartContainerRequest{Pod: PodSandbox(sb), Container: LoadContainer(c)}); err != nil {
		return pluginError(err)
	}
	r.ctrs[c.ID] = ctrRunning
	return nil
}

// PostStartContainer tells plugins a container started.
func (r *Runtime) PostStartContainer(ctx context.Context, sb *store.Sandbox, c *store.Container) {
	if !r.Active() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.a.PostStartContainer(ctx, &api.PostStartContainerRequest{Pod: PodSandbox(sb), Container: LoadContainer(c)}); err != nil {
		r.log.Warn("NRI PostStartContainer", "id", c.ID, "error", err)
	}
}

// UpdateContainer asks plugins about new resources for a container; they
// may change them. It returns the resources to apply (res itself when no
// plugin changed them) and the function that reports them applied.
func (r *Runtime) UpdateContainer(ctx context.Context, sb *store.Sandbox, c *store.Container, res *runtimeapi.LinuxContainerResources) (*runtimeapi.LinuxContainerResources, func(), error) {
	if !r.Active() {
		return res, func() {}, nil
	}
	ctr := LoadContainer(c)
	pod := PodSandbox(sb)
	r.mu.Lock()
	rpl, err := r.a.UpdateContainer(ctx, &api.UpdateContainerRequest{Pod: pod, Container: ctr, LinuxResources: criResources(res)})
	r.mu.Unlock()
	if err != nil {
		return nil, nil, pluginError(err)
	}
	// The adaptation folds a plugin's change of this container into an
	// update for it; the others are other containers'.
	out := res
	var others []*api.ContainerUpdate
	for _, u := range rpl.GetUpdate() {
		if u.GetContainerId() != c.ID {
			others = append(others, u)
			continue
		}
		if mine := u.GetLinux().GetResources(); mine != nil {
			if _, err := checkResources(mine); err != nil {
				return nil, nil, pluginError(err)
			}
			out = CRIResources(mine, res)
		}
	}
	r.applyUpdates(ctx, others)
	r.evict(ctx, rpl.GetEvict())
	return out, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := r.a.PostUpdateContainer(ctx, &api.PostUpdateContainerRequest{Pod: pod, Container: LoadContainer(c)}); err != nil {
			r.log.Warn("NRI PostUpdateContainer", "id", c.ID, "error", err)
		}
	}, nil
}

// StopContainer tells plugins a container stopped, once per container
// whichever path noticed (StopContainer, the exit monitor, a pod stop).
func (r *Runtime) StopContainer(ctx context.Context, sb *store.Sandbox, c *store.Container) {
	if !r.Active() {
		return
	}
	r.mu.Lock()
	updates := r.stopLocked(ctx, sb, c)
	r.mu.Unlock()
	r.applyUpdates(ctx, updates)
}

// stopLocked sends StopContainer if plugins are owed it and returns the
// updates they ask for, for the caller to apply without r.mu.
func (r *Runtime) stopLocked(ctx context.Context, sb *store.Sandbox, c *store.Container) []*api.ContainerUpdate {
	if st, ok := r.ctrs[c.ID]; !ok || st == ctrStopped {
		return nil
	}
	r.ctrs[c.ID] = ctrStopped
	rpl, err := r.a.StopContainer(ctx, &api.StopContainerRequest{Pod: PodSandbox(sb), Container: LoadContainer(c)})
	if err != nil {
		r.log.Warn("NRI StopContainer", "id", c.ID, "error", err)
		return nil
	}
	return rpl.GetUpdate()
}

// RemoveContainer tells plugins a container is gone (after a stop event
// if they were not told yet). Also the undo of a CreateContainer hook when
// the creation fails later.
func (r *Runtime) RemoveContainer(ctx context.Context, sb *store.Sandbox, c *store.Container) {
	if !r.Active() {
		return
	}
	r.mu.Lock()
	updates := r.removeLocked(ctx, sb, c)
	r.mu.Unlock()
	r.applyUpdates(ctx, updates)
}

// removeLocked sends StopContainer if owed, then RemoveContainer, and
// returns the updates plugins asked for at the stop.
func (r *Runtime) removeLocked(ctx context.Context, sb *store.Sandbox, c *store.Container) []*api.ContainerUpdate {
	if _, ok := r.ctrs[c.ID]; !ok {
		return nil
	}
	updates := r.stopLocked(ctx, sb, c)
	delete(r.ctrs, c.ID)
	if err := r.a.RemoveContainer(ctx, &api.RemoveContainerRequest{Pod: PodSandbox(sb), Container: LoadContainer(c)}); err != nil {
		r.log.Warn("NRI RemoveContainer", "id", c.ID, "error", err)
	}
	return updates
}

// PluginError marks an error a plugin returned or caused: the server
// reports it as FailedPrecondition, naming NRI.
type PluginError struct{ Err error }

func (e *PluginError) Error() string { return "NRI: " + e.Err.Error() }
func (e *PluginError) Unwrap() error { return e.Err }

func pluginError(err error) error {
	if err == nil {
		return nil
	}
	var pe *PluginError
	if errors.As(err, &pe) {
		return err
	}
	return &PluginError{err}
}

// pluginCounter keeps the number of registered plugins from the
// adaptation's metrics callbacks.
type pluginCounter struct{ n *atomic.Int64 }

func (p pluginCounter) RecordPluginInvocation(string, string, error)      {}
func (p pluginCounter) RecordPluginLatency(string, string, time.Duration) {}
func (p pluginCounter) UpdatePluginCount(n int)                           { p.n.Store(int64(n)) }
func (p pluginCounter) RecordPluginAdjustments(string, string, *api.ContainerAdjustment, int, int) {
}

// slogAdapter routes the NRI library's logs to the daemon's logger.
type slogAdapter struct{ l *slog.Logger }

func (s slogAdapter) Debugf(_ context.Context, f string, a ...any) { s.l.Debug(fmt.Sprintf(f, a...)) }
func (s slogAdapter) Infof(_ context.Context, f string, a ...any)  { s.l.Info(fmt.Sprintf(f, a...)) }
func (s slogAdapter) Warnf(_ context.Context, f string, a ...any)  { s.l.Warn(fmt.Sprintf(f, a...)) }
func (s slogAdapter) Errorf(_ context.Context, f string, a ...any) { s.l.Error(fmt.Sprintf(f, a...)) }
