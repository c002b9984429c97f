package framework

import (
	"os"
	"path/filepath"

	"github.com/crio/crio/internal/cgroups"
)

// RemoveCgroupTree removes a test's cgroup rel and everything below it
// (the kubelet's kubepods tree, a pod's cgroups) in every hierarchy,
// deepest first. What still holds processes stays.
func RemoveCgroupTree(rel string) {
	if rel == "" || rel == "/" {
		return
	}
	hs, err := cgroups.Hierarchies()
	if err != nil {
		return
	}
	for _, h := range hs {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, rel), func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		_ = cgroups.Remove(dirs)
	}
}
