// Package image implements the CRI image service on the daemon's
// go.podman.io/storage store: pull (go.podman.io/image/v5 copy), list,
// status, remove, file-system Usage and pinning.
package image

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
	cstorage "go.podman.io/storage"

	"github.com/crio/crio/internal/config"
)

// Error kinds. Errors returned by this package wrap one of them (errors.Is)
// so that the server maps them to gRPC codes in one place.
var (
	ErrInvalidName  = errors.New("invalid image name")
	ErrNotFound     = errors.New("image not found")
	ErrInUse        = errors.New("image is in use by a container")
	ErrPinned       = errors.New("image is pinned")
	ErrBadImage     = errors.New("image refused")
	ErrUnauthorized = errors.New("registry refused the credentials")
	ErrRejected     = errors.New("image rejected by the signature policy")
	ErrBlocked      = errors.New("registry is blocked")
	ErrUnavailable  = errors.New("registry unavailable")
	ErrStalled      = errors.New("pull made no progress")
	ErrTooMany      = errors.New("registry rate limit")
	ErrPullLimit    = errors.New("too many pulls at once")
)

// Service is the image side of the daemon. It reads the reloadable keys
// (registries, policy, pinned images, pause image) from the live config on
// every call.
type Service struct {
	store cstorage.Store
	cfg   *config.Live
	log   *slog.Logger

	pulls pullGroup
	seen  atomic.Pointer[config.Config] // the config the registries cache was read under
	// pulling counts pulls in flight; the last one to finish hands the
	// memory they used back to the system (see releaseMemory).
	pulling atomic.Int32

	// onPull, when set, is told of every finished pull (for metrics).
	onPull func(bytes int64, d time.Duration, err error)
	// beforeRemove, when set, waits for the storage of removed containers
	// still being deleted in the background.
	beforeRemove func(ids ...string)

	// stagedCommit makes the check that a layer is absent and the
	// ApplyStagedLayer that creates it one step for this process's pulls.
	stagedCommit sync.Mutex
	// noStaging makes pulls apply layers one by one with PutLayer (to
	// compare the two in a benchmark).
	noStaging bool
	// chrootApply makes staged layers unpack in storage's re-executed,
	// chrooted child instead of in this process (to compare the two in
	// a benchmark).
	chrootApply bool

	mu    sync.Mutex
	cache map[string]*cachedInfo // image ID -> facts that never change for an ID
	// checkpoints: image ID -> whether its manifest marks a checkpoint.
	checkpoints map[string]bool
	Usage       map[string]Usage // image layer ID -> disk Usage (image layers are immutable)
}

// New builds the service on store.
func New(store cstorage.Store, cfg *config.Live, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{
		store: store,
		cfg:   cfg,
		log:   log,
		pulls: pullGroup{m: map[string]*flight{}},
		cache: map[string]*cachedInfo{}, checkpoints: map[string]bool{},
		Usage: map[string]Usage{},
	}
}

// OnPull sets a function told of every finished pull: the image's size
// on success, how long it took, and the error. Set it before serving.
func (s *Service) OnPull(f func(bytes int64, d time.Duration, err error)) { s.onPull = f }

// BeforeRemove sets a function RemoveImage calls (with no IDs: wait for
// all) before it checks whether a container uses the image: removed
// containers' storage may still be being deleted. Set it before serving.
func (s *Service) BeforeRemove(f func(ids ...string)) { s.beforeRemove = f }

// config returns the config in force. After a reload (the daemon swaps
// in a new *Config on SIGHUP) it drops go.podman.io/image's cache of
// registries.conf, so edits to those files apply from the next call.
func (s *Service) config() *config.Config {
	c := s.cfg.Get()
	if old := s.seen.Swap(c); old != nil && old != c {
		sysregistriesv2.InvalidateCache()
		s.log.Info("registries configuration will be re-read after a reload")
	}
	return c
}

// Store returns the storage store the service works on.
func (s *Service) Store() cstorage.Store { return s.store }
