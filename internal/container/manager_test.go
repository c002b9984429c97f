package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"bin", "usr/local/bin", "opt"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "bin/sh"), nil, 0o755)
	os.WriteFile(filepath.Join(root, "usr/local/bin/app"), nil, 0o755)
	// An absolute symlink is resolved inside the rootfs: /bin/link -> /bin/sh.
	os.Symlink("/bin/sh", filepath.Join(root, "bin/link"))
	// A symlink to a host binary that is not in the rootfs does not count.
	os.Symlink("/usr/bin/env", filepath.Join(root, "bin/hostonly"))
	for _, tc := range []struct {
		cmd string
		env []string
		ok  bool
	}{
		{"sh", nil, true},
		{"/bin/sh", nil, true},
		{"app", nil, true},
		{"app", []string{"PATH=/bin"}, false},
		{"/bin/link", nil, true},
		{"/bin/hostonly", nil, false},
		{"/opt", nil, false}, // a directory
		{"nope", nil, false},
		{"./relative", nil, true}, // left to the runtime
	} {
		err := checkCommand(root, tc.cmd, tc.env)
		if (err == nil) != tc.ok {
			t.Errorf("checkCommand(%q, %v) = %v; want ok=%v", tc.cmd, tc.env, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("checkCommand(%q): %v is not ErrInvalid", tc.cmd, err)
		}
	}
}
