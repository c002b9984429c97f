package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

func TestV1ControllerReadsSuperOptions(t *testing.T) {
	// This machine's layout: hugetlb on the unified mount only.
	hybrid := `35 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory
36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
37 25 0:32 / /sys/fs/cgroup/unified rw,relatime shared:15 - cgroup2 cgroup2 rw
38 25 0:33 / /sys/fs/cgroup/systemd rw,relatime shared:16 - cgroup cgroup rw,xattr,name=systemd
`
	withHugetlb := hybrid + "39 25 0:34 / /sys/fs/cgroup/hugetlb rw,relatime shared:17 - cgroup cgroup rw,hugetlb\n"
	dir := t.TempDir()
	for _, c := range []struct {
		name, mountinfo, controller string
		want                        bool
	}{
		{"hugetlb only on the unified mount", hybrid, "hugetlb", false},
		{"v1 hugetlb hierarchy", withHugetlb, "hugetlb", true},
		{"co-mounted controller", hybrid, "cpuacct", true},
		{"named hierarchy is not a controller", hybrid, "systemd", false},
	} {
		p := filepath.Join(dir, "mountinfo")
		if err := os.WriteFile(p, []byte(c.mountinfo), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := v1Controller(p, c.controller); got != c.want {
			t.Errorf("%s: v1Controller(%q) = %v, want %v", c.name, c.controller, got, c.want)
		}
	}
}
