package oci

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crio/crio/internal/config"
)

// TestLogToJournaldFollowsTheJournalSocket points the journal probe at a
// unixgram socket of the test's: while it listens conmon is told to log to
// journald too; once it is gone the container logs to its file only and the
// daemon warns once.
func TestLogToJournaldFollowsTheJournalSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "journal.socket")
	lis, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := config.Default()
	cfg.Runtime.LogToJournald = true
	r := &Runtime{cfg: cfg, log: slog.New(slog.NewTextHandler(&logs, nil)), journal: &journald{available: func() bool {
		c, err := net.Dial("unixgram", sock)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}}}

	if got := r.journalLogArgs(); !slices.Equal(got, []string{"-l", "journald:"}) {
		t.Errorf("with journald listening, conmon gets %q; want -l journald:", got)
	}
	lis.Close()
	for range 2 {
		if got := r.journalLogArgs(); len(got) != 0 {
			t.Errorf("without journald, conmon gets %q; want nothing", got)
		}
	}
	if n := strings.Count(logs.String(), "log_to_journald"); n != 1 {
		t.Errorf("warned %d times about the missing journal, want once:\n%s", n, logs.String())
	}

	cfg.Runtime.LogToJournald = false
	r.journal.available = func() bool { return true }
	if got := r.journalLogArgs(); len(got) != 0 {
		t.Errorf("log_to_journald = false still gives conmon %q", got)
	}
}
