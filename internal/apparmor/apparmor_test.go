package apparmor

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKernel points the package at files in a temporary directory: an
// enabled AppArmor module with the given profiles loaded. It returns the
// names install was called with.
func fakeKernel(t *testing.T, profiles string, installErr error) *[]string {
	t.Helper()
	dir := t.TempDir()
	sec := filepath.Join(dir, "apparmor")
	if err := os.MkdirAll(sec, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "enabled"), []byte("Y\n"), 0o644)
	os.WriteFile(filepath.Join(sec, "profiles"), []byte(profiles), 0o644)
	var installed []string
	oldE, oldS, oldP, oldI, oldF := enabledFile, securityDir, profilesFile, install, parserFound
	parserFound = func() bool { return true }
	enabledFile, securityDir, profilesFile = filepath.Join(dir, "enabled"), sec, filepath.Join(sec, "profiles")
	install = func(name string) error {
		installed = append(installed, name)
		return installErr
	}
	t.Cleanup(func() { enabledFile, securityDir, profilesFile, install, parserFound = oldE, oldS, oldP, oldI, oldF })
	return &installed
}

func logger(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

func TestLoadedMatchesWholeProfileNames(t *testing.T) {
	fakeKernel(t, "crio-default-old (enforce)\nnvidia_modprobe//kmod (enforce)\ncri-deny (complain)\n", nil)
	for name, want := range map[string]bool{"cri-deny": true, "crio-default": false, "crio-default-old": true, "nvidia_modprobe//kmod": true, "cri": false} {
		if got, err := Loaded(name); err != nil || got != want {
			t.Errorf("Loaded(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestLoadDefaultWithoutAppArmorDoesNothing(t *testing.T) {
	installed := fakeKernel(t, "", nil)
	os.WriteFile(enabledFile, []byte("N\n"), 0o644)
	if d := LoadDefault("", logger(new(bytes.Buffer))); d != (Default{}) || len(*installed) != 0 {
		t.Fatalf("LoadDefault on a host without AppArmor = %+v, installed %v; want nothing", d, *installed)
	}
}

func TestLoadDefaultInstallsCrioDefaultOnlyWhenNotLoaded(t *testing.T) {
	installed := fakeKernel(t, "crio-default (enforce)\n", nil)
	if d := LoadDefault("", logger(new(bytes.Buffer))); d.Name != DefaultProfile || d.Err != nil || len(*installed) != 0 {
		t.Fatalf("already loaded: %+v, installed %v; want %s with no apparmor_parser run", d, *installed, DefaultProfile)
	}
	installed = fakeKernel(t, "other (enforce)\n", nil)
	if d := LoadDefault(DefaultProfile, logger(new(bytes.Buffer))); d.Name != DefaultProfile || d.Err != nil || len(*installed) != 1 || (*installed)[0] != DefaultProfile {
		t.Fatalf("not loaded: %+v, installed %v; want %s installed once", d, *installed, DefaultProfile)
	}
}

func TestLoadDefaultFailureWarnsAndKeepsTheReason(t *testing.T) {
	fakeKernel(t, "", errors.New("find `apparmor_parser` binary: not found"))
	var log bytes.Buffer
	d := LoadDefault("", logger(&log))
	if d.Name != DefaultProfile || d.Err == nil || !strings.Contains(d.Err.Error(), "apparmor_parser") {
		t.Fatalf("LoadDefault = %+v; want %s with the parser's error", d, DefaultProfile)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), DefaultProfile) {
		t.Fatalf("log %q has no warning naming %s", log.String(), DefaultProfile)
	}
}

func TestLoadDefaultNeverInstallsOtherNames(t *testing.T) {
	installed := fakeKernel(t, "mine (enforce)\n", nil)
	if d := LoadDefault("mine", logger(new(bytes.Buffer))); d.Name != "mine" || d.Err != nil {
		t.Fatalf("loaded custom profile: %+v", d)
	}
	d := LoadDefault("absent", logger(new(bytes.Buffer)))
	if d.Name != "absent" || d.Err == nil || !strings.Contains(d.Err.Error(), `"absent"`) {
		t.Fatalf("absent custom profile: %+v; want an error naming it", d)
	}
	if d := LoadDefault(Unconfined, logger(new(bytes.Buffer))); d.Name != Unconfined || d.Err != nil {
		t.Fatalf("unconfined: %+v", d)
	}
	if len(*installed) != 0 {
		t.Fatalf("apparmor_parser ran for %v; only %s is ever installed", *installed, DefaultProfile)
	}
}

// Without apparmor_parser the default profile cannot be loaded, and as in
// CRI-O and containerd RuntimeDefault containers then run unconfined
// rather than every pod of the node being refused.
func TestLoadDefaultWithoutTheParserRunsDefaultsUnconfined(t *testing.T) {
	installed := fakeKernel(t, "", nil)
	parserFound = func() bool { return false }
	var log bytes.Buffer
	if d := LoadDefault("", logger(&log)); d.Name != Unconfined || d.Err != nil || len(*installed) != 0 {
		t.Fatalf("LoadDefault without apparmor_parser = %+v, installed %v; want unconfined, nothing run", d, *installed)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "apparmor_parser") {
		t.Fatalf("log %q has no warning naming apparmor_parser", log.String())
	}
}
