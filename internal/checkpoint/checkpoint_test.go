package checkpoint

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/storage/pkg/archive"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// makeCheckpoint writes an archive the way the container manager does,
// with a fake CRIU image, and returns its location.
func makeCheckpoint(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	location := filepath.Join(dir, "ckpt.tar")
	w, err := NewWork(location)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(w.ImagePath(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.ImagePath(), "pages-1.img"), []byte("memory"), 0o600); err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "data", "note"), []byte("written before the checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes := []archive.Change{
		{Path: "/data", Kind: archive.ChangeAdd},
		{Path: "/etc/motd", Kind: archive.ChangeDelete},
	}
	if err := w.WriteRootfsDiff(rootfs, changes); err != nil {
		t.Fatal(err)
	}
	cri := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "counter"},
		Image:    &runtimeapi.ImageSpec{Image: "docker.io/library/busybox:latest"},
		Command:  []string{"sh", "-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 1; done"},
	}
	md := &Metadata{
		Config: metadata.ContainerConfig{ID: "abc123", Name: "counter", RootfsImageName: "docker.io/library/busybox:latest",
			RootfsImageRef: "sha256:1234", OCIRuntime: "runc", CreatedTime: time.Now(), CheckpointedAt: time.Now()},
		Spec: &rspec.Spec{Version: rspec.Version, Annotations: map[string]string{metadata.CheckpointAnnotationName: "counter"}},
		CRI:  cri,
	}
	if err := w.WriteMetadata(md); err != nil {
		t.Fatal(err)
	}
	size, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(location); err != nil || fi.Size() != size {
		t.Fatalf("archive at %s: %v, size %d, want %d", location, err, fi.Size(), size)
	}
	return location
}

// untarPlain unpacks with nothing but archive/tar, as another tool would.
func untarPlain(t *testing.T, archivePath, dest string) {
	t.Helper()
	f, err := os.Open(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		p := filepath.Join(dest, hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o700)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o700)
		var b bytes.Buffer
		b.ReadFrom(tr)
		os.WriteFile(p, b.Bytes(), 0o600)
	}
}

func TestArchiveMetadataReadByCheckpointctl(t *testing.T) {
	location := makeCheckpoint(t)
	if ents, _ := os.ReadDir(filepath.Dir(location)); len(ents) != 1 {
		t.Errorf("beside the archive: %v, want only the archive (no work or temp files left)", ents)
	}
	dir := t.TempDir()
	untarPlain(t, location, dir)

	cfg, _, err := metadata.ReadContainerCheckpointConfigDump(dir)
	if err != nil {
		t.Fatalf("checkpointctl reading config.dump: %v", err)
	}
	if cfg.Name != "counter" || cfg.ID != "abc123" || cfg.RootfsImageName != "docker.io/library/busybox:latest" {
		t.Errorf("config.dump = %+v, want container counter (abc123) of busybox", cfg)
	}
	sp, _, err := metadata.ReadContainerCheckpointSpecDump(dir)
	if err != nil {
		t.Fatalf("checkpointctl reading spec.dump: %v", err)
	}
	if sp.Annotations[metadata.CheckpointAnnotationName] != "counter" {
		t.Errorf("spec.dump annotations = %v", sp.Annotations)
	}
	deleted, _, err := metadata.ReadContainerCheckpointDeletedFiles(dir)
	if err != nil || len(deleted) != 1 || deleted[0] != "etc/motd" {
		t.Errorf("deleted.files = %v, %v; want [etc/motd]", deleted, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, CRIConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cri := &runtimeapi.ContainerConfig{}
	if err := protojson.Unmarshal(b, cri); err != nil || cri.GetMetadata().GetName() != "counter" || len(cri.Command) != 3 {
		t.Errorf("CRI config = %v, %v", cri, err)
	}
	if _, err := os.Stat(filepath.Join(dir, metadata.CheckpointDirectory, "pages-1.img")); err != nil {
		t.Errorf("CRIU images: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, metadata.RootFsDiffTar)); err != nil {
		t.Errorf("rootfs diff: %v", err)
	}

	// The daemon's own reader gives the same and applies the diff.
	ex := t.TempDir()
	md, err := Extract(location, ex, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if md.Config.Name != "counter" || md.CRI.GetImage().GetImage() != "docker.io/library/busybox:latest" {
		t.Errorf("Extract metadata = %+v", md)
	}
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc", "motd"), []byte("hi"), 0o644)
	if err := ApplyRootfsDiff(ex, rootfs, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(rootfs, "data", "note")); err != nil || string(b) != "written before the checkpoint" {
		t.Errorf("restored data/note = %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "etc", "motd")); !os.IsNotExist(err) {
		t.Errorf("etc/motd after the restore: %v, want removed", err)
	}
}

func TestNewWorkRefusesExistingOrRelativeLocation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "taken.tar")
	os.WriteFile(p, []byte("x"), 0o600)
	if _, err := NewWork(p); !errors.Is(err, ErrExists) {
		t.Errorf("NewWork(existing) = %v, want ErrExists", err)
	}
	if _, err := NewWork("rel.tar"); err == nil {
		t.Error("NewWork(relative) succeeded")
	}
	if _, err := NewWork(filepath.Join(dir, "missing-dir", "x.tar")); err == nil {
		t.Error("NewWork in a missing directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left in %s: %v", dir, ents)
	}
}

func TestCommitNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.tar")
	w, err := NewWork(p)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("someone else's"), 0o600) // taken meanwhile
	if _, err := w.Commit(); !errors.Is(err, ErrExists) {
		t.Errorf("Commit = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "someone else's" {
		t.Errorf("location overwritten: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left in %s: %v", dir, ents)
	}
}

type member struct {
	name, link string
	typ        byte
	body       string
	size       int64 // header size when it differs from the body's
}

func writeArchive(t *testing.T, ms []member) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Linkname: m.link, Typeflag: m.typ, Mode: 0o644, Size: int64(len(m.body)), ModTime: time.Now()}
		if m.typ != tar.TypeReg {
			h.Size = 0
		}
		if m.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m.body))
	}
	tw.Close()
	f.Close()
	return p
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	small := Limits{MaxMember: 10, MaxTotal: 15, MaxEntries: 4}
	for _, tc := range []struct {
		name string
		ms   []member
		want string
	}{
		{"dotdot", []member{{name: "../escape", typ: tar.TypeReg, body: "x"}}, "leaves"},
		{"absolute", []member{{name: "/etc/evil", typ: tar.TypeReg, body: "x"}}, "leaves"},
		{"symlink", []member{{name: "checkpoint", typ: tar.TypeSymlink, link: "/etc"}}, "not a file or directory"},
		{"hardlink", []member{{name: "x", typ: tar.TypeLink, link: "/etc/shadow"}}, "not a file or directory"},
		{"device", []member{{name: "x", typ: tar.TypeChar}}, "not a file or directory"},
		{"huge member", []member{{name: "big", typ: tar.TypeReg, body: strings.Repeat("x", 11)}}, "over the limit"},
		{"huge total", []member{{name: "a", typ: tar.TypeReg, body: "123456789"}, {name: "b", typ: tar.TypeReg, body: "123456789"}}, "add up"},
		{"many members", []member{{name: "a/", typ: tar.TypeDir}, {name: "b/", typ: tar.TypeDir}, {name: "c/", typ: tar.TypeDir}, {name: "d/", typ: tar.TypeDir}, {name: "e/", typ: tar.TypeDir}}, "more than"},
		{"no metadata", []member{{name: "checkpoint/", typ: tar.TypeDir}}, "config.dump"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			dest := filepath.Join(outside, "dest")
			os.Mkdir(dest, 0o700)
			_, err := Extract(writeArchive(t, tc.ms), dest, small)
			if !errors.Is(err, ErrBadArchive) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Extract = %v, want ErrBadArchive saying %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 1 {
				t.Errorf("written beside the destination: %v", ents)
			}
		})
	}
}

func TestApplyRootfsDiffStaysInRootfs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ms      []member
		deleted string
		wantErr string
	}{
		// A link the archive makes, then a member through it: written
		// inside the rootfs (the link resolved there), never outside.
		{name: "write through own symlink", ms: []member{
			{name: "evil", typ: tar.TypeSymlink, link: "OUTSIDE"},
			{name: "evil/pwned", typ: tar.TypeReg, body: "x"},
		}},
		{name: "symlink to dotdot", ms: []member{
			{name: "up", typ: tar.TypeSymlink, link: "../../../../OUTSIDE"},
			{name: "up/pwned", typ: tar.TypeReg, body: "x"},
		}},
		{name: "dotdot member", ms: []member{{name: "../pwned", typ: tar.TypeReg, body: "x"}}, wantErr: "leaves the rootfs"},
		{name: "hard link out", ms: []member{{name: "h", typ: tar.TypeLink, link: "OUTSIDE/secret"}}, wantErr: "not to a regular file in the rootfs"},
		{name: "device", ms: []member{{name: "kmem", typ: tar.TypeChar}}, wantErr: "special file"},
		{name: "huge", ms: []member{{name: "big", typ: tar.TypeReg, body: strings.Repeat("x", 11)}}, wantErr: "over the limit"},
		{name: "deleted dotdot", deleted: `["../OUTSIDE/secret"]`, wantErr: "leaves the rootfs"},
		{name: "deleted through symlink", ms: []member{{name: "l", typ: tar.TypeSymlink, link: "OUTSIDE"}}, deleted: `["l/secret"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "OUTSIDE")
			os.Mkdir(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
			rootfs := filepath.Join(base, "rootfs")
			os.Mkdir(rootfs, 0o755)
			dir := t.TempDir()
			if tc.ms != nil {
				b, _ := os.ReadFile(writeArchive(t, tc.ms))
				os.WriteFile(filepath.Join(dir, metadata.RootFsDiffTar), b, 0o600)
			}
			if tc.deleted != "" {
				os.WriteFile(filepath.Join(dir, metadata.DeletedFilesFile), []byte(tc.deleted), 0o600)
			}
			err := ApplyRootfsDiff(dir, rootfs, Limits{MaxMember: 10, MaxTotal: 100, MaxEntries: 10})
			if tc.wantErr == "" && err != nil {
				t.Errorf("ApplyRootfsDiff = %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("ApplyRootfsDiff = %v, want an error saying %q", err, tc.wantErr)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 || ents[0].Name() != "secret" {
				t.Errorf("outside the rootfs now holds %v, want only secret", ents)
			}
			if ents, _ := os.ReadDir(base); len(ents) != 2 {
				t.Errorf("beside the rootfs: %v", ents)
			}
		})
	}
}
