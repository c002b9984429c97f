package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crio/crio/internal/store"
)

func TestLayerWalksReuseRecentWalksAndForgetOldOnes(t *testing.T) {
	dir := t.TempDir()
	upper := filepath.Join(dir, "diff")
	if err := os.MkdirAll(filepath.Join(dir, "merged"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(upper, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, size int) {
		if err := os.WriteFile(filepath.Join(upper, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 100)
	c := &store.Container{ID: "c1", RootFS: filepath.Join(dir, "merged")}
	var w layerWalks

	u, ok := w.get(c, time.Hour)
	if !ok || u.usedBytes != 100 || u.usedInodes != 1 {
		t.Fatalf("first walk: %d bytes, %d inodes, %v; want 100, 1", u.usedBytes, u.usedInodes, ok)
	}
	write("b", 50)
	if u, _ := w.get(c, time.Hour); u.usedBytes != 100 {
		t.Fatalf("a walk younger than the max age was not reused: %d bytes", u.usedBytes)
	}
	if u, _ := w.get(c, 0); u.usedBytes != 150 || u.usedInodes != 2 {
		t.Fatalf("max age 0 walked to %d bytes, %d inodes; want 150, 2", u.usedBytes, u.usedInodes)
	}

	// A container nobody asked about for twice the max age is forgotten
	// at the next sweep.
	w.mu.Lock()
	w.byID["gone"] = layerWalk{at: time.Now().Add(-3 * layerWalkMaxAge)}
	w.swept = time.Time{}
	w.mu.Unlock()
	w.get(c, 0)
	if _, ok := w.byID["gone"]; ok || len(w.byID) != 1 {
		t.Fatalf("after a sweep the walks are %v", w.byID)
	}

	if _, ok := w.get(&store.Container{ID: "c2", RootFS: "/not/overlay"}, time.Hour); ok {
		t.Fatal("a rootfs that is not an overlay mount has a writable layer")
	}
}
