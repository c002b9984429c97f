package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogToJournaldWithoutJournaldLogsToFileAndWarnsOnce: log_to_journald
// asks conmon to copy container output to the journal; on a host without
// journald the containers still run and log to the kubelet's file, and the
// daemon says once why nothing reaches a journal.
func TestLogToJournaldWithoutJournaldLogsToFileAndWarnsOnce(t *testing.T) {
	if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
		t.Skip("journald runs on this host; this test is about its absence")
	}
	d := containerDaemon(t)
	d.WriteDropIn("60-journald.conf", "[crio.runtime]\nlog_to_journald = true\n")
	d.Stop()
	d.Start()
	podID, pc := pod(t, d, "journald")
	for _, name := range []string{"first", "second"} {
		id := run(t, d, podID, pc, ctrConfig(name, []string{"echo", "hello from " + name}))
		waitExited(t, d, id, 30*time.Second)
		if out := strings.Join(logText(t, filepath.Join(pc.LogDirectory, name+".log")), "\n"); !strings.Contains(out, "hello from "+name) {
			t.Errorf("container %s's output is not in its log file:\n%s", name, out)
		}
	}
	if n := strings.Count(d.Log(), "log_to_journald is set but journald is not running"); n != 1 {
		t.Errorf("daemon warned %d times about the missing journal, want once:\n%s", n, d.LogTail(30))
	}
}
