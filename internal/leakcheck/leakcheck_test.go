package leakcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

func TestCheckReportsOnlyWhatNoKnownObjectOwns(t *testing.T) {
	dir := t.TempDir()
	s := Scope{
		Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), Driver: "overlay",
		SandboxRoot:   filepath.Join(dir, "run", "crio", "sandboxes"),
		NamespacesDir: filepath.Join(dir, "ns"), ExitsDir: filepath.Join(dir, "exits"),
		CNIConfDir: filepath.Join(dir, "cni"),
	}
	known, stray := strings.Repeat("a", 64), strings.Repeat("b", 64)
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sb := &store.Sandbox{ID: known, Name: "k8s_POD_x", Dir: filepath.Join(s.SandboxRoot, known),
		Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "x"}}}
	if err := os.MkdirAll(sb.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := sb.Save(); err != nil {
		t.Fatal(err)
	}
	ipam := filepath.Join(dir, "ipam")
	write(filepath.Join(s.CNIConfDir, "10-net.conflist"), `{"name": "net", "plugins": [{"type": "bridge", "ipam": {"type": "host-local", "dataDir": "`+ipam+`"}}]}`)
	for _, id := range []string{known, stray} {
		write(filepath.Join(s.NamespacesDir, "netns", id), "")
	}
	write(filepath.Join(ipam, "net", "10.0.0.2"), known+"\neth0")
	write(filepath.Join(ipam, "net", "10.0.0.3"), stray+"\neth0")
	write(filepath.Join(ipam, "net", "last_reserved_ip.0"), "10.0.0.3")
	write(filepath.Join(s.SandboxRoot, stray, "setup.json"), "{}")
	write(filepath.Join(s.ExitsDir, stray), "0")
	write(filepath.Join(s.RunRoot, "overlay-containers", stray, "userdata", "config.json"), "{}")
	write(filepath.Join(s.Root, "crio", "cni-attachments", stray+".json"), "{}")
	write(filepath.Join(s.Root, "overlay-containers", "containers.json"), `[{"id": "`+stray+`", "layer": "l1", "metadata": "{\"crio-container\":true}"}, {"id": "other", "metadata": "podman"}]`)

	leaks, err := Check(s)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range leaks {
		if l.Owner != stray {
			t.Errorf("reported %s, which is the known sandbox's or no crio object's", l)
		}
		got[l.Kind] = true
	}
	for _, kind := range []string{"netns pin", "cni lease", "state dir", "exit file", "cni attachment", "storage container"} {
		if !got[kind] {
			t.Errorf("no %q leak reported; got %v", kind, leaks)
		}
	}
	// The run root's dir of a storage container that exists is no leak:
	// only dirs of unknown storage containers are.
	if got["bundle"] {
		t.Errorf("the bundle of an existing storage container was reported: %v", leaks)
	}
}
