package framework

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	crictlOnce sync.Once
	crictlPath string
	crictlErr  error
)

// Crictl returns a crictl binary: $CRICTL_BINARY, or one built once per
// test process from the version hack/tools pins.
func Crictl(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CRICTL_BINARY"); p != "" {
		return p
	}
	crictlOnce.Do(func() {
		dir, err := builtDir()
		if err != nil {
			crictlErr = err
			return
		}
		crictlPath = filepath.Join(dir, "crictl")
		cmd := exec.Command("go", "build", "-o", crictlPath, "sigs.k8s.io/cri-tools/cmd/crictl")
		cmd.Dir = filepath.Join(RepoRoot(), "hack", "tools")
		if out, err := cmd.CombinedOutput(); err != nil {
			crictlErr = fmt.Errorf("building crictl: %v\n%s", err, out)
		}
	})
	if crictlErr != nil {
		t.Fatal(crictlErr)
	}
	return crictlPath
}

// Crictl runs crictl against the daemon and returns its stdout; stderr
// comes back in the error when it fails.
func (d *Daemon) Crictl(args ...string) (string, error) {
	d.t.Helper()
	ep := "unix://" + d.Socket
	cmd := exec.Command(Crictl(d.t), append([]string{"--runtime-endpoint", ep, "--image-endpoint", ep, "--timeout", "60s"}, args...)...)
	// An empty config file keeps crictl from reading /etc/crictl.yaml.
	cfg := filepath.Join(d.Dir, "crictl.yaml")
	if _, err := os.Stat(cfg); err != nil {
		_ = os.WriteFile(cfg, nil, 0o644)
	}
	cmd.Args = append(cmd.Args[:1], append([]string{"--config", cfg}, cmd.Args[1:]...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("crictl %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), nil
}
