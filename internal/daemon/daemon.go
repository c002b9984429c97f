// Package daemon wires the configuration, the CRI server and the socket
// together and runs them until a signal says stop.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/soheilhy/cmux"
	"google.golang.org/grpc"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/failpoint"
	"github.com/crio/crio/internal/image"
	"github.com/crio/crio/internal/inspect"
	"github.com/crio/crio/internal/metrics"
	"github.com/crio/crio/internal/network"
	"github.com/crio/crio/internal/nri"
	"github.com/crio/crio/internal/oci"
	"github.com/crio/crio/internal/peercred"
	"github.com/crio/crio/internal/storage"
	"github.com/crio/crio/internal/systemd"
	"github.com/crio/crio/internal/version"
	"github.com/crio/crio/server"
)

// Options say where the configuration comes from.
type Options struct {
	ConfigFile   string
	ConfigDir    string
	FileRequired bool
	DirRequired  bool
	// Override applies command-line flags over the files; it runs again on
	// every reload so that flags keep winning.
	Override func(*config.Loaded) error
	// LogOutput is where logs go (stderr when nil).
	LogOutput io.Writer
}

// LoadConfig reads the files and applies the overrides, then validates.
func LoadConfig(o Options) (*config.Loaded, error) {
	l, err := config.Load(o.ConfigFile, o.ConfigDir, o.FileRequired, o.DirRequired)
	if err != nil {
		return nil, err
	}
	if o.Override != nil {
		if err := o.Override(l); err != nil {
			return nil, err
		}
		if err := l.Validate(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Run starts the daemon and blocks until ctx ends or SIGTERM/SIGINT.
// Containers keep running when it returns.
func Run(ctx context.Context, o Options) error {
	loaded, err := LoadConfig(o)
	if err != nil {
		return err
	}
	cfg := loaded.Config
	level := new(slog.LevelVar)
	lv, _ := config.ParseLogLevel(cfg.Runtime.LogLevel)
	level.Set(lv)
	out := o.LogOutput
	if out == nil {
		out = os.Stderr
	}
	log := newLogger(out, cfg.Runtime.LogFormat, level)
	slog.SetDefault(log)
	for _, w := range loaded.Warnings {
		log.Warn(w)
	}
	v, commit := version.Get()
	log.Info("starting crio", "version", v, "commit", commit, "config_files", loaded.Files)

	if err := checkHost(cfg); err != nil {
		return fmt.Errorf("start-up check failed: %w", err)
	}

	if fps := failpoint.Armed(); len(fps) > 0 {
		log.Warn("failpoints armed: the daemon kills itself when it reaches them", "failpoints", fps)
	}
	boot := readBootState(cfg)
	if boot.reboot {
		log.Warn("node reboot detected (run root empty, persistent root has state): cleaning up stale runtime state; images are kept")
	}

	live := config.NewLive(cfg)
	// The libraries' debug output (every registry request) only at "trace".
	storage.RouteLibraryLogs(log, strings.EqualFold(cfg.Runtime.LogLevel, "trace"))
	store, err := storage.New(cfg)
	if err != nil {
		return err
	}
	cleanStop := false
	defer func() {
		if err := store.Close(); err != nil {
			log.Warn("closing storage", "error", err)
		} else if cleanStop {
			markCleanShutdown(cfg, log)
		}
	}()
	if boot.unclean {
		log.Warn("the last daemon did not shut down cleanly: checking storage")
		if err := store.CheckAndRepair(log); err != nil {
			log.Error("storage check after an unclean shutdown failed; starting anyway", "error", err)
		}
	}
	markStarted(cfg, log)
	images := image.New(store.Store, live, log)
	cniWatcher, err := network.NewWatcher(cfg.Network.NetworkDir, cfg.Network.CNIDefaultNetwork, cfg.Network.PluginDirs, log)
	if err != nil {
		return err
	}
	defer cniWatcher.Close()
	nriRuntime, err := nri.New(cfg.NRI, v, log)
	if err != nil {
		return err
	}
	defer nriRuntime.Stop()
	srv, err := server.New(server.Options{
		Config: live, Logger: log,
		Images:      images,
		Network:     network.NewManager(cfg.Network.PluginDirs, filepath.Join(cfg.RunRoot, "crio", "cni-cache"), cniWatcher),
		SandboxRoot: filepath.Join(cfg.RunRoot, "crio", "sandboxes"),
		Store:       store.Store,
		NRI:         nriRuntime,
	})
	if err != nil {
		return fmt.Errorf("creating CRI server: %w", err)
	}
	defer srv.Close()

	var m *metrics.Metrics
	if cfg.Metrics.EnableMetrics {
		m = metrics.New(cfg.Metrics.MetricsCollectors, srv.ContainerStates)
		images.OnPull(m.ImagePulled)
		srv.OnOOM(m.OOMKilled)
		ms, err := metrics.Serve(cfg.Metrics, m, log)
		if err != nil {
			return err
		}
		defer ms.Close()
	}

	lis, err := Listen(cfg.API.Listen)
	if err != nil {
		return err
	}
	g := grpc.NewServer(
		grpc.ForceServerCodecV2(server.Codec()),
		grpc.MaxRecvMsgSize(cfg.API.GRPCMaxRecvMsgSize),
		grpc.MaxSendMsgSize(cfg.API.GRPCMaxSendMsgSize),
		grpc.ChainUnaryInterceptor(server.UnaryInterceptor(log, m)),
		grpc.ChainStreamInterceptor(server.StreamInterceptor(log, m)),
	)
	srv.Register(g)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	serveErr := serveSocket(lis, g, inspect.Handler(srv, log))
	log.Info("serving CRI", "socket", cfg.API.Listen)

	for {
		select {
		case err := <-serveErr:
			return fmt.Errorf("serving the CRI socket stopped: %w", err)
		case <-ctx.Done():
			shutdown(log, g, live.Get().API.ShutdownGracePeriod.Std())
			cleanStop = true
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(log, o, live, level)
				continue
			}
			log.Info("shutting down: containers keep running", "signal", sig.String())
			shutdown(log, g, live.Get().API.ShutdownGracePeriod.Std())
			cleanStop = true
			return nil
		}
	}
}

// serveSocket serves gRPC on lis and, beside it, the inspect API's
// HTTP/1, as CRI-O does: a connection is HTTP/1 when it opens with a
// method name; gRPC opens with HTTP/2's preface. The channel gets the
// first error that stops either; closing the gRPC server closes lis and so
// ends both.
func serveSocket(lis net.Listener, g *grpc.Server, inspectAPI http.Handler) <-chan error {
	m := cmux.New(lis)
	httpL := m.Match(cmux.HTTP1Fast())
	grpcL := m.Match(cmux.Any())
	h := &http.Server{Handler: inspectAPI, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- g.Serve(grpcL) }()
	go func() {
		if err := h.Serve(httpL); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, cmux.ErrListenerClosed) {
			errc <- fmt.Errorf("inspect API: %w", err)
		}
	}()
	go func() {
		err := m.Serve()
		h.Close()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			errc <- fmt.Errorf("CRI socket: %w", err)
		}
	}()
	return errc
}

// shutdown stops accepting RPCs, lets in-flight ones finish within grace,
// then cuts the rest.
func shutdown(log *slog.Logger, g *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		log.Warn("in-flight RPCs did not finish in time; stopping them", "grace", grace)
		g.Stop()
		<-done
	}
}

// reload re-reads the configuration and applies the reloadable keys.
func reload(log *slog.Logger, o Options, live *config.Live, level *slog.LevelVar) {
	next, err := LoadConfig(o)
	if err != nil {
		log.Error("reload failed; keeping the current configuration", "error", err)
		return
	}
	for _, w := range next.Warnings {
		log.Warn(w)
	}
	updated, changes, restart := config.ApplyReload(live.Get(), next.Config)
	live.Set(updated)
	if lv, err := config.ParseLogLevel(updated.Runtime.LogLevel); err == nil {
		level.Set(lv)
	}
	for _, c := range changes {
		log.Info("configuration reloaded", "key", c.Key, "old", fmt.Sprint(c.Old), "new", fmt.Sprint(c.New))
	}
	if len(changes) == 0 {
		log.Info("configuration reloaded: nothing reloadable changed")
	}
	if len(restart) > 0 {
		log.Warn("changed keys need a restart to take effect", "keys", strings.Join(restart, ", "))
	}
}

func newLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkHost refuses to start when something the daemon cannot work
// without is missing, and says what.
func checkHost(cfg *config.Config) error {
	var errs []error
	if _, err := oci.ResolveHandler(cfg, ""); err != nil {
		errs = append(errs, err)
	}
	if cgroups.Driver(cfg.Runtime.CgroupManager) == cgroups.Systemd {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := systemd.Check(ctx); err != nil {
			errs = append(errs, fmt.Errorf("crio.runtime.cgroup_manager is \"systemd\" but systemd does not answer (is it PID 1?): %w", err))
		}
		cancel()
	}
	found := false
	for _, d := range cfg.Network.PluginDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			found = true
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("no CNI plugin directory exists (crio.network.plugin_dirs = %v); install containernetworking-plugins", cfg.Network.PluginDirs))
	}
	if err := os.MkdirAll(cfg.Network.NetworkDir, 0o755); err != nil {
		errs = append(errs, fmt.Errorf("creating CNI config dir: %w", err))
	}
	for _, d := range []string{cfg.Root, cfg.RunRoot} {
		if err := checkWritable(d); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.StorageDriver == "overlay" || cfg.StorageDriver == "overlay2" {
		if err := checkFilesystem("overlay"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("storage dir %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".crio-write-check-")
	if err != nil {
		return fmt.Errorf("storage dir %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func checkFilesystem(name string) error {
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return fmt.Errorf("reading /proc/filesystems: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == name {
			return nil
		}
	}
	return fmt.Errorf("the kernel has no %s filesystem (modprobe %s)", name, name)
}

// Listen opens the CRI unix socket: it creates the parent directory,
// removes a stale socket left by a dead daemon (but refuses to take over
// one that a live process still answers on), and sets mode 0660.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating socket dir: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			pid := peercred.ListenerPID(c)
			c.Close()
			// A daemon killed while it was forking a child leaves its
			// listener open in that child until the child execs: the
			// socket answers, but its owner is dead.
			if pid == 0 || syscall.Kill(pid, 0) == nil {
				return nil, fmt.Errorf("%s is in use by another running process", path)
			}
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		lis.Close()
		return nil, fmt.Errorf("setting socket mode: %w", err)
	}
	return lis, nil
}
