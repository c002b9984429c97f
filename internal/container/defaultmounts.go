package container

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"go.podman.io/storage/pkg/idtools"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/spec"
)

// defaultMounts reads default_mounts_file and copies each host file or
// directory it names into dir (the container's run directory), owned by
// owner when set (the pod's mapped root), as CRI-O copies its
// "subscriptions": the container gets a writable copy, never the host's
// files. A host path that does not exist is skipped, as in CRI-O.
func defaultMounts(file, dir string, owner *idtools.IDPair) ([]spec.DefaultMount, error) {
	file = config.MountsFile(file)
	entries, err := config.ReadMountsConf(file)
	if err != nil {
		return nil, fmt.Errorf("[crio.runtime] default_mounts_file: %w", err)
	}
	var out []spec.DefaultMount
	for i, e := range entries {
		fi, err := os.Stat(e.Host)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("[crio.runtime] default_mounts_file %s: %w", file, err)
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("[crio.runtime] default_mounts_file %s: %s is neither a file nor a directory", file, e.Host)
		}
		// One directory per entry: entries cannot overwrite each other's
		// copies, whatever their container paths.
		copyTo := filepath.Join(dir, "default-mounts", fmt.Sprint(i), filepath.Base(e.Container))
		if err := copyTree(e.Host, copyTo, owner); err != nil {
			return nil, fmt.Errorf("[crio.runtime] default_mounts_file %s: copying %s: %w", file, e.Host, err)
		}
		out = append(out, spec.DefaultMount{Source: copyTo, Destination: e.Container})
	}
	return out, nil
}

// copyTree copies a file, or a directory's directories and regular files
// (following symbolic links, as CRI-O does), keeping their permissions.
func copyTree(src, dst string, owner *idtools.IDPair) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil {
			return err
		}
		// Mkdir applies the umask.
		if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
			return err
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), owner); err != nil && !errors.Is(err, errSkipped) {
				return err
			}
		}
	case fi.Mode().IsRegular():
		if err := copyFile(src, dst, fi.Mode().Perm()); err != nil {
			return err
		}
	default:
		return errSkipped // a device, socket or fifo in a directory
	}
	if owner != nil {
		return os.Lchown(dst, owner.UID, owner.GID)
	}
	return nil
}

var errSkipped = errors.New("not a file or directory")

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, perm)
}
