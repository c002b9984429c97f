package testregistry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

// shared is the registry most tests read from; TestMain starts it.
var shared *Registry

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	start := time.Now()
	r, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start test registry:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "test registry started in %v on %s\n", time.Since(start).Round(time.Millisecond), r.Addr)
	shared = r
	defer r.Close()
	return m.Run()
}

// critestImages are the names critest v1.37.0 pulls (without their
// registry host), see /work/shared/critest-images.md.
var critestImages = []string{
	"e2e-test-images/busybox:1.29-2",
	"e2e-test-images/nginx:1.14-2",
	"e2e-test-images/httpd:2.4.39-4",
	"e2e-test-images/nonewprivs:1.3",
	"pause:3.9",
	"k8s-staging-cri-tools/test-image-1:latest",
	"k8s-staging-cri-tools/test-image-2:latest",
	"k8s-staging-cri-tools/test-image-3:latest",
	"k8s-staging-cri-tools/test-image-latest:latest",
	"k8s-staging-cri-tools/test-image-tags:1",
	"k8s-staging-cri-tools/test-image-tags:2",
	"k8s-staging-cri-tools/test-image-tags:3",
	"k8s-staging-cri-tools/test-image-tag:test",
	"k8s-staging-cri-tools/test-image-tag:all",
	"k8s-staging-cri-tools/test-image-user-uid:latest",
	"k8s-staging-cri-tools/test-image-user-username:latest",
	"k8s-staging-cri-tools/test-image-user-uid-group:latest",
	"k8s-staging-cri-tools/test-image-user-username-group:latest",
	"k8s-staging-cri-tools/test-image-predefined-group:latest",
	"k8s-staging-cri-tools/hostnet-nginx-amd64:latest",
}

// projectImages are the extra names the project's own tests use.
var projectImages = []string{
	"pause:3.10",
	"crio-test/multilayer:latest",
	"crio-test/big:latest",
	"crio-test/busybox:latest",
	"library/busybox:latest",
}

func pull(t *testing.T, r *Registry, repoAndTag string, opts ...remote.Option) v1.Image {
	t.Helper()
	ref, err := name.ParseReference(r.Ref(repoAndTag))
	if err != nil {
		t.Fatalf("parse %s: %v", repoAndTag, err)
	}
	img, err := remote.Image(ref, opts...)
	if err != nil {
		t.Fatalf("pull %s: %v", repoAndTag, err)
	}
	return img
}

func configOf(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func imageID(t *testing.T, img v1.Image) string {
	t.Helper()
	id, err := img.ConfigName()
	if err != nil {
		t.Fatalf("config digest: %v", err)
	}
	return id.String()
}

func TestEveryImageIsPullableAsLinuxAmd64(t *testing.T) {
	for _, n := range append(slices.Clone(critestImages), projectImages...) {
		t.Run(n, func(t *testing.T) {
			img := pull(t, shared, n)
			cfg := configOf(t, img)
			if cfg.OS != "linux" || cfg.Architecture != "amd64" {
				t.Errorf("platform is %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
			}
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			want, err := shared.Digest(n)
			if err != nil {
				t.Fatal(err)
			}
			if d.String() != want {
				t.Errorf("pulled digest %s, Digest() says %s", d, want)
			}
			// Every layer must be readable: a blob missing from the cache
			// only shows when a client downloads it.
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(layers) == 0 {
				t.Fatal("image has no layers")
			}
			for _, l := range layers {
				rc, err := l.Compressed()
				if err != nil {
					t.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

func TestImageConfigsMatchWhatCritestChecks(t *testing.T) {
	tests := []struct {
		image      string
		user       string
		entrypoint []string
		cmd        []string
	}{
		{image: "e2e-test-images/busybox:1.29-2", cmd: []string{"sh"}},
		{image: "e2e-test-images/nginx:1.14-2", cmd: []string{"nginx", "-g", "daemon off;"}},
		{image: "e2e-test-images/httpd:2.4.39-4", cmd: []string{"httpd-foreground"}},
		{image: "e2e-test-images/nonewprivs:1.3", cmd: []string{"/usr/local/bin/nnp"}},
		{image: "pause:3.9", user: "65535:65535", entrypoint: []string{"/pause"}},
		{image: "pause:3.10", user: "65535:65535", entrypoint: []string{"/pause"}},
		{image: "k8s-staging-cri-tools/test-image-user-uid:latest", user: "1002", cmd: []string{"sh"}},
		{image: "k8s-staging-cri-tools/test-image-user-username:latest", user: "www-data", cmd: []string{"sh"}},
		{image: "k8s-staging-cri-tools/test-image-user-uid-group:latest", user: "1003:1004", cmd: []string{"sh"}},
		{image: "k8s-staging-cri-tools/test-image-user-username-group:latest", user: "www-data:1004", cmd: []string{"sh"}},
		{image: "k8s-staging-cri-tools/test-image-predefined-group:latest", user: "1000", cmd: []string{"sh"}},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			c := configOf(t, pull(t, shared, tc.image)).Config
			if c.User != tc.user {
				t.Errorf("User = %q, want %q", c.User, tc.user)
			}
			if !slices.Equal(c.Entrypoint, tc.entrypoint) {
				t.Errorf("Entrypoint = %q, want %q", c.Entrypoint, tc.entrypoint)
			}
			if !slices.Equal(c.Cmd, tc.cmd) {
				t.Errorf("Cmd = %q, want %q", c.Cmd, tc.cmd)
			}
			if len(c.Env) == 0 || !slices.ContainsFunc(c.Env, func(e string) bool { return len(e) > 5 && e[:5] == "PATH=" }) {
				t.Errorf("Env %q has no PATH", c.Env)
			}
		})
	}
}

func TestBusyboxEnvIsDockersPath(t *testing.T) {
	c := configOf(t, pull(t, shared, BusyboxImage)).Config
	if !slices.Equal(c.Env, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}) {
		t.Errorf("Env = %q", c.Env)
	}
}

func TestImageIdentities(t *testing.T) {
	id := func(n string) string { return imageID(t, pull(t, shared, n)) }
	digest := func(n string) string {
		d, err := shared.Digest(n)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	p := "k8s-staging-cri-tools/"

	tags := []string{p + "test-image-tags:1", p + "test-image-tags:2", p + "test-image-tags:3"}
	for _, n := range tags[1:] {
		if digest(n) != digest(tags[0]) {
			t.Errorf("%s and %s differ; critest wants one image under three tags", n, tags[0])
		}
	}

	distinct := map[string][]string{
		"test-image-tag test/all":    {p + "test-image-tag:test", p + "test-image-tag:all"},
		"test-image-1/2/3/latest":    {p + "test-image-1:latest", p + "test-image-2:latest", p + "test-image-3:latest", p + "test-image-latest:latest"},
		"pause 3.9/3.10 and busybox": {"pause:3.9", "pause:3.10", BusyboxImage, p + "test-image-tags:1"},
	}
	for what, names := range distinct {
		seen := map[string]string{}
		for _, n := range names {
			i := id(n)
			if other, dup := seen[i]; dup {
				t.Errorf("%s: %s and %s have the same image ID %s", what, n, other, i)
			}
			seen[i] = n
		}
	}

	for _, alias := range []string{CrioTestBusyboxImage, LibraryBusyboxImage} {
		if digest(alias) != digest(BusyboxImage) {
			t.Errorf("%s is not the busybox image", alias)
		}
	}
	if _, err := shared.Digest("no/such:image"); err == nil {
		t.Error("Digest of an unknown image succeeded")
	}
}

func TestMultiLayerImageHasLargeIncompressibleLayers(t *testing.T) {
	checkRandomLayers(t, MultiLayerImage, multiLayerCount, multiLayerSize)
}

func TestBigImageIsTenLayersOfAbout200MB(t *testing.T) {
	total := checkRandomLayers(t, BigImage, bigLayerCount, bigLayerSize)
	if total < 200e6 || total > 220e6 {
		t.Errorf("%s is %d bytes compressed; want about 200 MB", BigImage, total)
	}
}

// checkRandomLayers checks that repo is busybox plus n distinct layers of
// at least size bytes compressed, and returns the compressed total.
func checkRandomLayers(t *testing.T, repo string, n int, size int64) int64 {
	t.Helper()
	img := pull(t, shared, repo)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1+n {
		t.Fatalf("%s: %d layers, want %d", repo, len(layers), 1+n)
	}
	var total int64
	seen := map[v1.Hash]bool{}
	for i, l := range layers {
		s, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if seen[d] {
			t.Errorf("%s: layer %d (%s) repeats an earlier layer", repo, i, d)
		}
		seen[d] = true
		total += s
		if i > 0 && s < size {
			t.Errorf("%s: layer %d is %d bytes compressed, want at least %d (incompressible)", repo, i, s, size)
		}
	}
	return total
}

func TestBasicAuth(t *testing.T) {
	auth := &BasicAuth{Username: "crio", Password: "s3cret"}
	r, err := Start(context.Background(), Options{BasicAuth: auth, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ref, err := name.ParseReference(r.Ref(BusyboxImage))
	if err != nil {
		t.Fatal(err)
	}

	for what, opt := range map[string]remote.Option{
		"no credentials": remote.WithAuth(authn.Anonymous),
		"wrong password": remote.WithAuth(&authn.Basic{Username: "crio", Password: "wrong"}),
		"wrong user":     remote.WithAuth(&authn.Basic{Username: "other", Password: "s3cret"}),
	} {
		_, err := remote.Head(ref, opt)
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %v, want 401 Unauthorized", what, err)
		}
	}

	resp, err := http.Get("http://" + r.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("GET /v2/ without credentials: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	desc, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: auth.Username, Password: auth.Password}))
	if err != nil {
		t.Fatalf("pull with the right credentials: %v", err)
	}
	want, _ := r.Digest(BusyboxImage)
	if desc.Digest.String() != want {
		t.Errorf("digest %s, want %s", desc.Digest, want)
	}
}

func TestRegistriesConfMirrorsPublicRegistries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registries.conf")
	if err := WriteRegistriesConf(path, shared.Addr); err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{SystemRegistriesConfPath: path, SystemRegistriesConfDirPath: filepath.Join(t.TempDir(), "none")}
	sysregistriesv2.InvalidateCache()

	tests := map[string]string{
		"registry.k8s.io/pause:3.9":                      "pause:3.9",
		"k8s.gcr.io/pause:3.9":                           "pause:3.9",
		"registry.k8s.io/e2e-test-images/busybox:1.29-2": "e2e-test-images/busybox:1.29-2",
		"gcr.io/k8s-staging-cri-tools/test-image-tags:1": "k8s-staging-cri-tools/test-image-tags:1",
		"docker.io/library/busybox:latest":               "library/busybox:latest",
		"quay.io/crio-test/busybox:latest":               "crio-test/busybox:latest",
	}
	for in, wantRepo := range tests {
		named, err := reference.ParseNormalizedNamed(in)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := sysregistriesv2.FindRegistry(sys, in)
		if err != nil || reg == nil {
			t.Fatalf("FindRegistry(%s) = %v, %v", in, reg, err)
		}
		srcs, err := reg.PullSourcesFromReference(named)
		if err != nil {
			t.Fatal(err)
		}
		if len(srcs) == 0 {
			t.Fatalf("%s: no pull sources", in)
		}
		first := srcs[0]
		if got, want := first.Reference.String(), shared.Ref(wantRepo); got != want {
			t.Errorf("%s: first pull source %s, want %s", in, got, want)
		}
		if !first.Endpoint.Insecure {
			t.Errorf("%s: mirror %s is not insecure (plain HTTP)", in, first.Endpoint.Location)
		}
	}

	own, err := sysregistriesv2.FindRegistry(sys, shared.Ref(BusyboxImage))
	if err != nil || own == nil || !own.Insecure {
		t.Errorf("the registry's own address is not marked insecure: %+v, %v", own, err)
	}
	search, err := sysregistriesv2.UnqualifiedSearchRegistries(sys)
	if err != nil || !slices.Equal(search, []string{"docker.io"}) {
		t.Errorf("unqualified-search-registries = %q, %v", search, err)
	}
}

func TestCloseStopsServing(t *testing.T) {
	r, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c := http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get("http://" + r.Addr + "/v2/"); err == nil {
		resp.Body.Close()
		t.Errorf("registry still answers after Close")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPushServesATestsOwnImage(t *testing.T) {
	base := pull(t, shared, BusyboxImage)
	img, err := mutate.Config(base, v1.Config{Cmd: []string{"true"}, Env: []string{DefaultPath}})
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Push(context.Background(), "crio-test/pushed:v1", img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	got, err := shared.Digest("crio-test/pushed:v1")
	if err != nil || got != want.String() {
		t.Fatalf("Digest after Push = %q, %v; want %s", got, err, want)
	}
	if c := configOf(t, pull(t, shared, "crio-test/pushed:v1")).Config; !slices.Equal(c.Cmd, []string{"true"}) {
		t.Errorf("pulled Cmd %q, want [true]", c.Cmd)
	}
	if !slices.Contains(shared.Images(), "crio-test/pushed:v1") {
		t.Error("Images() lacks the pushed image")
	}
}
