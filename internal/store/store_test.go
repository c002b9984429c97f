package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestIndexPrefixLookup(t *testing.T) {
	x := NewIndex[string]()
	x.Add("abc123", "one")
	x.Add("abd456", "two")
	if v, err := x.Get("abc"); err != nil || v != "one" {
		t.Fatalf("Get(abc) = %q, %v; want one", v, err)
	}
	if _, err := x.Get("ab"); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("Get(ab) error = %v; want ErrAmbiguous", err)
	}
	if _, err := x.Get("zz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(zz) error = %v; want ErrNotFound", err)
	}
	if _, err := x.Get(""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(\"\") error = %v; want ErrNotFound", err)
	}
}

func TestGenerateIDIsUnique64Hex(t *testing.T) {
	a, b := GenerateID(), GenerateID()
	if len(a) != 64 || a == b {
		t.Fatalf("IDs %q %q: want two different 64-char IDs", a, b)
	}
}

func TestNamesDuplicateWaitsForInFlight(t *testing.T) {
	n := NewNames()
	ctx := context.Background()
	id, owner, err := n.Reserve(ctx, "pod", "first")
	if err != nil || !owner || id != "first" {
		t.Fatalf("first Reserve = %q %v %v", id, owner, err)
	}
	var wg sync.WaitGroup
	got := make([]string, 5)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, owner, err := n.Reserve(ctx, "pod", "other")
			if err != nil || owner {
				t.Errorf("duplicate Reserve = %q %v %v; want the first's ID, not owner", id, owner, err)
			}
			got[i] = id
		}()
	}
	time.Sleep(10 * time.Millisecond)
	n.Finish("pod", "first")
	wg.Wait()
	for _, g := range got {
		if g != "first" {
			t.Fatalf("duplicate got %q; want first", g)
		}
	}
}

func TestNamesReleasedReservationLetsWaiterOwn(t *testing.T) {
	n := NewNames()
	ctx := context.Background()
	n.Reserve(ctx, "pod", "first")
	done := make(chan string)
	go func() {
		id, owner, _ := n.Reserve(ctx, "pod", "second")
		if !owner {
			id = "not owner: " + id
		}
		done <- id
	}()
	time.Sleep(10 * time.Millisecond)
	n.Release("pod", "first")
	if id := <-done; id != "second" {
		t.Fatalf("after release the waiter got %q; want to own the name as second", id)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	n.Release("pod", "second")
	n.Reserve(ctx, "pod", "third")
	if _, _, err := n.Reserve(ctx2, "pod", "fourth"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve with cancelled ctx = %v; want context.Canceled", err)
	}
}

func TestSandboxSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &Sandbox{
		ID: GenerateID(), Name: "k8s_POD_a_b_c_0", Dir: dir, RuntimeHandler: "runc",
		Config: &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "a", Namespace: "b", Uid: "c"},
			Labels:   map[string]string{"app": "x"},
		},
		NetNS: "/run/ns/netns/x", InfraPID: 42, IPs: []string{"10.0.0.2", "fd00::2"},
		CreatedAt: time.Unix(100, 5).UTC(),
	}
	s.SetState(runtimeapi.PodSandboxState_SANDBOX_READY)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSandbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.Config.GetLabels()["app"] != "x" || got.InfraPID != 42 ||
		got.State() != runtimeapi.PodSandboxState_SANDBOX_READY || len(got.IPs) != 2 || !got.CreatedAt.Equal(s.CreatedAt) {
		t.Fatalf("loaded %+v; want %+v", got, s)
	}
	loaded, bad, err := LoadSandboxes(filepath.Dir(dir))
	if err != nil || len(loaded) != 1 || len(bad) != 0 {
		t.Fatalf("LoadSandboxes = %d loaded, bad %v, %v", len(loaded), bad, err)
	}
}
