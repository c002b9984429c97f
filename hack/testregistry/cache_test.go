package testregistry

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// seedDebs copies the cached busybox .deb into a fresh cache directory so
// that a cold build there does not download it again.
func seedDebs(t testing.TB, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(DefaultCacheDir(), "debs", "busybox_*.deb"))
	if len(m) == 0 {
		return // the build downloads it
	}
	data, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "debs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "debs", filepath.Base(m[0])), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentColdStartsBuildOnceAndAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every image from scratch (seconds of CPU)")
	}
	dir := t.TempDir()
	seedDebs(t, dir)

	const n = 3
	var (
		wg    sync.WaitGroup
		regs  [n]*Registry
		errs  [n]error
		start = time.Now()
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			regs[i], errs[i] = Start(context.Background(), Options{CacheDir: dir})
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent cold starts took %v", n, time.Since(start))
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		defer regs[i].Close()
	}
	gens, _ := filepath.Glob(filepath.Join(dir, "images-*"))
	if len(gens) != 1 {
		t.Errorf("cache holds %d image generations, want 1: %q", len(gens), gens)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "build-*"))
	if len(leftovers) != 0 {
		t.Errorf("build directories left behind: %q", leftovers)
	}
	// The same inputs give the same images: the layers and configs are
	// reproducible, so a rebuilt cache does not change digests.
	for _, img := range append(critestImages, projectImages...) {
		want, err := shared.Digest(img)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if got, _ := regs[i].Digest(img); got != want {
				t.Errorf("start %d: %s is %s, the shared cache's is %s (not reproducible, or the cache key misses an input)", i, img, got, want)
			}
		}
	}

	warm := time.Now()
	r, err := Start(context.Background(), Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Logf("warm start took %v", time.Since(warm))
}

func BenchmarkStartWarm(b *testing.B) {
	for b.Loop() {
		r, err := Start(context.Background(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
