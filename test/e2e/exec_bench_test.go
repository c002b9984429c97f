package e2e

import (
	"os/exec"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// BenchmarkExecSync measures a probe-like ExecSync through the daemon
// against its floor: `runc exec` of the same command run directly on
// the same container. The ratio is the daemon's overhead (gRPC, the
// process file, pipes, reaping).
func BenchmarkExecSync(b *testing.B) {
	e := newExecEnv(b)
	id := e.container(b, []string{"sleep", "3600"})
	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("runc not in PATH")
	}
	b.Run("crio", func(b *testing.B) {
		ctx := framework.Ctx(b)
		for b.Loop() {
			r, err := e.d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"true"}, Timeout: 10})
			if err != nil || r.ExitCode != 0 {
				b.Fatalf("ExecSync: %v %v", r, err)
			}
		}
	})
	b.Run("runc-exec", func(b *testing.B) {
		for b.Loop() {
			if out, err := exec.Command(runc, "--root=/run/runc", "exec", id, "true").CombinedOutput(); err != nil {
				b.Fatalf("runc exec: %v: %s", err, out)
			}
		}
	})
}
