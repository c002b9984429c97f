package checkpoint

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

// WriteRootfsDiff writes the container layer's changes, as storage
// reports them, into the work directory: rootfs-diff.tar holds what was
// added or changed, read from the mounted rootfs, and deleted.files
// lists what was removed (as Podman and CRI-O do).
func (w *Work) WriteRootfsDiff(rootfs string, changes []archive.Change) error {
	var include, deleted []string
	for _, c := range changes {
		p := strings.TrimPrefix(filepath.Clean("/"+c.Path), "/")
		if p == "" {
			continue
		}
		if c.Kind == archive.ChangeDelete {
			deleted = append(deleted, p)
			continue
		}
		include = append(include, p)
	}
	if len(deleted) > 0 {
		if _, err := metadata.WriteJSONFile(deleted, w.Dir, metadata.DeletedFilesFile); err != nil {
			return fmt.Errorf("writing %s: %w", metadata.DeletedFilesFile, err)
		}
	}
	if len(include) == 0 {
		return nil
	}
	rc, err := archive.TarWithOptions(rootfs, &archive.TarOptions{
		Compression:  archive.Uncompressed,
		IncludeFiles: include,
		// Only the named paths: a changed directory's unchanged
		// entries come from the image again.
		IncludeSourceDir: false,
	})
	if err != nil {
		return fmt.Errorf("archiving the rootfs changes: %w", err)
	}
	defer rc.Close()
	f, err := os.OpenFile(filepath.Join(w.Dir, metadata.RootFsDiffTar), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("archiving the rootfs changes: %w", err)
	}
	return f.Close()
}

// ApplyRootfsDiff unpacks an unpacked checkpoint's rootfs-diff.tar (if
// any) into rootfs and removes what its deleted.files names. The archive
// is taken as hostile: every name is resolved inside rootfs
// (securejoin, so a symbolic link the archive made cannot lead a later
// member out), hard links must point at a regular file inside rootfs,
// devices and other special files are refused, and sizes are held to
// lim. rootfs must not be in use by a running container.
func ApplyRootfsDiff(dir, rootfs string, lim Limits) error {
	f, err := os.Open(filepath.Join(dir, metadata.RootFsDiffTar))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		err = untarInRoot(f, rootfs, lim)
		f.Close()
		if err != nil {
			return fmt.Errorf("applying %s: %w", metadata.RootFsDiffTar, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, metadata.DeletedFilesFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	deleted, _, err := metadata.ReadContainerCheckpointDeletedFiles(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadArchive, metadata.DeletedFilesFile, err)
	}
	for _, d := range deleted {
		p, err := inRoot(rootfs, d)
		if err != nil {
			return err
		}
		if p == rootfs {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("removing %s: %w", d, err)
		}
	}
	return nil
}

// inRoot resolves name's parent inside root and appends its last
// element unresolved, so that the caller acts on a link itself, never
// on what it points at. A name with ".." is refused.
func inRoot(root, name string) (string, error) {
	s := filepath.ToSlash(name)
	for _, e := range strings.Split(s, "/") {
		if e == ".." {
			return "", fmt.Errorf("%w: path %q leaves the rootfs", ErrBadArchive, name)
		}
	}
	c := filepath.Clean("/" + s)
	if c == "/" {
		return root, nil
	}
	parent, err := securejoin.SecureJoin(root, filepath.Dir(c))
	if err != nil {
		return "", fmt.Errorf("resolving %s in the rootfs: %w", name, err)
	}
	return filepath.Join(parent, filepath.Base(c)), nil
}

func untarInRoot(r io.Reader, root string, lim Limits) error {
	tr := tar.NewReader(r)
	var total int64
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		if n >= lim.MaxEntries {
			return fmt.Errorf("%w: more than %d members", ErrBadArchive, lim.MaxEntries)
		}
		target, err := inRoot(root, hdr.Name)
		if err != nil {
			return err
		}
		if target == root {
			continue
		}
		perm := uint32(hdr.Mode) & 0o7777
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if fi, err := os.Lstat(target); err == nil && !fi.IsDir() {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			dirs = append(dirs, dirTime{target, hdr.ModTime})
		case tar.TypeReg:
			if hdr.Size > lim.MaxMember {
				return fmt.Errorf("%w: %s is %d bytes, over the limit of %d", ErrBadArchive, hdr.Name, hdr.Size, lim.MaxMember)
			}
			if total += hdr.Size; total > lim.MaxTotal {
				return fmt.Errorf("%w: the rootfs changes add up to over %d bytes", ErrBadArchive, lim.MaxTotal)
			}
			if err := removeNonDir(target); err != nil {
				return err
			}
			if err := writeMember(target, tr, hdr.Size); err != nil {
				return fmt.Errorf("writing %s: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			// The target is left as written: it is resolved in the
			// container, and this unpacking never follows it.
			if err := removeNonDir(target); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			src, err := securejoin.SecureJoin(root, hdr.Linkname)
			if err != nil {
				return fmt.Errorf("resolving hard link %s: %w", hdr.Name, err)
			}
			fi, err := os.Lstat(src)
			if err != nil || !fi.Mode().IsRegular() {
				return fmt.Errorf("%w: hard link %s -> %s is not to a regular file in the rootfs", ErrBadArchive, hdr.Name, hdr.Linkname)
			}
			if err := removeNonDir(target); err != nil {
				return err
			}
			if err := os.Link(src, target); err != nil {
				return err
			}
			continue // the link shares the source's owner and mode
		default:
			return fmt.Errorf("%w: %s is a special file (type %q), which a rootfs diff may not hold", ErrBadArchive, hdr.Name, hdr.Typeflag)
		}
		if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %s: %w", hdr.Name, err)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			// chmod after chown: chown clears setuid and setgid.
			if err := unix.Fchmodat(unix.AT_FDCWD, target, perm, 0); err != nil {
				return fmt.Errorf("chmod %s: %w", hdr.Name, err)
			}
			if err := os.Chtimes(target, hdr.ModTime, hdr.ModTime); err != nil {
				return fmt.Errorf("setting times of %s: %w", hdr.Name, err)
			}
		}
	}
	// Directory times last: writing into a directory changes them.
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Chtimes(dirs[i].path, dirs[i].t, dirs[i].t)
	}
	return nil
}

// removeNonDir removes what is at p unless it is a directory, so that a
// file or link is created anew rather than written through.
func removeNonDir(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: %s is a directory in the rootfs", ErrBadArchive, p)
	}
	return os.Remove(p)
}
