package cgroups

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

var (
	hugetlbOnce sync.Once
	hugetlbOK   bool
)

// HugetlbUsable reports whether the OCI runtime can apply hugepage limits
// on this host. The kubelet sends a limit for every page size the host has,
// whatever the pod asked for; a runtime that passes them on where they
// cannot be applied fails every container. On a hybrid host the hugetlb
// controller may be bound to the unified mount, where runc's v1 manager
// does not reach ("cannot set hugetlb limit: container could not join or
// create cgroup"), so only a v1 hugetlb hierarchy counts there. CRI-O and
// containerd drop the limits the same way when the controller is missing.
func HugetlbUsable() bool {
	hugetlbOnce.Do(func() {
		if IsV2() {
			b, err := os.ReadFile(filepath.Join(Root, "cgroup.controllers"))
			hugetlbOK = err == nil && slices.Contains(strings.Fields(string(b)), "hugetlb")
			return
		}
		hugetlbOK = v1Controller("/proc/self/mountinfo", "hugetlb")
	})
	return hugetlbOK
}

// v1Controller reports whether a cgroup v1 hierarchy with controller is
// mounted, per the mountinfo file at path.
func v1Controller(path, controller string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "... - cgroup cgroup rw,hugetlb": the super options come last.
		_, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(post)
		if !ok || len(fields) < 3 || fields[0] != "cgroup" {
			continue
		}
		if slices.Contains(strings.Split(fields[2], ","), controller) {
			return true
		}
	}
	return false
}
