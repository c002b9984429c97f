// Package failpoint makes the daemon die at a named step of a multi-step
// operation, so that tests can check that a restart after a crash at that
// step finishes or cleans up what the operation made.
//
// The failpoints to arm are read once, at start, from the environment
// variable CRIO_FAILPOINTS (a comma-separated list of names). When it is
// unset, Hit is a nil-map lookup and nothing else.
package failpoint

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Env names the environment variable that arms failpoints.
const Env = "CRIO_FAILPOINTS"

// The failpoints, in the order an operation reaches them. Each is placed
// right after a step that made something outside the daemon's memory
// (a file, a mount, a process, a lease) and before the step that records
// or finishes it.
const (
	SandboxAfterCgroup     = "sandbox-after-cgroup"
	SandboxAfterNetnsPin   = "sandbox-after-netns-pin"
	SandboxAfterCNIAdd     = "sandbox-after-cni-add"
	SandboxAfterStateFile  = "sandbox-after-state-file"
	SandboxStopAfterCNIDel = "sandbox-stop-after-cni-del"
	SandboxRemoveAfterCtrs = "sandbox-remove-after-containers"
	SandboxRemoveAfterPins = "sandbox-remove-after-unpin"

	ContainerAfterStorage       = "container-after-storage"
	ContainerAfterRuntimeCreate = "container-after-runtime-create"
	ContainerAfterStateFile     = "container-after-state-file"
	ContainerAfterRuntimeStart  = "container-after-runtime-start"
	ContainerStopAfterKill      = "container-stop-after-kill"
	ContainerRemoveAfterRuntime = "container-remove-after-runtime-delete"
	ContainerRemoveAfterState   = "container-remove-after-state-file"

	ImagePullAfterCopy = "image-pull-after-copy"
)

// All lists every failpoint, for tests that visit each in turn.
var All = []string{
	SandboxAfterCgroup, SandboxAfterNetnsPin, SandboxAfterCNIAdd, SandboxAfterStateFile,
	SandboxStopAfterCNIDel, SandboxRemoveAfterCtrs, SandboxRemoveAfterPins,
	ContainerAfterStorage, ContainerAfterRuntimeCreate, ContainerAfterStateFile,
	ContainerAfterRuntimeStart, ContainerStopAfterKill,
	ContainerRemoveAfterRuntime, ContainerRemoveAfterState,
	ImagePullAfterCopy,
}

// armed is set once, before any goroutine reads it; nil when none are.
var armed = parse(os.Getenv(Env))

func parse(v string) map[string]bool {
	var m map[string]bool
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			if m == nil {
				m = map[string]bool{}
			}
			m[name] = true
		}
	}
	return m
}

// Armed reports the failpoints in force, for the start-up log.
func Armed() []string {
	var out []string
	for n := range armed {
		out = append(out, n)
	}
	return out
}

// Hit kills the process with SIGKILL when the failpoint name is armed:
// no deferred function, no clean-up, as the OOM killer would.
func Hit(name string) {
	if armed == nil || !armed[name] {
		return
	}
	// Straight to the file descriptor: the logger may buffer.
	fmt.Fprintf(os.Stderr, "failpoint %s hit: killing the daemon\n", name)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way; go no further
}
