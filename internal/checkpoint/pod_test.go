package checkpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestCheckOutputDirWantsAnExistingEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	full := filepath.Join(dir, "full")
	file := filepath.Join(dir, "file")
	link := filepath.Join(dir, "link")
	os.Mkdir(empty, 0o700)
	os.Mkdir(full, 0o700)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	os.WriteFile(file, nil, 0o600)
	os.Symlink(empty, link)
	if got, err := CheckOutputDir(empty + "/"); err != nil || got != empty {
		t.Errorf("CheckOutputDir(%s/) = %q, %v; want %s", empty, got, err, empty)
	}
	for _, tc := range []struct{ path, says string }{
		{"", "required"},
		{"rel/dir", "absolute"},
		{filepath.Join(dir, "missing"), "the caller makes the directory"},
		{full, "not empty"},
		{file, "not a directory"},
		{link, "not a directory"},
	} {
		if _, err := CheckOutputDir(tc.path); !errors.Is(err, ErrBadDir) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("CheckOutputDir(%q) = %v, want ErrBadDir saying %q", tc.path, err, tc.says)
		}
	}
}

func TestPodManifestRoundTripAndArchiveConfig(t *testing.T) {
	dir := t.TempDir()
	loc := makeCheckpoint(t)
	if err := os.Rename(loc, filepath.Join(dir, ArchiveName(0))); err != nil {
		t.Fatal(err)
	}
	sb, err := SandboxConfigJSON(&runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Uid: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	man := &PodManifest{Version: PodManifestVersion, SandboxID: "sb1", Handler: "runc", Sandbox: sb,
		Containers: []PodContainer{{Name: "counter", ID: "abc123", Archive: ArchiveName(0)}}}
	if err := WritePodManifest(dir, man); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("the directory holds %d entries, want the archive and the manifest (no temporary file)", len(ents))
	}
	got, err := ReadPodManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Containers) != 1 || got.Containers[0] != man.Containers[0] || got.SandboxID != "sb1" {
		t.Errorf("read manifest %+v, want %+v", got, man)
	}
	if c, err := got.SandboxConfig(); err != nil || c.GetMetadata().GetName() != "web" {
		t.Errorf("SandboxConfig = %v, %v; want pod web", c, err)
	}
	cri, err := ReadArchiveCRIConfig(filepath.Join(dir, ArchiveName(0)))
	if err != nil || cri.GetMetadata().GetName() != "counter" || cri.GetImage().GetImage() != "docker.io/library/busybox:latest" {
		t.Errorf("ReadArchiveCRIConfig = %v, %v; want counter on busybox", cri, err)
	}
}

func TestReadPodManifestRefusesHostileManifests(t *testing.T) {
	for _, tc := range []struct {
		name string
		man  any
		says string
	}{
		{"version", PodManifest{Version: 2, Containers: []PodContainer{{Name: "a", Archive: "a.tar"}}}, "version 2"},
		{"no containers", PodManifest{Version: 1}, "no containers"},
		{"repeated name", PodManifest{Version: 1, Containers: []PodContainer{{Name: "a", Archive: "a.tar"}, {Name: "a", Archive: "a.tar"}}}, "repeated"},
		{"empty name", PodManifest{Version: 1, Containers: []PodContainer{{Archive: "a.tar"}}}, "empty or repeated"},
		{"archive outside", PodManifest{Version: 1, Containers: []PodContainer{{Name: "a", Archive: "../a.tar"}}}, "not a file name inside"},
		{"absolute archive", PodManifest{Version: 1, Containers: []PodContainer{{Name: "a", Archive: "/etc/passwd"}}}, "not a file name inside"},
		{"missing archive", PodManifest{Version: 1, Containers: []PodContainer{{Name: "a", Archive: "gone.tar"}}}, "missing"},
		{"archive a symlink", PodManifest{Version: 1, Containers: []PodContainer{{Name: "a", Archive: "link.tar"}}}, "not a regular file"},
		{"not json", "{", "pod.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "a.tar"), nil, 0o600)
			os.Symlink("/etc/passwd", filepath.Join(dir, "link.tar"))
			b, _ := json.Marshal(tc.man)
			if s, ok := tc.man.(string); ok {
				b = []byte(s)
			}
			os.WriteFile(filepath.Join(dir, PodManifestFile), b, 0o600)
			if _, err := ReadPodManifest(dir); !errors.Is(err, ErrBadArchive) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("ReadPodManifest = %v, want ErrBadArchive saying %q", err, tc.says)
			}
		})
	}
	if _, err := ReadPodManifest(t.TempDir()); !errors.Is(err, ErrBadArchive) || !strings.Contains(err.Error(), "not a pod checkpoint") {
		t.Errorf("ReadPodManifest of a directory without one = %v, want not a pod checkpoint", err)
	}
}
