// Package streaming serves exec, attach and port-forward sessions over
// HTTP (SPDY and WebSocket) with k8s.io/cri-streaming: the CRI's Exec,
// Attach and PortForward RPCs return single-use URLs on this server, and
// the kubelet or crictl connects to them.
package streaming

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"

	"github.com/crio/crio/internal/config"
)

// Server is the streaming server. Its Get* methods issue the URLs the
// CRI's Exec, Attach and PortForward return; the library keeps each
// request under a random token that is single-use and expires after a
// minute.
type Server struct {
	lib  streaming.Server
	http *http.Server
	lis  net.Listener
	url  *url.URL
	log  *slog.Logger
	done chan struct{}
}

// New listens on [crio.api] stream_address:stream_port (port 0 picks a
// free one), with TLS when stream_enable_tls, and serves rt's sessions.
func New(api config.APIConfig, rt *Runtime, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	var tlsCfg *tls.Config
	if api.StreamEnableTLS {
		var err error
		if tlsCfg, err = serverTLS(api); err != nil {
			return nil, err
		}
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(api.StreamAddress, api.StreamPort))
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	// URLs name the address actually bound, so that port 0 works.
	base := &url.URL{Scheme: "http", Host: lis.Addr().String()}
	if tlsCfg != nil {
		base.Scheme = "https"
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = lis.Addr().String()
	cfg.BaseURL = base
	cfg.TLSConfig = tlsCfg
	if d := api.StreamIdleTimeout.Std(); d > 0 {
		cfg.StreamIdleTimeout = d
	}
	lib, err := streaming.NewServer(cfg, rt)
	if err != nil {
		lis.Close()
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	s := &Server{
		lib: lib, lis: lis, url: base, log: log, done: make(chan struct{}),
		http: &http.Server{Handler: lib, TLSConfig: tlsCfg, ReadHeaderTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)},
	}
	go s.serve()
	return s, nil
}

func (s *Server) serve() {
	defer close(s.done)
	var err error
	if s.http.TLSConfig != nil {
		err = s.http.ServeTLS(s.lis, "", "")
	} else {
		err = s.http.Serve(s.lis)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("streaming server stopped", "error", err)
	}
}

// URL is the server's base URL.
func (s *Server) URL() *url.URL { return s.url }

// Close stops the server and cuts open sessions.
func (s *Server) Close() error {
	err := s.http.Close()
	<-s.done
	return err
}

// GetExec validates req and returns the URL of its session.
func (s *Server) GetExec(req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return s.lib.GetExec(req)
}

// GetAttach validates req and returns the URL of its session.
func (s *Server) GetAttach(req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return s.lib.GetAttach(req)
}

// GetPortForward validates req and returns the URL of its session.
func (s *Server) GetPortForward(req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return s.lib.GetPortForward(req)
}

// serverTLS loads the certificate and key, and the CA that client
// certificates must chain to when stream_tls_ca is set. The files are
// read again for each handshake so that a renewed certificate is used
// without a restart.
func serverTLS(api config.APIConfig) (*tls.Config, error) {
	if api.StreamTLSCert == "" || api.StreamTLSKey == "" {
		return nil, errors.New("stream_enable_tls needs stream_tls_cert and stream_tls_key")
	}
	load := func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(api.StreamTLSCert, api.StreamTLSKey)
		if err != nil {
			return nil, fmt.Errorf("loading the streaming server's certificate: %w", err)
		}
		return &c, nil
	}
	if _, err := load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return load() },
	}
	if api.StreamTLSCA != "" {
		pem, err := os.ReadFile(api.StreamTLSCA)
		if err != nil {
			return nil, fmt.Errorf("reading stream_tls_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("stream_tls_ca %s holds no PEM certificate", api.StreamTLSCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
