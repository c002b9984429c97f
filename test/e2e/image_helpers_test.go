package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/test/framework"
)

// The images of hack/testregistry these tests use.
const (
	busybox    = "e2e-test-images/busybox:1.29-2"
	pause      = "pause:3.10"
	multilayer = "crio-test/multilayer:latest"
	tagsImage1 = "k8s-staging-cri-tools/test-image-tags:1"
	tagsImage2 = "k8s-staging-cri-tools/test-image-tags:2"
	userImage  = "k8s-staging-cri-tools/test-image-user-username:latest"
)

var (
	regOnce sync.Once
	regRef  *testregistry.Registry
	regErr  error
)

// sharedRegistry is one loopback test registry for the whole test process.
func sharedRegistry(t testing.TB) *testregistry.Registry {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: `make unit` (-short) runs no daemon and no registry")
	}
	regOnce.Do(func() {
		regRef, regErr = testregistry.Start(context.Background(), testregistry.Options{})
	})
	if regErr != nil {
		t.Fatalf("starting the test registry: %v", regErr)
	}
	return regRef
}

// proxy sits in front of a registry: it counts blob downloads and can
// slow them down, so tests can see how many downloads a pull made.
type proxy struct {
	Addr  string
	delay atomic.Int64 // nanoseconds each blob GET waits

	mu    sync.Mutex
	blobs map[string]int // blob digest -> GET requests
}

func startProxy(t testing.TB, upstream string, delay time.Duration) *proxy {
	t.Helper()
	u, _ := url.Parse("http://" + upstream)
	p := &proxy{blobs: map[string]int{}}
	p.delay.Store(int64(delay))
	rp := httputil.NewSingleHostReverseProxy(u)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.Index(r.URL.Path, "/blobs/sha256:"); i >= 0 && r.Method == http.MethodGet {
			p.mu.Lock()
			p.blobs[r.URL.Path[i+len("/blobs/"):]]++
			p.mu.Unlock()
			time.Sleep(time.Duration(p.delay.Load()))
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

// blobGets returns a copy of the per-blob download counts.
func (p *proxy) blobGets() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.blobs {
		out[k] = v
	}
	return out
}

// imageDaemonOptions shape the daemon of an image test.
type imageDaemonOptions struct {
	registry string // address the public registries are mirrored to
	policy   string // policy.json content; default accepts anything
	extra    string // more registries.conf
	config   string // more [crio.image] keys
	confDir  string // where registries.conf and policy.json go; default a new temp dir
	// editRegistries rewrites the generated registries.conf before the daemon starts.
	editRegistries func(string) string
}

// newImageDaemon starts a daemon whose registries.conf mirrors the public
// registries to o.registry and whose signature policy is o.policy.
func newImageDaemon(t testing.TB, o imageDaemonOptions) *framework.Daemon {
	t.Helper()
	dir := o.confDir
	if dir == "" {
		dir = t.TempDir()
	}
	regConf := filepath.Join(dir, "registries.conf")
	if err := testregistry.WriteRegistriesConf(regConf, o.registry); err != nil {
		t.Fatal(err)
	}
	if o.editRegistries != nil {
		b, err := os.ReadFile(regConf)
		if err != nil {
			t.Fatal(err)
		}
		edited := o.editRegistries(string(b))
		if edited == string(b) {
			t.Fatalf("editRegistries changed nothing in:\n%s", b)
		}
		if err := os.WriteFile(regConf, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.extra != "" {
		f, err := os.OpenFile(regConf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "\n%s\n", o.extra)
		f.Close()
	}
	if o.policy == "" {
		o.policy = `{"default": [{"type": "insecureAcceptAnything"}]}`
	}
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(o.policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return framework.NewDaemon(t, framework.Options{Config: fmt.Sprintf(`
[crio.image]
registries_conf = %q
signature_policy = %q
pause_image = "registry.k8s.io/pause:3.10"
%s
`, regConf, policy, o.config)})
}

func pull(t testing.TB, d *framework.Daemon, ref string, auth *runtimeapi.AuthConfig) (string, error) {
	t.Helper()
	resp, err := d.Image.PullImage(framework.Ctx(t), &runtimeapi.PullImageRequest{
		Image: &runtimeapi.ImageSpec{Image: ref},
		Auth:  auth,
	})
	if err != nil {
		return "", err
	}
	return resp.ImageRef, nil
}

func mustPull(t testing.TB, d *framework.Daemon, ref string) string {
	t.Helper()
	id, err := pull(t, d, ref, nil)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	if len(id) != 64 {
		t.Fatalf("pulling %s returned image ref %q; want the 64-hex image ID", ref, id)
	}
	return id
}

func imageStatus(t testing.TB, d *framework.Daemon, ref string, verbose bool) *runtimeapi.ImageStatusResponse {
	t.Helper()
	resp, err := d.Image.ImageStatus(framework.Ctx(t), &runtimeapi.ImageStatusRequest{
		Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: verbose,
	})
	if err != nil {
		t.Fatalf("ImageStatus(%s): %v", ref, err)
	}
	return resp
}

func listImages(t testing.TB, d *framework.Daemon) []*runtimeapi.Image {
	t.Helper()
	resp, err := d.Image.ListImages(framework.Ctx(t), &runtimeapi.ListImagesRequest{})
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	return resp.Images
}

// layerDesc is a layer descriptor of a served manifest.
type layerDesc struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

// servedManifest is the image manifest of repo:tag as the registry at
// addr serves it (OCI or Docker schema 2).
type servedManifest struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	} `json:"config"`
	Layers []layerDesc `json:"layers"`
}

func manifestOf(t testing.TB, addr, repo, tag string) servedManifest {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/manifests/%s", addr, repo, tag), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m servedManifest
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("manifest of %s:%s: %s, %v", repo, tag, resp.Status, err)
	}
	return m
}

// checkPulled checks what ImageStatus reports for ref right after it was
// pulled as image id from repo at digest dgst, and returns the verbose
// status for more checks.
func checkPulled(t *testing.T, d *framework.Daemon, ref, id, repo, dgst string) *runtimeapi.ImageStatusResponse {
	t.Helper()
	s := imageStatus(t, d, ref, true)
	if s.Image == nil || s.Image.Id != id {
		t.Fatalf("ImageStatus(%s) = %v; want image %s", ref, s.Image, id)
	}
	if !slices.Equal(s.Image.RepoTags, []string{ref}) {
		t.Errorf("RepoTags = %v; want [%s]", s.Image.RepoTags, ref)
	}
	if !slices.Contains(s.Image.RepoDigests, repo+"@"+dgst) {
		t.Errorf("RepoDigests = %v; want %s@%s", s.Image.RepoDigests, repo, dgst)
	}
	if s.Image.Size == 0 {
		t.Error("Size = 0; must be > 0")
	}
	return s
}
