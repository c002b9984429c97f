package oci

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCountsOOMKill(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"low 0\nhigh 3\nmax 9\noom 1\noom_kill 0\noom_group_kill 0\n", false},
		{"low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n", true},
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", true}, // v1 memory.oom_control
		{"oom_kill_disable 1\nunder_oom 0\n", false},
		{"", false},
		{"oom_kill\n", false},
	} {
		if got := countsOOMKill([]byte(tc.in)); got != tc.want {
			t.Errorf("countsOOMKill(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// The watcher marks the bundle when memory.events starts counting a kill,
// not on the events that count only pressure, and forgets a cgroup that
// went away.
func TestOOMWatcherMarksTheBundleOnAKill(t *testing.T) {
	root := t.TempDir()
	cg := filepath.Join(root, "pod.slice", "crio-a.scope")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(cg, "memory.events")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(events, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("max 0\noom 0\noom_kill 0\n")
	bundle := t.TempDir()
	marker := filepath.Join(bundle, "oom")
	o, err := newOOMWatcher(root, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	c := &Container{ID: "a", Bundle: bundle, CgroupPath: "pod.slice/crio-a.scope"}
	o.add(c)

	write("max 5\noom 1\noom_kill 0\n")
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("oom marker written for memory pressure without a kill")
	}
	write("max 5\noom 1\noom_kill 1\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no oom marker after memory.events counted a kill")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// systemd removing the cgroup drops the watch; remove must not fail.
	if err := os.RemoveAll(cg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	o.remove(c)
	o.mu.Lock()
	n := len(o.bundles)
	o.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d cgroups still watched after remove", n)
	}

	// A container whose cgroup is already gone is not watched.
	o.add(&Container{ID: "b", Bundle: bundle, CgroupPath: "pod.slice/crio-b.scope"})
	o.mu.Lock()
	n = len(o.bundles)
	o.mu.Unlock()
	if n != 0 {
		t.Fatal("a container without a cgroup is watched")
	}
}
