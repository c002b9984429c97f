package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestResolveParent(t *testing.T) {
	for _, tc := range []struct {
		driver, in, want string
		bad              bool
	}{
		{Cgroupfs, "/kubepods/besteffort/pod1", "/kubepods/besteffort/pod1", false},
		{Cgroupfs, "", "", false},
		{Cgroupfs, "kubepods/pod1", "", true},
		{Cgroupfs, "/kubepods/../etc", "", true},
		{Systemd, "kubepods-besteffort-pod1.slice", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice", false},
		{Systemd, "kubepods.slice", "/kubepods.slice", false},
		{Systemd, "kubepods", "", true},
		{Systemd, "a--b.slice", "", true},
	} {
		got, err := ResolveParent(tc.driver, tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ResolveParent(%s, %q) = %q, %v; want %q, error %v", tc.driver, tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// On a hybrid host runc also nests containers in the unified (v2) tree;
// a pod cgroup made only in the v1 trees would leave directories there.
func TestCreateAndRemoveCoverTheUnifiedTreeOfHybridHosts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if IsV2() {
		t.Skip("not a hybrid host")
	}
	unified := filepath.Join(Root, "unified")
	if _, err := os.Stat(filepath.Join(unified, "cgroup.procs")); err != nil {
		t.Skip("no unified tree mounted")
	}
	rel := fmt.Sprintf("/crio-hybrid-test-%d/pod", os.Getpid())
	created, err := Create(rel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(unified, rel)); err != nil {
		_ = Remove(created)
		t.Fatalf("pod cgroup not made in the unified tree: %v", err)
	}
	if err := Remove(created); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(unified, filepath.Dir(rel))); !os.IsNotExist(err) {
		t.Errorf("unified tree keeps %s after Remove: %v", filepath.Dir(rel), err)
	}
}
