package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crio/crio/internal/config"
)

// Server is the running metrics endpoint.
type Server struct {
	Addr string // host:port or socket path
	srv  *http.Server
}

// Serve starts the endpoint [crio.metrics] describes: /metrics, and
// /debug/pprof when enable_profile is set.
func Serve(c config.MetricsConfig, m *Metrics, log *slog.Logger) (*Server, error) {
	var (
		lis net.Listener
		err error
	)
	if c.MetricsSocket != "" {
		if err := os.MkdirAll(filepath.Dir(c.MetricsSocket), 0o755); err != nil {
			return nil, fmt.Errorf("metrics socket dir: %w", err)
		}
		_ = os.Remove(c.MetricsSocket)
		lis, err = net.Listen("unix", c.MetricsSocket)
	} else {
		lis, err = net.Listen("tcp", net.JoinHostPort(c.MetricsHost, strconv.Itoa(c.MetricsPort)))
	}
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	if c.EnableProfile {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s := &Server{Addr: lis.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "error", err)
		}
	}()
	log.Info("serving metrics", "address", s.Addr, "profile", c.EnableProfile)
	return s, nil
}

// Close stops the endpoint.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
