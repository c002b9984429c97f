package container

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"go.podman.io/storage/pkg/idtools"
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
		out, err := applyImageVolumes(cfg, vols, "mkdir", rootfs, dir, nil)
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
	t.Run("mkdir for a user-namespaced pod", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("chown needs root")
		}
		rootfs, dir, _ := setup(t)
		owner := &idtools.IDPair{UID: 200000, GID: 200001}
		if _, err := applyImageVolumes(cfg, map[string]struct{}{"/a/b": {}}, "mkdir", rootfs, dir, owner); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]uint32{"a": 200000, "a/b": 200000, ".": 0} {
			fi, err := os.Stat(filepath.Join(rootfs, p))
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != want || (want != 0 && st.Gid != 200001) {
				t.Errorf("%s owned by %d:%d; want uid %d (made dirs go to the mapped root, nothing else changes)", p, st.Uid, st.Gid, want)
			}
		}
	})
	t.Run("bind", func(t *testing.T) {
		rootfs, dir, _ := setup(t)
		out, err := applyImageVolumes(cfg, vols, "bind", rootfs, dir, nil)
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
		if _, err := applyImageVolumes(cfg, vols, "ignore", rootfs, dir, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(rootfs, "data")); err == nil {
			t.Error("ignore created a volume")
		}
	})
	t.Run("relative", func(t *testing.T) {
		rootfs, dir, _ := setup(t)
		_, err := applyImageVolumes(cfg, map[string]struct{}{"data": {}}, "mkdir", rootfs, dir, nil)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("relative VOLUME: %v, want ErrInvalid", err)
		}
	})
}
