package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestApplyImageVolumes(t *testing.T) {
	vols := map[string]struct{}{"/data": {}, "/covered": {}, "/escape/sub": {}}
	cfg := &runtimeapi.ContainerConfig{Mounts: []*runtimeapi.Mount{{ContainerPath: "/covered", HostPath: "/x"}}}
	setup := func(t *testing.T) (rootfs, dir, outside string) {
		rootfs, dir, outside = t.TempDir(), t.TempDir(), t.TempDir()
		// A hostile image links a volume's parent out of the rootfs.
		if err := os.Symlink(outside, filepath.Join(rootfs, "escape")); err != nil {
			t.Fatal(err)
		}
		return
	}

	t.Run("mkdir", func(t *testing.T) {
		rootfs, dir, outside := setup(t)
		out, err := applyImageVolumes(cfg, vols, "mkdir", rootfs, dir)
		if err != nil {
			t.Fatal(err)
		}
		if out != cfg {
			t.Error("mkdir changed the mounts")
		}
		if fi, err := os.Stat(filepath.Join(rootfs, "data")); err != nil || !fi.IsDir() {
			t.Errorf("/data not created in the rootfs: %v", err)
		}
		if _, err := os.Stat(filepath.Join(rootfs, "covered")); err == nil {
			t.Error("a volume a CRI mount covers was created")
		}
		if _, err := os.Stat(filepath.Join(outside, "sub")); err == nil {
			t.Error("a volume under a symlink was created outside the rootfs")
		}
	})
	t.Run("bind", func(t *testing.T) {
		rootfs, dir, _ := setup(t)
		out, err := applyImageVolumes(cfg, vols, "bind", rootfs, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Mounts) != 1 {
			t.Error("bind modified the caller's config")
		}
		var data *runtimeapi.Mount
		for _, m := range out.Mounts {
			if m.ContainerPath == "/data" {
				data = m
			}
		}
		if data == nil || filepath.Dir(data.HostPath) != filepath.Join(dir, "volumes") {
			t.Fatalf("no bind mount for /data under the container's dir: %v", out.Mounts)
		}
		if fi, err := os.Stat(data.HostPath); err != nil || !fi.IsDir() {
			t.Errorf("bind source missing: %v", err)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		rootfs, dir, _ := setup(t)
		if _, err := applyImageVolumes(cfg, vols, "ignore", rootfs, dir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(rootfs, "data")); err == nil {
			t.Error("ignore created a volume")
		}
	})
	t.Run("relative", func(t *testing.T) {
		rootfs, dir, _ := setup(t)
		_, err := applyImageVolumes(cfg, map[string]struct{}{"data": {}}, "mkdir", rootfs, dir)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("relative VOLUME: %v, want ErrInvalid", err)
		}
	})
}
