package oci

import (
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// journald decides whether conmon also writes container output to the
// journal (log_to_journald, as CRI-O passes conmon `--log-path journald:`).
type journald struct {
	// available reports whether journald's socket takes messages; a var
	// so that tests can point it at a socket of their own.
	available func() bool
	warnOnce  sync.Once
}

// journalLogArgs are the extra conmon arguments for container output: none
// unless log_to_journald is set and journald is there. Without journald
// (no systemd as PID 1) conmon's journal writes would fail, so the
// container logs to the kubelet's file only, with one warning per daemon.
func (r *Runtime) journalLogArgs() []string {
	if !r.cfg.Runtime.LogToJournald {
		return nil
	}
	if !r.journal.available() {
		r.journal.warnOnce.Do(func() {
			r.log.Warn("log_to_journald is set but journald is not running (no /run/systemd/journal/socket); container output goes to the log file only")
		})
		return nil
	}
	return []string{"-l", "journald:"}
}

func newJournald() *journald { return &journald{available: journal.Enabled} }
