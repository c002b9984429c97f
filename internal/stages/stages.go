// Package stages times the steps of one request, for the line its
// handler logs at the end: which step a slow or failed request spent its
// time in, without a tracer.
package stages

import (
	"strings"
	"time"
)

// Timer records how long each named step took. Not safe for concurrent
// use: one request, one goroutine.
type Timer struct {
	start, stepStart time.Time
	step             string
	done             []string
}

// Start begins timing at the first step.
func Start(first string) *Timer {
	now := time.Now()
	return &Timer{start: now, stepStart: now, step: first}
}

// Next ends the current step and begins the named one.
func (t *Timer) Next(name string) {
	now := time.Now()
	t.done = append(t.done, t.step+"="+now.Sub(t.stepStart).Round(10*time.Microsecond).String())
	t.step, t.stepStart = name, now
}

// Step is the step in progress: where a failure happened.
func (t *Timer) Step() string { return t.step }

// Elapsed is the time since Start.
func (t *Timer) Elapsed() time.Duration { return time.Since(t.start) }

// String lists the ended steps as "name=duration,...".
func (t *Timer) String() string { return strings.Join(t.done, ",") }
