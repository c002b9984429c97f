package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/crio/crio/internal/pause"
)

// pauseEnv is the infra process's whole environment: none of the
// daemon's, and one OS thread for Go code, which keeps its memory small.
var pauseEnv = []string{"GOMAXPROCS=1"}

// RunPause is the infra process run as "crio pause" (see internal/pause).
func RunPause() { pause.Run() }

// InfraBinaryName is the small infra program looked for next to the
// daemon's binary (cmd/crio-pause).
const InfraBinaryName = "crio-pause"

// defaultInfra is the program and arguments of the infra process when
// PinOptions.InfraBinary is empty: crio-pause next to this binary, else
// this binary's "pause" mode.
var defaultInfra = sync.OnceValue(func() []string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), InfraBinaryName)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return []string{p}
		}
	}
	return []string{"/proc/self/exe", "pause"}
})

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
