package testregistry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobStore serves the cached images' blobs straight from the OCI layout
// on disk, so that a warm Start only has to upload manifests, and keeps
// blobs that clients push in memory, so that the shared cache never
// changes after it is built.
type blobStore struct {
	dir string // the layout's blobs directory: <dir>/sha256/<hex>

	mu  sync.RWMutex
	mem map[v1.Hash][]byte
}

var (
	_ registry.BlobHandler       = (*blobStore)(nil)
	_ registry.BlobStatHandler   = (*blobStore)(nil)
	_ registry.BlobPutHandler    = (*blobStore)(nil)
	_ registry.BlobDeleteHandler = (*blobStore)(nil)
)

func newBlobStore(dir string) *blobStore {
	return &blobStore{dir: dir, mem: map[v1.Hash][]byte{}}
}

func (b *blobStore) path(h v1.Hash) string {
	return filepath.Join(b.dir, h.Algorithm, h.Hex)
}

func (b *blobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	b.mu.RLock()
	data, ok := b.mem[h]
	b.mu.RUnlock()
	if ok {
		return int64(len(data)), nil
	}
	fi, err := os.Stat(b.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, registry.ErrNotFound
	} else if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (b *blobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.RLock()
	data, ok := b.mem[h]
	b.mu.RUnlock()
	if ok {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	f, err := os.Open(b.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

func (b *blobStore) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	// rc verifies size and digest as it is read: its error must be returned.
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.mem[h] = data
	b.mu.Unlock()
	return nil
}

func (b *blobStore) Delete(_ context.Context, _ string, h v1.Hash) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.mem[h]; ok {
		delete(b.mem, h)
		return nil
	}
	if _, err := os.Stat(b.path(h)); err == nil {
		return fmt.Errorf("blob %s belongs to the shared image cache and cannot be deleted", h)
	}
	return registry.ErrNotFound
}
