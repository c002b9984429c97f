package testregistry

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// cacheFormat changes whenever the cache layout itself changes.
const cacheFormat = "testregistry-images-v1"

// builderSource is the Go code that builds the images: part of the cache
// key, so that editing an image rebuilds the cache without a manual bump.
//
//go:embed images.go busybox.go layer.go tools.go zstd.go
var builderSource embed.FS

// refNameAnnotation names an image in the cached OCI layout's index.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// cacheKey identifies one generation of built images.
func cacheKey() (string, error) {
	h := sha256.New()
	h.Write([]byte(cacheFormat))
	for _, fsys := range []fs.FS{src, builderSource} {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "\x00%s\x00%d\x00", p, len(data))
			h.Write(data)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureImages returns the OCI layout directory holding every test image,
// building it under an exclusive lock when the cache lacks it. Test
// processes started at the same time wait for one build instead of each
// building their own.
func ensureImages(cacheDir string, logf func(string, ...any)) (string, error) {
	key, err := cacheKey()
	if err != nil {
		return "", err
	}
	final := filepath.Join(cacheDir, "images-"+key)
	if complete(final) {
		return final, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	if complete(final) {
		return final, nil
	}

	deb, err := busyboxDeb(cacheDir, logf)
	if err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	logf("testregistry: building test images into %s", final)
	imgs, err := buildImages(work, deb, logf)
	if err != nil {
		return "", err
	}
	tmpLayout := filepath.Join(work, "layout")
	p, err := layout.Write(tmpLayout, empty.Index)
	if err != nil {
		return "", fmt.Errorf("write layout: %w", err)
	}
	for _, ni := range imgs {
		for _, n := range ni.names {
			if err := p.AppendImage(ni.img, layout.WithAnnotations(map[string]string{refNameAnnotation: n})); err != nil {
				return "", fmt.Errorf("write %s to layout: %w", n, err)
			}
		}
	}
	// A stale directory of the same key is a build interrupted after the
	// rename started; a complete one was returned above.
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(tmpLayout, final); err != nil {
		return "", fmt.Errorf("install layout: %w", err)
	}
	pruneCache(cacheDir, final, logf)
	return final, nil
}

// pruneCache removes earlier generations of built images and leftovers of
// interrupted builds. Only old ones go: a test binary of another checkout
// may still be serving blobs from its generation.
func pruneCache(cacheDir, keep string, logf func(string, ...any)) {
	for _, pattern := range []string{"images-*", "build-*"} {
		m, _ := filepath.Glob(filepath.Join(cacheDir, pattern))
		for _, dir := range m {
			fi, err := os.Stat(dir)
			if dir == keep || err != nil || time.Since(fi.ModTime()) < 24*time.Hour {
				continue
			}
			logf("testregistry: removing stale cache %s", dir)
			_ = os.RemoveAll(dir)
		}
	}
}

// complete reports whether dir holds a finished layout: index.json is the
// last file layout.Write and AppendImage update, and the directory only
// appears under its final name by rename.
func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "index.json"))
	return err == nil
}
