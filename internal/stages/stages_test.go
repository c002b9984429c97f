package stages

import (
	"strings"
	"testing"
	"time"
)

func TestTimerListsEndedStepsInOrder(t *testing.T) {
	tm := Start("a")
	time.Sleep(2 * time.Millisecond)
	tm.Next("b")
	tm.Next("c")
	if tm.Step() != "c" {
		t.Fatalf("step in progress = %q, want c", tm.Step())
	}
	parts := strings.Split(tm.String(), ",")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "a=") || !strings.HasPrefix(parts[1], "b=") {
		t.Fatalf("String() = %q", tm.String())
	}
	d, err := time.ParseDuration(strings.TrimPrefix(parts[0], "a="))
	if err != nil || d < 2*time.Millisecond {
		t.Fatalf("step a took %v (%v), want at least 2ms", d, err)
	}
	// Steps are rounded to 10µs, so a step may print up to 5µs longer
	// than it took.
	if tm.Elapsed() < d-5*time.Microsecond {
		t.Fatalf("elapsed %v is less than step a's %v", tm.Elapsed(), d)
	}
}
