// Package layerapply unpacks an image layer's tar into an overlay layer
// directory inside this process, as go.podman.io/storage's Unpack with the
// overlay whiteout format does in its re-executed, chrooted child, without
// the child.
//
// The chroot is what made storage's unpacking safe against a hostile tar:
// a member "../x", a symlink "/etc -> /" followed by "etc/passwd", a hard
// link to "/etc/shadow" all resolve inside the layer because the layer is
// the child's root. Here every name is resolved under a handle to the
// layer directory with openat2's RESOLVE_IN_ROOT (through
// github.com/cyphar/filepath-securejoin's pathrs-lite, which emulates it on
// kernels without openat2): a member's parent directory, symlinks included,
// resolves inside the layer exactly as it did in the chroot, and its final
// component is only ever touched with *at calls relative to that parent
// that do not follow it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, linkat without
// AT_SYMLINK_FOLLOW). Nothing else writes in a staging directory while a
// layer is applied into it (it is private to the pull), so the only
// adversary is the tar itself, which acts one member at a time.
package layerapply

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	paxXattrPrefix = "SCHILY.xattr."
)

// ErrMember is wrapped by the errors that a member of the tar causes (as
// opposed to the host's faults, like a full disk): the layer cannot be
// unpacked.
var ErrMember = errors.New("layer member cannot be unpacked")

// memberError names the member at fault.
func memberError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMember, fmt.Sprintf(format, args...))
}

// maxTime is the latest time a timespec in nanoseconds holds; storage
// clamps times outside [epoch, maxTime] to the epoch, and so does this.
var maxTime = time.Unix(0, 1<<63-1)

// Apply unpacks the uncompressed tar r into dest, a new, empty directory,
// with overlay whiteouts (".wh.name" becomes a 0:0 character device,
// ".wh..wh..opq" the trusted.overlay.opaque=y xattr on its directory),
// owners, modes (setuid and setgid kept), times, xattrs (but
// security.selinux), device nodes and FIFOs as the tar says. It reads r
// up to the end of the archive, not the padding after it. It is what
// storage's chrootarchive.UntarUncompressed does with the overlay
// driver's options as root without ID mappings; other setups must use
// that. onHeader, when not nil, is given every header read, before its
// member is unpacked (so that a caller needs no second tar reader).
func Apply(r io.Reader, dest string, onHeader func(*tar.Header)) (retErr error) {
	root, err := os.OpenFile(dest, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the layer directory: %w", err)
	}
	a := &applier{root: root, dest: filepath.Clean(dest), buf: make([]byte, 1<<20)}
	defer func() {
		a.dropParent()
		root.Close()
	}()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return memberError("reading the tar: %v", err)
		}
		if onHeader != nil {
			onHeader(hdr)
		}
		if err := a.member(hdr, tr); err != nil {
			return err
		}
	}
	return a.dirTimes()
}

type applier struct {
	root *os.File // O_PATH handle of the layer directory
	dest string   // its path, cleaned
	buf  []byte

	// The parent directory of the last member, kept because members
	// come directory by directory. It stays what a new lookup of
	// parentName would find: a handle stays inside the layer (nothing
	// renames), and a member only creates, removes or replaces its own
	// last component, which is never parentName or above it when
	// parentName is its parent; a member in another directory looks
	// that one up instead.
	parentName string
	parent     *os.File

	dirs []dirTime // directory times are set last, after their contents
}

type dirTime struct {
	name         string
	atime, mtime time.Time
}

// split cleans name as the chroot did (relative to "/", ".." stopping at
// the root) and splits it into its parent directory and base name ("" for
// the root itself).
func split(name string) (dir, base string) {
	clean := path.Clean("/" + name)
	if clean == "/" {
		return "/", ""
	}
	dir, base = path.Split(clean)
	if dir != "/" {
		dir = strings.TrimSuffix(dir, "/")
	}
	return dir, base
}

func (a *applier) dropParent() {
	if a.parent != nil {
		a.parent.Close()
	}
	a.parent, a.parentName = nil, ""
}

// parentDir returns a handle of directory dir of the layer, made (with
// its missing parents, 0777 less the umask, root's) when missing, as
// storage makes the parents a tar does not list. dir's symlinks resolve
// inside the layer.
func (a *applier) parentDir(dir string) (*os.File, error) {
	if dir == "/" {
		return a.root, nil
	}
	if a.parent != nil && a.parentName == dir {
		return a.parent, nil
	}
	a.dropParent()
	h, err := pathrs.MkdirAllHandle(a.root, dir, 0o777)
	if err != nil {
		// MkdirAllHandle refuses a dangling symlink on the way, which
		// storage follows, making its target's directories: resolve
		// the symlinks first (SecureJoin, in the layer, missing
		// components taken as they are) and make what is left, still
		// confined to the layer by MkdirAllHandle.
		resolved, jerr := securejoin.SecureJoin(a.dest, dir)
		if jerr != nil {
			return nil, errors.Join(err, jerr)
		}
		rel := strings.TrimPrefix(resolved, a.dest)
		if rel == "" {
			return a.root, nil
		}
		if h, err = pathrs.MkdirAllHandle(a.root, rel, 0o777); err != nil {
			return nil, err
		}
	}
	a.parent, a.parentName = h, dir
	return h, nil
}

func (a *applier) member(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	dir, base := split(hdr.Name)
	if base == "" {
		// The layer's root: storage only lets a directory be it, and
		// merges it.
		if hdr.Typeflag != tar.TypeDir {
			return memberError("member %q: refusing a non-directory as the layer's root", hdr.Name)
		}
		d, err := reopenDir(a.root, ".")
		if err != nil {
			return err
		}
		defer d.Close()
		if err := a.dirAttrs(d, hdr); err != nil {
			return err
		}
		a.dirs = append(a.dirs, dirTime{"/", hdr.AccessTime, hdr.ModTime})
		return nil
	}
	parent, err := a.parentDir(dir)
	if err != nil {
		if strings.HasPrefix(base, whiteoutPrefix) && errors.Is(err, unix.ENOTDIR) {
			// "rm -rf /foo/bar" makes some tools write /.wh.foo and then
			// /foo/.wh.bar: /foo is a whiteout already (storage skips
			// the second as well).
			return nil
		}
		return memberError("member %q: its directory %s: %v", hdr.Name, dir, err)
	}
	pfd := int(parent.Fd())

	// An existing entry is replaced, unless both are directories (merged).
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || hdr.Typeflag != tar.TypeDir {
			// os.RemoveAll opens the parent through the magic link and
			// removes base with unlinkat and openat(O_NOFOLLOW): it does
			// not follow a symlink named base.
			if err := os.RemoveAll(fdPath(pfd, base)); err != nil {
				return fmt.Errorf("member %q: removing what it replaces: %w", hdr.Name, err)
			}
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}

	if base == whiteoutOpaque {
		d, err := reopenDir(parent, ".")
		if err != nil {
			return err
		}
		defer d.Close()
		if err := unix.Fsetxattr(int(d.Fd()), opaqueXattr, []byte{'y'}, 0); err != nil {
			return fmt.Errorf("member %q: marking %s opaque: %w", hdr.Name, dir, err)
		}
		return nil
	}
	if orig, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		if orig == "" || orig == "." || orig == ".." {
			return memberError("member %q: invalid whiteout", hdr.Name)
		}
		// mknodat fails on an existing name, a symlink included.
		if err := unix.Mknodat(pfd, orig, unix.S_IFCHR, 0); err != nil {
			return memberError("member %q: whiteout of %s: %v", hdr.Name, path.Join(dir, orig), err)
		}
		if err := unix.Fchownat(pfd, orig, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
		return nil
	}

	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		// EEXIST: a directory, merged (anything else was removed above).
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
		d, err := reopenDir(parent, base)
		if err != nil {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
		defer d.Close()
		if err := a.dirAttrs(d, hdr); err != nil {
			return err
		}
		a.dirs = append(a.dirs, dirTime{path.Join(dir, base), hdr.AccessTime, hdr.ModTime})
		return nil
	case tar.TypeReg:
		return a.regular(pfd, base, hdr, r)
	case tar.TypeSymlink:
		// Any target: it is never followed here, and the runtime resolves
		// the rootfs's symlinks inside the rootfs.
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
	case tar.TypeLink:
		if err := a.hardLink(pfd, base, hdr); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		if err := unix.Mknodat(pfd, base, kind|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
	default:
		return memberError("member %q has tar type %s: unhandled tar header type %d", hdr.Name, quoteType(hdr.Typeflag), hdr.Typeflag)
	}
	return a.pathAttrs(pfd, base, hdr)
}

// quoteType prints a type flag as diagnoseLayer does ('S').
func quoteType(t byte) string { return strconv.QuoteRune(rune(t)) }

// regular writes a regular file's contents and attributes through its own
// descriptor.
func (a *applier) regular(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	// Only Write: *os.File's ReadFrom would copy through its own 32 KiB
	// buffer instead of a.buf.
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, r, a.buf); err != nil {
		return fmt.Errorf("member %q: writing: %w", hdr.Name, err)
	}
	// chown clears setuid and setgid: the mode comes after it.
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	if err := unix.UtimesNanoAt(pfd, base, fileTimes(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	if err := setXattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) }); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	return nil
}

// hardLink links base to the member hdr names, resolved inside the layer
// (only this layer's own files: a layer is unpacked alone).
func (a *applier) hardLink(pfd int, base string, hdr *tar.Header) error {
	tdir, tbase := split(hdr.Linkname)
	if tbase == "" {
		return memberError("hard link %q -> %q: the target is not a file of the layer", hdr.Name, hdr.Linkname)
	}
	tparent, err := pathrs.OpenatInRoot(a.root, tdir)
	if err != nil {
		return memberError("hard link %q -> %q: the target is not a file of the layer: %v", hdr.Name, hdr.Linkname, err)
	}
	defer tparent.Close()
	// No AT_SYMLINK_FOLLOW: a symlink is linked itself, never its target.
	if err := unix.Linkat(int(tparent.Fd()), tbase, pfd, base, 0); err != nil {
		return memberError("hard link %q -> %q: the target is not a file of the layer: %v", hdr.Name, hdr.Linkname, err)
	}
	return nil
}

// pathAttrs sets the owner, mode, times and xattrs of base in pfd, made
// by this member, without following it when it is a symlink. Storage
// gives a hard link the link member's mode and times unless its target
// is a symlink.
func (a *applier) pathAttrs(pfd int, base string, hdr *tar.Header) error {
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	symlink := hdr.Typeflag == tar.TypeSymlink
	if hdr.Typeflag == tar.TypeLink {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
		symlink = st.Mode&unix.S_IFMT == unix.S_IFLNK
	}
	if symlink {
		ts := []unix.Timespec{omitZero(hdr.AccessTime), omitZero(hdr.ModTime)}
		if hdr.Typeflag == tar.TypeSymlink {
			if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("member %q: %w", hdr.Name, err)
			}
		}
	} else {
		// base is what this member just made, not a symlink: fchmodat
		// (which follows one) acts on it.
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
		if err := unix.UtimesNanoAt(pfd, base, fileTimes(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("member %q: %w", hdr.Name, err)
		}
	}
	// lsetxattr through the parent's magic link: the last component,
	// base, is not followed.
	p := fdPath(pfd, base)
	return setXattrs(hdr, func(k string, v []byte) error { return unix.Lsetxattr(p, k, v, 0) })
}

// dirAttrs sets a directory's owner, mode and xattrs (its times come
// last, in dirTimes).
func (a *applier) dirAttrs(d *os.File, hdr *tar.Header) error {
	fd := int(d.Fd())
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("member %q: %w", hdr.Name, err)
	}
	return setXattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) })
}

// dirTimes sets the directories' times once their contents are written.
// A later member may have replaced a directory (or one above it) with a
// file or a symlink: only what is still a directory there, looked up in
// the layer again, gets them.
func (a *applier) dirTimes() error {
	a.dropParent()
	for _, d := range a.dirs {
		ts := []unix.Timespec{clampTime(d.atime), clampTime(d.mtime)}
		if d.name == "/" {
			if err := unix.UtimesNanoAt(int(a.root.Fd()), ".", ts, 0); err != nil {
				return fmt.Errorf("setting the layer root's times: %w", err)
			}
			continue
		}
		dir, base := split(d.name)
		parent, err := pathrs.OpenatInRoot(a.root, dir)
		if err != nil {
			continue // replaced by something that is not a directory
		}
		var st unix.Stat_t
		err = unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.UtimesNanoAt(int(parent.Fd()), base, ts, unix.AT_SYMLINK_NOFOLLOW)
		} else if errors.Is(err, unix.ENOENT) {
			err = nil
		}
		parent.Close()
		if err != nil {
			return fmt.Errorf("setting the times of %s: %w", d.name, err)
		}
	}
	return nil
}

// reopenDir opens name in the directory d as a readable directory
// descriptor (an O_PATH handle cannot have its mode or xattrs set), not
// following a symlink.
func reopenDir(d *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening directory %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func fdPath(fd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + base
}

// fileTimes are a non-directory's access and modification times as
// storage sets them: the access time never before the modification time,
// both clamped to [epoch, maxTime].
func fileTimes(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.Before(hdr.ModTime) {
		at = hdr.ModTime
	}
	return []unix.Timespec{clampTime(at), clampTime(hdr.ModTime)}
}

func clampTime(t time.Time) unix.Timespec {
	if t.Before(time.Unix(0, 0)) || t.After(maxTime) {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// omitZero is a symlink's time as storage sets it: a zero time is left
// as it is (UTIME_OMIT).
func omitZero(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0, Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// setXattrs sets the member's xattrs but security.selinux (the runtime
// labels the rootfs), as storage does.
func setXattrs(hdr *tar.Header, set func(string, []byte) error) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok || name == "security.selinux" {
			continue
		}
		if err := set(name, []byte(v)); err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				continue // a file system without that xattr namespace, as storage allows
			}
			return fmt.Errorf("member %q: xattr %s: %w", hdr.Name, name, err)
		}
	}
	return nil
}
