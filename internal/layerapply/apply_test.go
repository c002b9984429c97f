package layerapply

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// chrootarchive, the reference, unpacks in a re-executed copy of
	// this binary.
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (owners, device nodes, trusted xattrs)")
	}
}

// entry is a tar member; body is a regular file's contents.
type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body}
}
func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}
func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}
func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := e.hdr
		if h.Format == tar.FormatUnknown && len(h.PAXRecords) > 0 {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("header %s: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// layerDir is an empty layer directory inside a sandbox directory whose
// other entries stand for the host: unchanged fails if any of them was
// added, removed or changed since.
func layerDir(t *testing.T) (sandbox, dest string, unchanged func()) {
	t.Helper()
	sandbox = t.TempDir()
	dest = filepath.Join(sandbox, "a", "b", "layer")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sandbox, "host-file"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := outside(t, sandbox, dest)
	if len(before) != 4 {
		t.Fatalf("the sandbox has %q; want 4 entries", before)
	}
	return sandbox, dest, func() {
		t.Helper()
		if after := outside(t, sandbox, dest); !slices.Equal(after, before) {
			t.Errorf("outside the layer:\n%s\nwas\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		if b, err := os.ReadFile(filepath.Join(sandbox, "host-file")); err != nil || string(b) != "host\n" {
			t.Errorf("host-file = %q, %v; want it untouched", b, err)
		}
	}
}

// outside lists what is in sandbox but not in dest, with each entry's
// type, mode, link count, size and modification time.
func outside(t *testing.T, sandbox, dest string) []string {
	t.Helper()
	var got []string
	err := filepath.Walk(sandbox, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == dest {
			return filepath.SkipDir
		}
		st := fi.Sys().(*syscall.Stat_t)
		got = append(got, fmt.Sprintf("%s %v nlink=%d size=%d mtime=%d", strings.TrimPrefix(p, sandbox), fi.Mode(), st.Nlink, fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func readIn(t *testing.T, dest, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dest, name))
	if err != nil {
		t.Errorf("reading %s in the layer: %v", name, err)
	}
	return string(b)
}

// TestApplyKeepsHostileMembersInsideTheLayer: whatever path a member
// takes (".." names, absolute or relative symlinks out of the layer then
// a file, a directory or a hard link through them), it lands inside the
// layer, as in storage's chroot, and nothing outside changes.
func TestApplyKeepsHostileMembersInsideTheLayer(t *testing.T) {
	requireRoot(t)
	sandbox, dest, unchanged := layerDir(t)
	up := strings.Repeat("../", 6)
	layer := tarOf(t,
		file("../../../host-file", "dotdot\n", 0o644),
		file("/abs-name", "abs\n", 0o644),
		symlink("abs", sandbox), // an absolute path of the host
		file("abs/host-file", "through abs\n", 0o644),
		symlink("rel", up), // relative, out of the layer
		file("rel/host-file2", "through rel\n", 0o644),
		symlink("rootlink", "/"),
		dir("rootlink/made-dir", 0o755),
		file("rootlink/made-dir/f", "through /\n", 0o644),
		symlink("leaf", filepath.Join(sandbox, "host-file")), // a symlink as the last component ...
		file("leaf", "replaced the symlink\n", 0o600),        // ... is replaced, not followed
	)
	if err := Apply(bytes.NewReader(layer), dest, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	unchanged()
	for name, want := range map[string]string{
		"host-file":                         "dotdot\n",
		"abs-name":                          "abs\n",
		filepath.Join(sandbox, "host-file"): "through abs\n",
		"host-file2":                        "through rel\n",
		"made-dir/f":                        "through /\n",
		"leaf":                              "replaced the symlink\n",
	} {
		if got := readIn(t, dest, name); got != want {
			t.Errorf("%s in the layer = %q; want %q", name, got, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dest, "leaf")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("leaf: %v, %v; want a regular file", fi, err)
	}
}

// TestApplyRefusesHardLinksOutOfTheLayer: a hard link's target resolves
// inside the layer; one that names a host file (through "..", an absolute
// path or a symlink) finds nothing there and fails the layer, and the
// host file gains no link.
func TestApplyRefusesHardLinksOutOfTheLayer(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dotdot", []entry{hardlink("evil", "../../../host-file")}},
		{"absolute", []entry{hardlink("evil", "/etc/passwd")}},
		{"host path", nil}, // filled below: the sandbox's absolute path
		{"through a symlink", []entry{symlink("esc", "../../.."), hardlink("evil", "esc/host-file")}},
		{"the root", []entry{hardlink("evil", "/")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox, dest, unchanged := layerDir(t)
			if tc.entries == nil {
				tc.entries = []entry{hardlink("evil", filepath.Join(sandbox, "host-file"))}
			}
			err := Apply(bytes.NewReader(tarOf(t, tc.entries...)), dest, nil)
			if !errors.Is(err, ErrMember) || !strings.Contains(err.Error(), `hard link "evil"`) || !strings.Contains(err.Error(), "not a file of the layer") {
				t.Errorf("Apply = %v; want ErrMember naming the hard link", err)
			}
			unchanged()
			if _, err := os.Lstat(filepath.Join(dest, "evil")); err == nil {
				t.Errorf("evil was made")
			}
		})
	}
}

// TestApplyHardLinkInsideTheLayer: a link to a member shares its inode;
// a link to a symlink links the symlink itself, not what it points to.
func TestApplyHardLinkInsideTheLayer(t *testing.T) {
	requireRoot(t)
	sandbox, dest, unchanged := layerDir(t)
	layer := tarOf(t,
		file("etc/passwd", "root:x:0:0::/:/bin/sh\n", 0o644),
		hardlink("bin/passwd-link", "/etc/passwd"),
		symlink("host", filepath.Join(sandbox, "host-file")),
		hardlink("host-link", "host"),
	)
	if err := Apply(bytes.NewReader(layer), dest, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	unchanged()
	var a, b unix.Stat_t
	if err := unix.Lstat(filepath.Join(dest, "etc/passwd"), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(filepath.Join(dest, "bin/passwd-link"), &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("bin/passwd-link inode %d, etc/passwd inode %d nlink %d; want one inode, 2 links", b.Ino, a.Ino, a.Nlink)
	}
	if fi, err := os.Lstat(filepath.Join(dest, "host-link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("host-link: %v, %v; want the symlink itself", fi, err)
	}
}

// TestApplyWhiteouts: ".wh.name" becomes a 0:0 character device owned as
// the member says, ".wh..wh..opq" the opaque xattr on its directory, as
// storage's overlay driver writes them; neither is written as a file.
func TestApplyWhiteouts(t *testing.T) {
	requireRoot(t)
	_, dest, _ := layerDir(t)
	gone := file(".wh.gone", "", 0o644)
	gone.hdr.Uid, gone.hdr.Gid = 12, 34
	layer := tarOf(t,
		gone,
		dir("opaque", 0o755),
		file("opaque/.wh..wh..opq", "", 0o644),
		file("opaque/kept", "k\n", 0o644),
		file("deep/er/.wh.x", "", 0o644), // parents the tar does not list
		file(".wh.rm", "", 0o644),        // "rm -rf /rm/sub": /rm is a whiteout already
		file("rm/.wh.sub", "", 0o644),
	)
	if err := Apply(bytes.NewReader(layer), dest, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, name := range []string{"gone", "deep/er/x", "rm"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dest, name), &st); err != nil {
			t.Errorf("whiteout %s: %v", name, err)
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("whiteout %s: mode %o rdev %d; want a 0:0 character device", name, st.Mode, st.Rdev)
		}
		if name == "gone" && (st.Uid != 12 || st.Gid != 34) {
			t.Errorf("whiteout gone owned %d:%d; want 12:34", st.Uid, st.Gid)
		}
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(dest, "opaque"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque's trusted.overlay.opaque = %q, %v; want y", buf[:max(n, 0)], err)
	}
	for _, name := range []string{".wh.gone", "opaque/.wh..wh..opq", "deep/er/.wh.x"} {
		if _, err := os.Lstat(filepath.Join(dest, name)); err == nil {
			t.Errorf("%s was written as a file", name)
		}
	}
	for _, name := range []string{"", ".", ".."} {
		_, dest, _ := layerDir(t)
		if err := Apply(bytes.NewReader(tarOf(t, file("d/.wh."+name, "", 0o644))), dest, nil); !errors.Is(err, ErrMember) {
			t.Errorf("whiteout of %q: Apply = %v; want ErrMember", name, err)
		}
	}
}

// TestApplyRefuses: members storage cannot unpack fail the layer with
// ErrMember and a message naming them.
func TestApplyRefuses(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name    string
		entries []entry
		want    string
	}{
		{"non-directory root", []entry{file(".", "", 0o644)}, "refusing a non-directory as the layer's root"},
		{"unknown type", []entry{{hdr: tar.Header{Typeflag: 'Z', Name: "odd", Format: tar.FormatGNU}}}, `member "odd" has tar type 'Z': unhandled tar header type 90`},
		{"file under a file", []entry{file("f", "x", 0o644), file("f/g", "y", 0o644)}, `member "f/g"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dest, _ := layerDir(t)
			err := Apply(bytes.NewReader(tarOf(t, tc.entries...)), dest, nil)
			if !errors.Is(err, ErrMember) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Apply = %v; want ErrMember naming %q", err, tc.want)
			}
		})
	}
}

// node is what a tree comparison looks at for one path.
type node struct {
	Mode, Uid, Gid uint32
	Rdev           uint64
	Nlink          uint64
	Mtime          int64
	Size           int64
	Link, Body     string
	Xattrs         map[string]string
}

func snapshot(t *testing.T, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := node{Mode: st.Mode, Uid: st.Uid, Gid: st.Gid, Rdev: st.Rdev, Nlink: uint64(st.Nlink), Size: st.Size, Xattrs: map[string]string{}}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			n.Mtime = st.Mtim.Nano()
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			n.Link, _ = os.Readlink(p)
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			n.Body = string(b)
		case unix.S_IFDIR:
			n.Size = 0 // ext4 grows a directory by blocks, not by entries
		}
		names := make([]byte, 4096)
		if sz, err := unix.Llistxattr(p, names); err == nil {
			for _, k := range strings.Split(strings.TrimRight(string(names[:sz]), "\x00"), "\x00") {
				if k == "" || k == "security.selinux" {
					continue
				}
				v := make([]byte, 4096)
				vn, _ := unix.Lgetxattr(p, k, v)
				n.Xattrs[k] = string(v[:max(vn, 0)])
			}
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sampleLayer has every kind of member Apply handles, with owners,
// setuid and setgid modes, times, xattrs, a directory listed after its
// contents and merged twice, a file replaced by a later one, whiteouts and
// an opaque directory.
func sampleLayer(t testing.TB) []byte {
	t.Helper()
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	with := func(e entry, f func(h *tar.Header)) entry { f(&e.hdr); return e }
	own := func(uid, gid int) func(h *tar.Header) {
		return func(h *tar.Header) { h.Uid, h.Gid, h.ModTime, h.AccessTime = uid, gid, mt, mt.Add(time.Hour) }
	}
	return tarOf(t,
		with(dir("./", 0o755), own(0, 0)),
		with(dir("usr/bin", 0o750), own(5, 6)),
		with(file("usr/bin/suid", "#!/bin/sh\n", 0o4755), own(0, 0)),
		with(file("usr/bin/sgid", "x", 0o2711), own(1000, 50)),
		with(file("usr/bin/caps", "c", 0o755), func(h *tar.Header) {
			own(0, 0)(h)
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "SCHILY.xattr.user.note": "hi"}
		}),
		with(symlink("usr/bin/sh", "/bin/busybox"), own(7, 8)),
		with(hardlink("usr/bin/suid2", "usr/bin/suid"), func(h *tar.Header) { own(0, 0)(h); h.Mode = 0o4755 }),
		with(entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}}, own(0, 0)),
		with(entry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8, Devminor: 0}}, own(0, 6)),
		with(entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o620}}, own(3, 3)),
		with(file("etc/replaced", "first\n", 0o644), own(0, 0)),
		with(file("etc/replaced", "second\n", 0o600), own(2, 2)),
		with(dir("etc", 0o711), own(0, 0)), // after its contents: merged
		with(dir("etc", 0o755), own(0, 0)),
		with(file(".wh.old", "", 0o644), own(0, 0)),
		with(dir("opq", 0o700), own(0, 0)),
		with(file("opq/.wh..wh..opq", "", 0o644), own(0, 0)),
		with(file("empty", "", 0o444), own(0, 0)),
		with(file("big", strings.Repeat("0123456789abcdef", 1<<17), 0o644), own(0, 0)),
	)
}

// TestApplyMatchesStorage: the same layer unpacked by Apply and by
// storage's chrooted child with the overlay driver's options gives the
// same tree: types, modes (setuid and setgid), owners, device numbers,
// link counts, times, symlink targets, contents and xattrs.
func TestApplyMatchesStorage(t *testing.T) {
	requireRoot(t)
	layer := sampleLayer(t)
	start := time.Now().UnixNano()
	base := t.TempDir()
	mine, theirs := filepath.Join(base, "mine"), filepath.Join(base, "theirs")
	for _, d := range []string{mine, theirs} {
		if err := os.Mkdir(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	if err := Apply(bytes.NewReader(layer), mine, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := chrootarchive.UntarUncompressed(bytes.NewReader(layer), theirs, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat}); err != nil {
		t.Fatalf("storage: %v", err)
	}
	got, want := snapshot(t, mine), snapshot(t, theirs)
	// Directories the tar does not list and whiteouts get the time they
	// were made: a different one in each tree.
	for p, n := range got {
		if w, ok := want[p]; ok && n.Mtime >= start && w.Mtime >= start {
			n.Mtime, w.Mtime = 0, 0
			got[p], want[p] = n, w
		}
	}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok && !yield(k) {
				return
			}
		}
	}) {
		if g, w := fmt.Sprintf("%+v", got[p]), fmt.Sprintf("%+v", want[p]); g != w {
			t.Errorf("%s:\n Apply   %s\n storage %s", p, g, w)
		}
	}
	if len(want) < 15 {
		t.Errorf("storage's tree has %d entries; the sample has more", len(want))
	}
	if n := got["usr/bin/suid"]; n.Mode&0o7777 != 0o4755 {
		t.Errorf("usr/bin/suid mode %o; want 4755", n.Mode&0o7777)
	}
}

// BenchmarkApplyLayer unpacks the same layer (a copy of a busybox-like
// tree of small files plus a few large ones) with storage's chrooted
// child and with Apply, in the same run.
func BenchmarkApplyLayer(b *testing.B) {
	requireRoot(b)
	var entries []entry
	for i := range 400 {
		entries = append(entries, file(fmt.Sprintf("bin/f%03d", i), strings.Repeat("x", 2000+i), 0o755))
		if i%4 == 0 {
			entries = append(entries, symlink(fmt.Sprintf("usr/bin/l%03d", i), "/bin/f000"))
		}
	}
	for i := range 4 {
		entries = append(entries, file(fmt.Sprintf("data/big%d", i), strings.Repeat("0123456789abcdef", 1<<18), 0o644))
	}
	layer := tarOf(b, entries...)
	b.Logf("layer: %d members, %d bytes", len(entries), len(layer))
	for _, mode := range []string{"chroot", "inprocess"} {
		b.Run(mode, func(b *testing.B) {
			base := b.TempDir()
			i := 0
			b.SetBytes(int64(len(layer)))
			for b.Loop() {
				dest := filepath.Join(base, fmt.Sprint(i))
				i++
				if err := os.Mkdir(dest, 0o555); err != nil {
					b.Fatal(err)
				}
				var err error
				if mode == "chroot" {
					err = chrootarchive.UntarUncompressed(bytes.NewReader(layer), dest, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat})
				} else {
					err = Apply(bytes.NewReader(layer), dest, nil)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dest)
				b.StartTimer()
			}
		})
	}
}
