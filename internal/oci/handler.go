// Package oci runs containers through an OCI runtime binary (runc, crun)
// under conmon.
package oci

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/crio/crio/internal/config"
)

// Handler is a resolved runtime handler: the binaries it runs.
type Handler struct {
	Name        string
	RuntimePath string
	RuntimeRoot string
	MonitorPath string
	Config      config.RuntimeHandler
}

// ResolveHandler finds the binaries of handler name. It fails when the
// handler is not configured or a binary is missing or not executable.
func ResolveHandler(c *config.Config, name string) (*Handler, error) {
	if name == "" {
		name = c.Runtime.DefaultRuntime
	}
	h, ok := c.Runtime.Runtimes[name]
	if !ok {
		return nil, fmt.Errorf("runtime handler %q is not configured", name)
	}
	rt, err := findExecutable(h.RuntimePath, name)
	if err != nil {
		return nil, fmt.Errorf("runtime handler %q: runtime binary: %w", name, err)
	}
	monitor := h.MonitorPath
	if monitor == "" {
		monitor = c.Runtime.Conmon
	}
	mon, err := findExecutable(monitor, "conmon")
	if err != nil {
		return nil, fmt.Errorf("runtime handler %q: monitor: %w", name, err)
	}
	root := h.RuntimeRoot
	if root == "" {
		root = "/run/" + name
	}
	return &Handler{Name: name, RuntimePath: rt, RuntimeRoot: root, MonitorPath: mon, Config: h}, nil
}

// findExecutable checks path, or looks name up in PATH when path is empty.
func findExecutable(path, name string) (string, error) {
	if path == "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s not found in PATH", name)
		}
		return p, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", path)
	}
	return path, nil
}
