// Package checkpoint makes and reads container checkpoint archives in the
// layout CRI-O and Podman use (checkpointctl's lib names the files), and
// says whether CRIU works on this host.
package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ErrUnavailable says checkpoint/restore cannot run on this host: no
// criu, or `criu check` fails, or enable_criu_support is off.
var ErrUnavailable = errors.New("checkpoint/restore is not available")

// CRIU is the result of running `criu check` once.
type CRIU struct {
	once    sync.Once
	path    string
	version string
	err     error
}

// DefaultCRIU is the host's criu, checked on first use.
var DefaultCRIU = &CRIU{}

// Check runs `criu check` the first time and returns its verdict, the
// same ever after: nil when CRIU can checkpoint here, else an error
// wrapping ErrUnavailable that quotes criu's output.
func (c *CRIU) Check() error {
	c.once.Do(c.run)
	return c.err
}

// Version is `criu --version`'s version line, once Check succeeded.
func (c *CRIU) Version() string {
	c.once.Do(c.run)
	return c.version
}

func (c *CRIU) run() {
	p, err := exec.LookPath("criu")
	if err != nil {
		c.err = fmt.Errorf("%w: criu not found in PATH", ErrUnavailable)
		return
	}
	c.path = p
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "check").CombinedOutput()
	if err != nil {
		c.err = fmt.Errorf("%w: %s check: %v: %s", ErrUnavailable, p, err, lastLines(string(out), 5))
		return
	}
	if v, err := exec.CommandContext(ctx, p, "--version").Output(); err == nil {
		for _, l := range strings.Split(string(v), "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Version:"); ok {
				c.version = strings.TrimSpace(s)
			}
		}
	}
}

// lastLines keeps the end of a long output, on one line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
