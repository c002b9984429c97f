// Package server implements the CRI RuntimeService and ImageService. Each
// RPC or small group of RPCs has its own file named after it; handlers
// validate, delegate to internal/ packages and map errors to gRPC codes.
package server

import (
	"log/slog"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/image"
)

// Server serves the CRI. RPCs not built yet fall through to the embedded
// Unimplemented servers and answer codes.Unimplemented.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	cfg    *config.Live
	log    *slog.Logger
	images *image.Service
}

// Options carries what the server is built from.
type Options struct {
	Config *config.Live
	Logger *slog.Logger
	// Images is the image service (pull, list, status, remove, fs info).
	Images *image.Service
}

// New builds a server from opts.
func New(opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: opts.Config, log: log, images: opts.Images}, nil
}

// Register adds the CRI services to g.
func (s *Server) Register(g *grpc.Server) {
	runtimeapi.RegisterRuntimeServiceServer(g, s)
	runtimeapi.RegisterImageServiceServer(g, s)
}

// Close releases what the server holds. Containers keep running.
func (s *Server) Close() error { return nil }
