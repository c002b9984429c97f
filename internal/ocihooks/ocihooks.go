// Package ocihooks adds the OCI hooks that hooks.d files (the format of
// containers-common, as CRI-O and Podman read it) select for a container
// to its OCI spec; the OCI runtime then runs them.
package ocihooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/common/pkg/hooks"
)

// Hooks holds the hook configurations of the configured directories and
// keeps them current while the daemon runs.
type Hooks struct {
	m      *hooks.Manager
	cancel context.CancelFunc
	done   chan error
}

// New reads the hooks.d files of dirs (later directories override files of
// the same name in earlier ones) and watches the directories for changes.
// A directory that does not exist is skipped, as CRI-O's default
// /usr/share/containers/oci/hooks.d is absent on most nodes; a malformed
// file fails the start, so that a hook an operator relies on is never
// silently left out. It returns nil when no directory exists.
func New(dirs []string, log *slog.Logger) (*Hooks, error) {
	var present []string
	for _, d := range dirs {
		fi, err := os.Stat(d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return nil, fmt.Errorf("hooks_dir %s: %w", d, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("hooks_dir %s is not a directory", d)
		}
		present = append(present, d)
	}
	if len(present) == 0 {
		return nil, nil
	}
	// No extension stages: every stage, prestart included, is left to the
	// OCI runtime, which runs it at the point the runtime spec defines.
	m, err := hooks.New(context.Background(), present, nil)
	if err != nil {
		return nil, fmt.Errorf("reading OCI hooks from %v: %w", present, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hooks{m: m, cancel: cancel, done: make(chan error, 2)}
	go m.Monitor(ctx, h.done)
	if err := <-h.done; err != nil {
		cancel()
		return nil, fmt.Errorf("watching OCI hooks directories %v: %w", present, err)
	}
	if log != nil {
		log.Info("OCI hooks loaded", "dirs", present)
	}
	return h, nil
}

// Apply adds the hooks whose conditions match to s. hasBindMounts is
// whether the container asked for mounts, as in CRI-O.
func (h *Hooks) Apply(s *rspec.Spec, annotations map[string]string, hasBindMounts bool) error {
	if h == nil {
		return nil
	}
	if _, err := h.m.Hooks(s, annotations, hasBindMounts); err != nil {
		return fmt.Errorf("OCI hooks: %w", err)
	}
	return nil
}

// Close stops watching the directories.
func (h *Hooks) Close() {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
}
