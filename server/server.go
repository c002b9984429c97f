// Package server implements the CRI RuntimeService and ImageService. Each
// RPC or small group of RPCs has its own file named after it; handlers
// validate, delegate to internal/ packages and map errors to gRPC codes.
package server

import (
	"log/slog"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	cstorage "go.podman.io/storage"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/container"
	"github.com/crio/crio/internal/events"
	"github.com/crio/crio/internal/image"
	"github.com/crio/crio/internal/limits"
	"github.com/crio/crio/internal/network"
	"github.com/crio/crio/internal/nri"
	"github.com/crio/crio/internal/store"
	"github.com/crio/crio/internal/streaming"
)

// Server serves the CRI. RPCs not built yet fall through to the embedded
// Unimplemented servers and answer codes.Unimplemented.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	cfg    *config.Live
	log    *slog.Logger
	images *image.Service

	sandboxes   *store.Sandboxes
	net         *network.Manager
	sandboxRoot string
	// podContainers is the container side's part of stopping and removing
	// a pod; see PodContainers.
	podContainers PodContainers

	// events fans lifecycle events out to GetContainerEvents clients.
	events *events.Broadcaster
	// cpu holds the previous CPU sample per container for usage rates.
	cpu cpuSamples
	// layers remembers writable-layer walks for the stats RPCs.
	layers layerWalks
	// collector samples container stats in the background; nil when
	// stats_collection_period is 0 (sampled on demand).
	collector *statsCollector

	// containers runs the container RPCs; nil when built without a
	// storage store (they answer Unimplemented then).
	containers *container.Manager
	// stream serves exec, attach and port-forward sessions; nil without
	// containers.
	stream *streaming.Server
	// nri relays lifecycle events to NRI plugins; nil when NRI is off.
	nri *nri.Runtime
	// sessions counts each container's open exec, exec-sync and attach
	// sessions against max_exec_sessions_per_container.
	sessions limits.Sessions
	// storageDriver and storageRoot are the store's, for the inspect API.
	storageDriver, storageRoot string
}

// Options carries what the server is built from.
type Options struct {
	Config *config.Live
	Logger *slog.Logger
	// Images is the image service (pull, list, status, remove, fs info).
	Images *image.Service
	// Network attaches pods to the CNI network and tells whether it is
	// ready.
	Network *network.Manager
	// SandboxRoot is the directory of sandboxes' state directories.
	SandboxRoot string
	// Store is the storage store container root filesystems are made on.
	Store cstorage.Store
	// NRI is the NRI runtime, not started yet: New starts it once the
	// server can list and update containers. nil turns NRI off.
	NRI *nri.Runtime
}

// New builds a server from opts.
func New(opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg: opts.Config, log: log, images: opts.Images,
		sandboxes: store.NewSandboxes(), net: opts.Network, sandboxRoot: opts.SandboxRoot,
		podContainers: noPodContainers{},
		events:        events.New(),
		nri:           opts.NRI,
	}
	if s.sandboxRoot != "" {
		if err := s.restoreSandboxes(); err != nil {
			return nil, err
		}
	}
	if opts.Store != nil {
		s.storageDriver, s.storageRoot = opts.Store.GraphDriverName(), opts.Store.GraphRoot()
	}
	if opts.Store != nil && opts.Images != nil {
		m, err := container.New(container.Options{
			Config: opts.Config, Logger: log, Store: opts.Store, Images: opts.Images,
			Sandboxes: s.sandboxes.Get, OnEvent: s.publishContainerEvent, NRI: opts.NRI,
		})
		if err != nil {
			return nil, err
		}
		s.containers = m
		s.podContainers = podContainers{m}
		if s.stream, err = s.newStreamServer(); err != nil {
			m.Close()
			return nil, err
		}
		s.collector = s.startStatsCollector(time.Duration(opts.Config.Get().Stats.StatsCollectionPeriod) * time.Second)
		if err := s.startNRI(); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Register adds the CRI services to g, which should use Codec.
func (s *Server) Register(g *grpc.Server) {
	g.RegisterService(runtimeServiceDesc(), s)
	runtimeapi.RegisterImageServiceServer(g, s)
}

// Close releases what the server holds. Containers keep running.
func (s *Server) Close() error {
	if s.collector != nil {
		s.collector.close()
	}
	if s.stream != nil {
		s.stream.Close()
	}
	if s.containers != nil {
		return s.containers.Close()
	}
	return nil
}
