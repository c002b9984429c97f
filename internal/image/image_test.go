package image

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/storage"
)

func TestParseUser(t *testing.T) {
	for _, tc := range []struct {
		in       string
		uid      int64 // -1: none
		username string
		bad      bool
	}{
		{"", -1, "", false},
		{"1002", 1002, "", false},
		{"0", 0, "", false},
		{"www-data", -1, "www-data", false},
		{"1003:1004", 1003, "", false},
		{"www-data:1004", -1, "www-data", false},
		{"default-user:group-defined-in-image", -1, "default-user", false},
		{"4294967294", 4294967294, "", false},
		{"4294967295", 0, "", true}, // (uid_t)-1
		{"99999999999999999999", 0, "", true},
		{"-1", 0, "", true},
		{"1abc", 0, "", true},
		{":1000", 0, "", true},
		{"root:4294967296", 0, "", true},
		{"bad name", 0, "", true},
		{"a/b", 0, "", true},
		{"x\x00", 0, "", true},
		{strings.Repeat("u", 300), 0, "", true},
	} {
		uid, name, err := ParseUser(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseUser(%q) = %v, %q; want an error", tc.in, uid, name)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseUser(%q): %v", tc.in, err)
			continue
		}
		got := int64(-1)
		if uid != nil {
			got = *uid
		}
		if got != tc.uid || name != tc.username {
			t.Errorf("ParseUser(%q) = uid %d, name %q; want %d, %q", tc.in, got, name, tc.uid, tc.username)
		}
	}
}

func TestParseConfigRefusesAbsurdValues(t *testing.T) {
	many := func(n int, item string) string {
		return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
	}
	manyKeys := func(n int, val string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i) + `":` + val)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{"ok", `{"config":{"User":"1000","Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]}}`, ""},
		{"not json", `{"config":`, "not valid JSON"},
		{"huge", `{"config":{"Env":["A=` + strings.Repeat("x", maxConfigSize) + `"]}}`, "bytes, more than"},
		{"bad user", `{"config":{"User":"4294967295"}}`, "User"},
		{"too many env", `{"config":{"Env":[` + many(maxEnv+1, `"A=1"`) + `]}}`, "Env has"},
		{"env entry too long", `{"config":{"Env":["A=` + strings.Repeat("x", maxEnvEntry) + `"]}}`, "Env[0]"},
		{"nul in env", `{"config":{"Env":["A=\u0000"]}}`, "NUL"},
		{"too many labels", `{"config":{"Labels":{` + manyKeys(maxLabels+1, `"v"`) + `}}}`, "Labels has"},
		{"too many volumes", `{"config":{"Volumes":{` + manyKeys(maxVolumes+1, `{}`) + `}}}`, "Volumes has"},
		{"too many layers", `{"rootfs":{"type":"layers","diff_ids":[` + many(maxLayers+1, `"sha256:`+strings.Repeat("a", 64)+`"`) + `]}}`, "layers"},
	} {
		_, err := ParseConfig([]byte(tc.cfg))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: accepted; want an error containing %q", tc.name, tc.want)
		case tc.want != "" && (!strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadImage)):
			t.Errorf("%s: error %q; want ErrBadImage containing %q", tc.name, err, tc.want)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestPinned(t *testing.T) {
	m := newPinMatcher("registry.k8s.io/pause:3.10", []string{"quay.io/crio/*", "*critical*", "busybox:1.36", ""})
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"registry.k8s.io/pause:3.10", true},
		{"registry.k8s.io/pause:3.9", false},
		{"quay.io/crio/anything:latest", true},
		{"quay.io/other/x:1", false},
		{"example.com/my-critical-app:2", true},
		{"docker.io/library/busybox:1.36", true}, // short pattern, normalized
		{"docker.io/library/busybox:1.37", false},
	} {
		if got := m.pinned([]string{tc.name}); got != tc.want {
			t.Errorf("pinned(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIsInsecure(t *testing.T) {
	list := []string{"reg.example:5000", "plain.example", "10.0.0.0/8"}
	for reg, want := range map[string]bool{
		"reg.example:5000": true, "reg.example": false, "plain.example:443": true,
		"10.1.2.3:5000": true, "11.1.2.3": false,
	} {
		if got := isInsecure(reg, list); got != want {
			t.Errorf("isInsecure(%q) = %v, want %v", reg, got, want)
		}
	}
}

// newTestService opens a real overlay store in a temp dir.
func newTestService(t testing.TB, mutate func(*config.Config)) (*Service, cstorage.Store) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("overlay storage needs root")
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Root, cfg.RunRoot = dir+"/root", dir+"/run"
	cfg.StorageDriver = "overlay"
	cfg.StorageConf = ""
	if mutate != nil {
		mutate(cfg)
	}
	st, err := storage.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Shutdown(true) })
	return New(st.Store, config.NewLive(cfg), slog.New(slog.NewTextHandler(io.Discard, nil))), st.Store
}

func TestRemoveRefusesImageUsedByContainer(t *testing.T) {
	svc, st := newTestService(t, nil)
	layer, err := st.CreateLayer("", "", nil, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if _, err := st.CreateImage(id, []string{"example.com/app:1", "example.com/app:2"}, layer.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	ctr, err := st.CreateContainer("", []string{"ctr"}, id, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}

	err = svc.Remove("example.com/app:1")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), ctr.ID) {
		t.Fatalf("Remove of an image in use = %v; want ErrInUse naming container %s", err, ctr.ID)
	}
	if _, err := st.Image(id); err != nil {
		t.Fatalf("the refused image is gone: %v", err)
	}

	u, err := svc.FsInfo()
	if err != nil {
		t.Fatal(err)
	}
	if u.Containers.Inodes == 0 || u.Images.Inodes == 0 {
		t.Errorf("FsInfo = %+v; want inodes counted for both the image layer and the container layer", u)
	}

	if err := st.DeleteContainer(ctr.ID); err != nil {
		t.Fatal(err)
	}
	// Removing by one tag removes the image with all its tags.
	if err := svc.Remove("example.com/app:1"); err != nil {
		t.Fatalf("Remove after the container is gone: %v", err)
	}
	if _, err := st.Image(id); !errors.Is(err, cstorage.ErrImageUnknown) {
		t.Fatalf("image still present after Remove (err %v)", err)
	}
	if _, err := svc.Lookup("example.com/app:2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the other tag still resolves: %v", err)
	}
	// Idempotent.
	if err := svc.Remove("example.com/app:1"); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestRemoveRefusesPinnedImage(t *testing.T) {
	svc, st := newTestService(t, func(c *config.Config) {
		c.Image.PauseImage = "registry.k8s.io/pause:3.10"
		c.Image.PinnedImages = []string{"example.com/pinned/*"}
	})
	for i, name := range []string{"registry.k8s.io/pause:3.10", "example.com/pinned/x:1"} {
		id := strings.Repeat(string(rune('a'+i)), 64)
		if _, err := st.CreateImage(id, []string{name}, "", "", nil); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{name, id, id[:12], "sha256:" + id} {
			if err := svc.Remove(ref); !errors.Is(err, ErrPinned) {
				t.Errorf("Remove(%q) of pinned %s = %v; want ErrPinned", ref, name, err)
			}
		}
		if _, err := st.Image(id); err != nil {
			t.Errorf("pinned image %s was removed", name)
		}
	}
}

func TestLookup(t *testing.T) {
	svc, st := newTestService(t, nil)
	id := strings.Repeat("c", 64)
	if _, err := st.CreateImage(id, []string{"example.com/a:1"}, "", "", &cstorage.ImageOptions{
		Digest: digest.Digest("sha256:" + strings.Repeat("d", 64)),
	}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{id, "sha256:" + id, id[:6], "example.com/a:1", "example.com/a@sha256:" + strings.Repeat("d", 64)} {
		img, err := svc.Lookup(ref)
		if err != nil || img.ID != id {
			t.Errorf("Lookup(%q) = %v, %v; want image %s", ref, img, err, id)
		}
	}
	for _, ref := range []string{"example.com/a:2", strings.Repeat("e", 64), "example.com/b@sha256:" + strings.Repeat("d", 64)} {
		if _, err := svc.Lookup(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q) = %v; want ErrNotFound", ref, err)
		}
	}
	// No config stored for this image: Resolve says so instead of
	// handing back an empty config.
	if _, _, err := svc.Resolve(id); !errors.Is(err, ErrBadImage) {
		t.Errorf("Resolve of an image without a config = %v; want ErrBadImage", err)
	}
	if _, err := svc.Lookup(""); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Lookup(\"\") = %v; want ErrInvalidName", err)
	}
}

func TestStoredConfigIsCappedAndValidated(t *testing.T) {
	svc, st := newTestService(t, nil)
	for i, tc := range []struct {
		cfg  []byte
		want string
	}{
		{[]byte(`{"config":{"User":"www-data:33","Env":["A=1"]}}`), ""},
		{[]byte(`{"config":{"Env":["A=` + strings.Repeat("x", maxConfigSize) + `"]}}`), "more than the"},
		{[]byte(`{"config":{"User":"-1"}}`), "User"},
	} {
		id := strings.Repeat(string(rune('a'+i)), 64)
		if _, err := st.CreateImage(id, []string{"example.com/cfg:" + itoa(i)}, "", "", nil); err != nil {
			t.Fatal(err)
		}
		if err := st.SetImageBigData(id, "sha256:"+id, tc.cfg, nil); err != nil {
			t.Fatal(err)
		}
		_, cfg, err := svc.Resolve(id)
		if tc.want == "" {
			if err != nil || cfg.Config.User != "www-data:33" {
				t.Errorf("config %d: %v, %v; want it read", i, cfg, err)
			}
			im, err := svc.Status(id, false)
			if err != nil || im.Username != "www-data" || im.UID != nil {
				t.Errorf("Status of config %d = %+v, %v; want username www-data", i, im, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %d: %v; want ErrBadImage containing %q", i, err, tc.want)
		}
	}
}

func TestPullRefusesBadNamesWithoutNetwork(t *testing.T) {
	svc, _ := newTestService(t, nil)
	for _, name := range []string{"", strings.Repeat("a", 64), "sha256:" + strings.Repeat("b", 64), "UPPER/case:1", "a b"} {
		if _, err := svc.Pull(context.Background(), name, PullOptions{}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Pull(%q) = %v; want ErrInvalidName", name, err)
		}
	}
}
