package framework

import (
	"os"
	"sync"
	"testing"
)

var (
	binDirOnce sync.Once
	binDir     string
	binDirErr  error
)

// builtDir is the directory this test process builds its binaries into
// (the daemon, its pause program, crictl); Main removes it.
func builtDir() (string, error) {
	binDirOnce.Do(func() {
		binDir, binDirErr = os.MkdirTemp("", "crio-bin-")
	})
	return binDir, binDirErr
}

// Main runs a package's tests, then removes the binaries built for them:
// 50 MB per test process otherwise stays in /tmp.
func Main(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
