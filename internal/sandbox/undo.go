// Package sandbox makes and unmakes the host side of a pod: pinned
// namespaces, the infra process, /etc files, /dev/shm, sysctls. The
// orchestration (which step when, CNI, the store) is in server/.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Undo collects the undo step of each completed set-up step and runs them
// in reverse when the set-up fails.
type Undo struct {
	steps []undoStep
}

type undoStep struct {
	name string
	fn   func(context.Context) error
}

// Add registers fn to undo the step just completed.
func (u *Undo) Add(name string, fn func(context.Context) error) {
	u.steps = append(u.steps, undoStep{name, fn})
}

// Run runs every registered step, last first, on a context that ignores
// the caller's cancellation (a kubelet timeout must not stop a clean-up
// half-way) but is bounded. It runs them all even when some fail and
// returns the failures joined.
func (u *Undo) Run(ctx context.Context, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(u.steps) - 1; i >= 0; i-- {
		s := u.steps[i]
		if err := s.fn(ctx); err != nil {
			log.Error("undo step failed", "step", s.name, "error", err)
			errs = append(errs, fmt.Errorf("undo %s: %w", s.name, err))
		}
	}
	u.steps = nil
	return errors.Join(errs...)
}
