package failpoint

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestParseArmsTheListedNames(t *testing.T) {
	if m := parse(""); m != nil {
		t.Errorf("parse(\"\") = %v; want nil (nothing armed, no cost)", m)
	}
	m := parse(" a, b ,,")
	if len(m) != 2 || !m["a"] || !m["b"] {
		t.Errorf("parse = %v; want a and b", m)
	}
}

func TestEveryFailpointIsListedOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range All {
		if seen[n] || n == "" || strings.Contains(n, ",") {
			t.Errorf("failpoint %q listed twice, empty or with a comma", n)
		}
		seen[n] = true
	}
}

// TestHitKillsTheProcess runs this test binary as a child with a
// failpoint armed and checks that it dies by SIGKILL at Hit, and that an
// unarmed name does nothing.
func TestHitKillsTheProcess(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") != "" {
		Hit("not-armed")
		Hit(SandboxAfterCNIAdd)
		os.Exit(0) // not reached when the failpoint works
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHitKillsTheProcess$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"="+SandboxAfterCNIAdd)
	out, err := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, %s; want it killed by SIGKILL", err, out)
	}
	if !strings.Contains(string(out), "failpoint "+SandboxAfterCNIAdd+" hit") {
		t.Errorf("child output %q does not name the failpoint", out)
	}
}
