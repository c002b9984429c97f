package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// pauseEnv is the infra process's whole environment: none of the
// daemon's, and one OS thread for Go code, which keeps its memory small
// (most of its resident size is the binary's pages, shared with the
// daemon and every other infra process).
var pauseEnv = []string{"GOMAXPROCS=1"}

// RunPause is the infra process ("crio pause"): PID 1 of the pod's PID
// namespace. It reaps orphans and exits on SIGTERM or SIGINT.
func RunPause() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}

var (
	oomMu      sync.Mutex
	oomAllowed = true
)

// SetOOMScoreAdj sets pid's oom_score_adj. Without CAP_SYS_RESOURCE the
// kernel refuses values below the current one; the first refusal is
// returned as an error (to be logged as a warning) and later calls skip
// negative values silently, so the pod runs with the host's default.
func SetOOMScoreAdj(pid, score int) error {
	oomMu.Lock()
	defer oomMu.Unlock()
	if score < 0 && !oomAllowed {
		return nil
	}
	err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte(fmt.Sprint(score)), 0o644)
	if err != nil && score < 0 && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) {
		oomAllowed = false
		return fmt.Errorf("the host does not allow a negative oom_score_adj (no CAP_SYS_RESOURCE); infra processes keep the default: %w", err)
	}
	return err
}
