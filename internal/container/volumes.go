package container

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/idtools"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// applyImageVolumes handles the VOLUMEs an image declares that no CRI
// mount covers, as [crio.image] image_volumes says: "mkdir" creates the
// directory in the rootfs, "bind" mounts a fresh directory kept with the
// container's state over it, "ignore" does nothing. It returns cfg, or a
// copy with the bind mounts added. Directories it makes belong to owner
// (the pod's mapped root in a user namespace; nil: the host's root).
func applyImageVolumes(cfg *runtimeapi.ContainerConfig, volumes map[string]struct{}, mode, rootfs, dir string, owner *idtools.IDPair) (*runtimeapi.ContainerConfig, error) {
	if mode == "ignore" || len(volumes) == 0 {
		return cfg, nil
	}
	covered := map[string]bool{}
	for _, m := range cfg.GetMounts() {
		covered[filepath.Clean(m.ContainerPath)] = true
	}
	paths := make([]string, 0, len(volumes))
	for p := range volumes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := cfg
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%w: image VOLUME %q is not an absolute path", ErrInvalid, p)
		}
		if covered[filepath.Clean(p)] {
			continue
		}
		// The image is hostile input: resolve the path inside the rootfs.
		full, err := securejoin.SecureJoin(rootfs, p)
		if err != nil {
			return nil, fmt.Errorf("image VOLUME %s: %w", p, err)
		}
		if err := mkdirAllOwned(full, owner); err != nil {
			return nil, fmt.Errorf("creating image VOLUME %s: %w", p, err)
		}
		if mode != "bind" {
			continue
		}
		sum := sha256.Sum256([]byte(p))
		src := filepath.Join(dir, "volumes", hex.EncodeToString(sum[:8]))
		if err := mkdirAllOwned(src, owner); err != nil {
			return nil, fmt.Errorf("creating the directory of image VOLUME %s: %w", p, err)
		}
		if out == cfg {
			out = proto.Clone(cfg).(*runtimeapi.ContainerConfig)
		}
		out.Mounts = append(out.Mounts, &runtimeapi.Mount{ContainerPath: p, HostPath: src})
	}
	return out, nil
}

// mkdirAllOwned is os.MkdirAll(path, 0o755) that gives the directories
// it makes to owner when owner is set.
func mkdirAllOwned(path string, owner *idtools.IDPair) error {
	var made []string
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		made = append(made, p)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	if owner == nil {
		return nil
	}
	for _, p := range made {
		if err := os.Lchown(p, owner.UID, owner.GID); err != nil {
			return err
		}
	}
	return nil
}

// makeWorkdir creates the container's working directory inside rootfs,
// as CRI-O does, before the runtime would: the image is hostile, and its
// WorkingDir may cross a symlink that points out of the rootfs, which
// must resolve inside it (runc's own mkdir fails on a dangling one).
func makeWorkdir(rootfs, cwd string, owner *idtools.IDPair) error {
	full, err := securejoin.SecureJoin(rootfs, cwd)
	if err != nil {
		return fmt.Errorf("%w: working directory %s: %v", ErrInvalid, cwd, err)
	}
	if err := mkdirAllOwned(full, owner); err != nil {
		return fmt.Errorf("%w: creating working directory %s in the rootfs: %v", ErrInvalid, cwd, err)
	}
	return nil
}
