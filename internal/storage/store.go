// Package storage owns the one go.podman.io/storage store of the daemon:
// images live in it, and container root filesystems are created on it.
package storage

import (
	"fmt"
	"os"
	"sync"

	cstorage "go.podman.io/storage"
	stypes "go.podman.io/storage/types"

	"github.com/crio/crio/internal/config"
)

// Store wraps the storage store so that it is opened once and shut down
// once; Store.Store is the go.podman.io/storage API for everything else.
type Store struct {
	cstorage.Store
	once sync.Once
}

// storageConfEnv is the variable go.podman.io/storage reads the path of
// storage.conf from; it offers no other way to name the file.
const storageConfEnv = "CONTAINERS_STORAGE_CONF"

// Options builds the store options: storage.conf (crio.storage_conf, or
// the system's when present) first, then the keys of crio.conf over it.
func Options(cfg *config.Config) (stypes.StoreOptions, error) {
	if cfg.StorageConf != "" {
		if _, err := os.Stat(cfg.StorageConf); err != nil {
			return stypes.StoreOptions{}, fmt.Errorf("crio.storage_conf: %w", err)
		}
		os.Setenv(storageConfEnv, cfg.StorageConf)
	}
	opts, err := stypes.LoadStoreOptions(stypes.LoadOptions{})
	if err != nil {
		return stypes.StoreOptions{}, fmt.Errorf("reading storage.conf: %w", err)
	}
	if cfg.Root != "" {
		opts.GraphRoot = cfg.Root
	}
	if cfg.RunRoot != "" {
		opts.RunRoot = cfg.RunRoot
	}
	switch cfg.StorageDriver {
	case "":
	case "overlay2":
		opts.GraphDriverName = "overlay"
	default:
		opts.GraphDriverName = cfg.StorageDriver
	}
	if opts.GraphDriverName == "" {
		opts.GraphDriverName = "overlay"
	}
	if len(cfg.StorageOptions) > 0 {
		opts.GraphDriverOptions = append([]string(nil), cfg.StorageOptions...)
	}
	return opts, nil
}

// New opens the store described by cfg.
func New(cfg *config.Config) (*Store, error) {
	opts, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	s, err := cstorage.GetStore(opts)
	if err != nil {
		return nil, fmt.Errorf("opening %s storage at %s: %w", opts.GraphDriverName, opts.GraphRoot, err)
	}
	return &Store{Store: s}, nil
}

// Close unmounts the driver's home and releases the store's locks. Layers
// still mounted by running containers stay mounted (force=false).
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		if _, e := s.Store.Shutdown(false); e != nil {
			err = fmt.Errorf("shutting down storage: %w", e)
		}
	})
	return err
}
