// Package store keeps the daemon's objects in memory for reads and on disk
// for restarts. The generic pieces here (IDs, prefix lookup, name
// reservation, atomic state files) serve both sandboxes and containers;
// sandbox.go holds the sandbox record.
package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Errors callers map to gRPC codes.
var (
	ErrNotFound  = errors.New("not found")
	ErrAmbiguous = errors.New("ambiguous ID prefix")
)

// GenerateID returns a random 64-hex-digit ID, as CRI-O and containerd use.
func GenerateID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err)) // the kernel's RNG does not fail
	}
	return hex.EncodeToString(b[:])
}

// Index maps IDs to objects and resolves unique ID prefixes. It is safe for
// concurrent use; Get never blocks on anything but the index itself.
type Index[T any] struct {
	mu   sync.RWMutex
	byID map[string]T
}

// NewIndex returns an empty index.
func NewIndex[T any]() *Index[T] { return &Index[T]{byID: map[string]T{}} }

// Add stores v under id, replacing what was there.
func (x *Index[T]) Add(id string, v T) {
	x.mu.Lock()
	x.byID[id] = v
	x.mu.Unlock()
}

// Delete removes id; removing an absent ID is not an error.
func (x *Index[T]) Delete(id string) {
	x.mu.Lock()
	delete(x.byID, id)
	x.mu.Unlock()
}

// Get resolves a full ID or a unique prefix of one. It returns ErrNotFound
// or ErrAmbiguous (wrapped with the prefix).
func (x *Index[T]) Get(prefix string) (T, error) {
	var zero T
	if prefix == "" {
		return zero, fmt.Errorf("empty ID: %w", ErrNotFound)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if v, ok := x.byID[prefix]; ok {
		return v, nil
	}
	var found T
	n := 0
	for id, v := range x.byID {
		if strings.HasPrefix(id, prefix) {
			found = v
			n++
		}
	}
	switch n {
	case 0:
		return zero, fmt.Errorf("%q: %w", prefix, ErrNotFound)
	case 1:
		return found, nil
	}
	return zero, fmt.Errorf("%q matches %d IDs: %w", prefix, n, ErrAmbiguous)
}

// List returns every object, in no particular order.
func (x *Index[T]) List() []T {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]T, 0, len(x.byID))
	for _, v := range x.byID {
		out = append(out, v)
	}
	return out
}

// Len is the number of objects.
func (x *Index[T]) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// WriteFileAtomic replaces path with data so that a reader (or a daemon
// starting after a crash) sees the old or the new content, never a part:
// write a temporary file in the same directory, fsync, rename, fsync the dir.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return replaceFile(path, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: readers and a daemon
// restarted after a crash still see the old or the new content, but a
// power loss may lose both. For files that are rebuilt or meaningless
// after a reboot (a pod's resolv.conf, hosts), where an fsync costs
// milliseconds on a busy disk for nothing.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return replaceFile(path, data, perm, false)
}

func replaceFile(path string, data []byte, perm os.FileMode, sync bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: the rename is already visible
		d.Close()
	}
	return nil
}

// WriteJSON writes v as JSON to path atomically.
func WriteJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return WriteFileAtomic(path, data, 0o600)
}

// ReadJSON reads path into v.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}
