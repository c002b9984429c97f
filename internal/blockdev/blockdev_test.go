package blockdev

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNameReadsDevnameAndFallsBackToNumbers(t *testing.T) {
	root := t.TempDir()
	sysDevBlock = root
	t.Cleanup(func() { sysDevBlock = "/sys/dev/block" })
	if err := os.MkdirAll(filepath.Join(root, "254:7"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "254:7", "uevent"), []byte("MAJOR=254\nMINOR=7\nDEVNAME=vdq3\nDEVTYPE=partition\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Name(254, 7); got != "/dev/vdq3" {
		t.Errorf("Name(254, 7) = %q, want /dev/vdq3", got)
	}
	if got := Name(0, 4242); got != "0:4242" {
		t.Errorf("a device sysfs does not list is named %q, want 0:4242", got)
	}
}

func TestOfPathNamesTheRootFileSystemsDevice(t *testing.T) {
	name, err := OfPath("/")
	if err != nil {
		t.Fatal(err)
	}
	if name == "" {
		t.Fatal("no name for the root file system's device")
	}
	if _, err := os.Stat(name); filepath.IsAbs(name) && err != nil {
		t.Errorf("OfPath(/) = %s, which does not exist: %v", name, err)
	}
}
