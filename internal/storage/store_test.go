package storage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crio/crio/internal/config"
)

func TestOptionsHonourStorageConfUnderCrioConf(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "storage.conf")
	if err := os.WriteFile(conf, []byte(`[storage]
driver = "vfs"
graphroot = "/from/storage.conf"
[storage.options.overlay]
mountopt = "nodev"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(storageConfEnv, "") // restored after the test; Options sets it
	cfg := config.Default()
	cfg.StorageConf = conf
	cfg.Root, cfg.RunRoot = filepath.Join(dir, "root"), filepath.Join(dir, "run")

	opts, err := Options(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.GraphRoot != cfg.Root || opts.RunRoot != cfg.RunRoot {
		t.Errorf("roots = %s, %s; want crio.conf's %s, %s", opts.GraphRoot, opts.RunRoot, cfg.Root, cfg.RunRoot)
	}
	if opts.GraphDriverName != "overlay" {
		t.Errorf("driver = %q; want crio.conf's overlay over storage.conf's vfs", opts.GraphDriverName)
	}
	if !slices.Contains(opts.GraphDriverOptions, "overlay.mountopt=nodev") {
		t.Errorf("driver options %v lack storage.conf's overlay.mountopt=nodev", opts.GraphDriverOptions)
	}

	cfg.StorageDriver = ""
	cfg.StorageOptions = []string{"overlay.mountopt=nosuid"}
	opts, err = Options(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.GraphDriverName != "vfs" || !slices.Equal(opts.GraphDriverOptions, []string{"overlay.mountopt=nosuid"}) {
		t.Errorf("driver %q options %v; want storage.conf's vfs and crio.conf's options", opts.GraphDriverName, opts.GraphDriverOptions)
	}

	cfg.StorageConf = filepath.Join(dir, "absent.conf")
	if _, err := Options(cfg); err == nil {
		t.Error("a storage_conf that does not exist was accepted")
	}
}
