// Package testregistry is the project's loopback OCI registry for tests. It
// builds the images that the CRI validation suite (critest) and the
// project's own tests pull, caches them on disk, and serves them with
// go-containerregistry's in-process registry over plain HTTP.
package testregistry

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options configure Start.
type Options struct {
	Addr      string     // listen address; default "127.0.0.1:0"
	CacheDir  string     // where downloaded .debs and built images are kept between runs; default $XDG_CACHE_HOME/crio-testregistry or /var/cache/crio-testregistry
	BasicAuth *BasicAuth // when set, every request needs these credentials (401 otherwise)
	Logf      func(format string, args ...any)
}

// BasicAuth is a username and password for HTTP basic authentication.
type BasicAuth struct{ Username, Password string }

// Registry is a running test registry.
type Registry struct {
	Addr string // "127.0.0.1:PORT"

	srv    *http.Server
	served chan error
	auth   []remote.Option // credentials for our own pushes

	mu      sync.Mutex
	digests map[string]string // repo:tag -> manifest digest
}

// DefaultCacheDir is the cache directory used when Options.CacheDir is empty.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "crio-testregistry")
	}
	return "/var/cache/crio-testregistry"
}

// Start builds the test images (or loads them from the cache), starts
// serving and pushes every image under its names. The registry keeps
// serving after ctx ends; Close stops it.
func Start(ctx context.Context, o Options) (*Registry, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	layoutDir, err := ensureImages(o.CacheDir, logf)
	if err != nil {
		return nil, fmt.Errorf("test images: %w", err)
	}
	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		return nil, fmt.Errorf("open image cache %s: %w", layoutDir, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("open image cache %s: %w", layoutDir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read image cache index: %w", err)
	}

	// The cached images by name, loaded before serving: the hostile
	// images' handler reads them.
	cached := map[string]v1.Image{}
	cachedDigests := map[string]string{}
	for _, desc := range im.Manifests {
		n := desc.Annotations[refNameAnnotation]
		if n == "" {
			continue
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("load %s from cache: %w", n, err)
		}
		cached[n] = img
		cachedDigests[n] = desc.Digest.String()
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	var reqLog *log.Logger
	if o.Logf != nil {
		reqLog = log.New(logfWriter(o.Logf), "testregistry: ", 0)
	} else {
		reqLog = log.New(io.Discard, "", 0)
	}
	var h http.Handler = registry.New(
		registry.Logger(reqLog),
		registry.WithBlobHandler(newBlobStore(filepath.Join(layoutDir, "blobs"))),
	)
	h = hostileHandler(h, newHostileSet(hostileBase(cached)), logf)
	if o.BasicAuth != nil {
		h = requireBasicAuth(h, *o.BasicAuth)
	}
	r := &Registry{
		Addr:    ln.Addr().String(),
		srv:     &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second},
		served:  make(chan error, 1),
		digests: map[string]string{},
	}
	go func() { r.served <- r.srv.Serve(ln) }()

	pushes := map[name.Reference]remote.Taggable{}
	for n, img := range cached {
		ref, err := name.NewTag(r.Addr+"/"+n, name.Insecure, name.StrictValidation)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("image name %q: %w", n, err)
		}
		pushes[ref] = img
		r.digests[n] = cachedDigests[n]
	}
	if o.BasicAuth != nil {
		r.auth = []remote.Option{remote.WithAuth(&authn.Basic{Username: o.BasicAuth.Username, Password: o.BasicAuth.Password})}
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithJobs(8)}, r.auth...)
	if err := remote.MultiWrite(pushes, opts...); err != nil {
		r.Close()
		return nil, fmt.Errorf("push test images: %w", err)
	}
	logf("testregistry: serving %d images on %s", len(r.digests), r.Addr)
	return r, nil
}

// Close stops serving. Connections in flight are cut.
func (r *Registry) Close() error {
	err := r.srv.Close()
	if serr := <-r.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	// Let a second Close see the same outcome instead of blocking.
	r.served <- http.ErrServerClosed
	return err
}

// Ref returns the reference of repoAndTag in this registry, e.g.
// Ref("e2e-test-images/busybox:1.29-2") is "127.0.0.1:PORT/e2e-test-images/busybox:1.29-2".
func (r *Registry) Ref(repoAndTag string) string {
	return r.Addr + "/" + repoAndTag
}

// Digest returns the manifest digest ("sha256:...") of an image that Start
// pushed under repoAndTag.
func (r *Registry) Digest(repoAndTag string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.digests[repoAndTag]
	if !ok {
		return "", fmt.Errorf("test registry has no image %q", repoAndTag)
	}
	return d, nil
}

// Push uploads img under repoAndTag (e.g. a test's own image built with
// mutate), after which Ref and Digest know it. Its blobs stay in memory.
func (r *Registry) Push(ctx context.Context, repoAndTag string, img v1.Image) error {
	ref, err := name.NewTag(r.Ref(repoAndTag), name.Insecure, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image name %q: %w", repoAndTag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("digest of %s: %w", repoAndTag, err)
	}
	if err := remote.Write(ref, img, append([]remote.Option{remote.WithContext(ctx)}, r.auth...)...); err != nil {
		return fmt.Errorf("push %s: %w", repoAndTag, err)
	}
	r.mu.Lock()
	r.digests[repoAndTag] = d.String()
	r.mu.Unlock()
	return nil
}

// Images lists the repo:tag names that Start (or Push) pushed.
func (r *Registry) Images() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.digests))
	for n := range r.digests {
		out = append(out, n)
	}
	return out
}

func requireBasicAuth(next http.Handler, want BasicAuth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(want.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(want.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="crio-testregistry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// logfWriter adapts a printf-style logger to the io.Writer of log.Logger.
type logfWriter func(format string, args ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
