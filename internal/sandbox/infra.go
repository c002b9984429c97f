package sandbox

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/crio/crio/internal/procstat"
)

// The infra process carries its namespaces dir and sandbox ID in its
// environment, so that a daemon restarted after a crash (or the leak
// checker) can find an infra process no state file recorded, without
// mistaking another daemon's for its own.
const (
	infraDirEnv = "CRIO_INFRA_NAMESPACES_DIR="
	infraIDEnv  = "CRIO_INFRA_SANDBOX="
)

func infraEnv(o PinOptions) []string {
	return append(append([]string{}, pauseEnv...), infraDirEnv+o.Dir, infraIDEnv+o.ID)
}

// InfraProcess is an infra process found in /proc.
type InfraProcess struct {
	PID       int
	StartTime uint64
	SandboxID string
}

// FindInfra lists the infra processes started for pods pinned under
// nsDir ([crio.runtime] namespaces_dir), from their environment.
func FindInfra(nsDir string) []InfraProcess {
	wantDir := []byte(infraDirEnv + nsDir)
	var out []InfraProcess
	for _, pid := range procstat.PIDs() {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil || !bytes.Contains(env, []byte(infraIDEnv)) {
			continue
		}
		var dirOK bool
		var id string
		for _, kv := range bytes.Split(env, []byte{0}) {
			switch {
			case bytes.Equal(kv, wantDir):
				dirOK = true
			case bytes.HasPrefix(kv, []byte(infraIDEnv)):
				id = string(kv[len(infraIDEnv):])
			}
		}
		if !dirOK || id == "" {
			continue
		}
		st, err := procstat.StartTime(pid)
		if err != nil {
			continue // gone or a zombie
		}
		out = append(out, InfraProcess{PID: pid, StartTime: st, SandboxID: id})
	}
	return out
}

// IsNamespace reports whether path is a namespace file (a live pin).
func IsNamespace(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}
