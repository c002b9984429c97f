package oci

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseOOMKills(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n       uint64
		counted bool
	}{
		{"low 0\nhigh 3\nmax 9\noom 1\noom_kill 0\noom_group_kill 0\n", 0, true},
		{"low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n", 1, true},
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", 2, true}, // v1 memory.oom_control
		{"oom_kill_disable 1\nunder_oom 0\n", 0, false},
		{"", 0, false},
		{"oom_kill\n", 0, false},
		{"oom_kill x\n", 0, false},
	} {
		if n, counted := parseOOMKills([]byte(tc.in)); n != tc.n || counted != tc.counted {
			t.Errorf("parseOOMKills(%q) = %d, %v; want %d, %v", tc.in, n, counted, tc.n, tc.counted)
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
	n := len(o.watched)
	o.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d cgroups still watched after remove", n)
	}

	// A container whose cgroup is already gone is not watched.
	o.add(&Container{ID: "b", Bundle: bundle, CgroupPath: "pod.slice/crio-b.scope"})
	o.mu.Lock()
	n = len(o.watched)
	o.mu.Unlock()
	if n != 0 {
		t.Fatal("a container without a cgroup is watched")
	}
}

// A scope whose cgroup was gone before its kill was read: the parent's
// count decides, one kill per container, never for a container the daemon
// killed, and a verdict does not change when a sibling's kill comes later.
func TestOOMWatcherGivesParentKillsToSIGKILLedContainers(t *testing.T) {
	root := t.TempDir()
	parent := filepath.Join(root, "pod.slice")
	setKills := func(n int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(parent, "memory.events"), []byte(fmt.Sprintf("max 7\noom 2\noom_kill %d\n", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o, err := newOOMWatcher(root, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	ctr := func(id string) *Container {
		cg := filepath.Join(parent, "crio-"+id+".scope")
		if err := os.MkdirAll(cg, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cg, "memory.events"), []byte("oom_kill 0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := &Container{ID: id, Bundle: t.TempDir(), CgroupPath: "pod.slice/crio-" + id + ".scope"}
		o.add(c)
		return c
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	setKills(4) // kills before any container: nobody's
	a, b, stopped, late := ctr("a"), ctr("b"), ctr("stopped"), ctr("late")
	for _, c := range []*Container{a, b, stopped, late} {
		if err := os.RemoveAll(filepath.Join(root, c.CgroupPath)); err != nil {
			t.Fatal(err)
		}
	}
	o.sigkilled(stopped)
	if o.fromParent(a) {
		t.Fatal("a container was given a kill from before it")
	}
	setKills(6)
	if o.fromParent(stopped) {
		t.Fatal("a container the daemon SIGKILLed was given an OOM kill")
	}
	if !o.fromParent(b) {
		t.Fatal("b not given the first of two new kills")
	}
	if !o.fromParent(late) {
		t.Fatal("late not given the second of two new kills")
	}
	if o.fromParent(a) {
		t.Fatal("a's verdict changed after its siblings' kills")
	}
	if !o.fromParent(b) {
		t.Fatal("b's verdict changed when asked again")
	}
}
