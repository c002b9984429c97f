package ocihooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNewSkipsAbsentDirsAndRefusesMalformedFiles(t *testing.T) {
	dir := t.TempDir()
	h, err := New([]string{filepath.Join(dir, "absent")}, nil)
	if err != nil || h != nil {
		t.Fatalf("New with only an absent dir = %v, %v; want nil, nil", h, err)
	}
	if err := h.Apply(&rspec.Spec{}, nil, false); err != nil {
		t.Fatalf("Apply on no hooks: %v", err)
	}
	h.Close()

	bad := filepath.Join(dir, "hooks.d")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "broken.json"), []byte(`{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"always": true}, "stages": ["prestart"],}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New([]string{bad}, nil); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Fatalf("New with a malformed hooks file: %v; want an error naming the file", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New([]string{file}, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("New with a file as hooks_dir: %v", err)
	}
}

func TestApplyAddsMatchingHooksByStage(t *testing.T) {
	dir := t.TempDir()
	hook := `{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"commands": ["^/bin/sh$"]}, "stages": ["prestart", "poststop"]}`
	if err := os.WriteFile(filepath.Join(dir, "sh.json"), []byte(hook), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := New([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	sh := &rspec.Spec{Process: &rspec.Process{Args: []string{"/bin/sh"}}}
	if err := h.Apply(sh, nil, false); err != nil {
		t.Fatal(err)
	}
	// prestart is the runtime's createRuntime stage.
	if sh.Hooks == nil || len(sh.Hooks.CreateRuntime) != 1 || len(sh.Hooks.Poststop) != 1 || sh.Hooks.CreateRuntime[0].Path != "/bin/true" {
		t.Fatalf("hooks of a matching container = %+v", sh.Hooks)
	}
	other := &rspec.Spec{Process: &rspec.Process{Args: []string{"/bin/sleep"}}}
	if err := h.Apply(other, nil, false); err != nil {
		t.Fatal(err)
	}
	if other.Hooks != nil && (len(other.Hooks.CreateRuntime)+len(other.Hooks.Poststop)) != 0 {
		t.Fatalf("hooks added to a container that does not match: %+v", other.Hooks)
	}
}
