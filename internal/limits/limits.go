// Package limits enforces [crio.limits]: how much one request may carry
// and how much one container or client may hold at once. Each refusal
// names the limit's key, so that an operator knows what to raise.
package limits

import (
	"errors"
	"fmt"
	"sync"

	"github.com/crio/crio/internal/config"
)

// ErrExceeded marks a refusal by a limit.
var ErrExceeded = errors.New("limit exceeded")

// Metadata checks the labels and annotations of one config (what names
// it, e.g. "pod sandbox config") against max_labels, max_annotations and
// max_metadata_bytes.
func Metadata(what string, labels, annotations map[string]string, l config.LimitsConfig) error {
	if err := check(what, "labels", "max_labels", labels, l.MaxLabels, l.MaxMetadataBytes); err != nil {
		return err
	}
	return check(what, "annotations", "max_annotations", annotations, l.MaxAnnotations, l.MaxMetadataBytes)
}

func check(what, kind, countKey string, m map[string]string, maxCount, maxBytes int) error {
	if maxCount > 0 && len(m) > maxCount {
		return fmt.Errorf("%w: %s has %d %s, more than [crio.limits] %s = %d", ErrExceeded, what, len(m), kind, countKey, maxCount)
	}
	if maxBytes <= 0 {
		return nil
	}
	size := 0
	for k, v := range m {
		size += len(k) + len(v)
	}
	if size > maxBytes {
		return fmt.Errorf("%w: %s has %d bytes of %s, more than [crio.limits] max_metadata_bytes = %d", ErrExceeded, what, size, kind, maxBytes)
	}
	return nil
}

// Sessions counts the open sessions per key (a container ID).
type Sessions struct {
	mu sync.Mutex
	n  map[string]int
}

// Acquire takes one of key's max sessions (0: unlimited); release gives
// it back and must be called exactly once.
func (s *Sessions) Acquire(key string, max int) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.n[key] >= max {
		return nil, fmt.Errorf("%w: container %s already has %d exec/attach sessions open, [crio.limits] max_exec_sessions_per_container = %d", ErrExceeded, key, s.n[key], max)
	}
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.n[key]--; s.n[key] <= 0 {
				delete(s.n, key)
			}
		})
	}, nil
}
