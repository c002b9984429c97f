package cgroups

import (
	"fmt"
	"path"
	"strings"
)

// DefaultSystemdSlice holds the cgroups of pods the kubelet gave no
// parent, under the systemd driver, as in CRI-O.
const DefaultSystemdSlice = "system.slice"

// defaultCgroupfsParent is the cgroupfs counterpart.
const defaultCgroupfsParent = "/crio"

// PodSlice is the systemd slice a pod's units go in: the last element of
// its resolved cgroup path, or system.slice when it has none.
func PodSlice(podPath string) string {
	if b := path.Base(podPath); strings.HasSuffix(b, ".slice") {
		return b
	}
	return DefaultSystemdSlice
}

// ContainerPath is a container's cgroup under its pod's resolved path:
// the spec's cgroupsPath (a path for cgroupfs; runc's
// "slice:prefix:name" for systemd, whose unit is "crio-ID.scope") and
// where that is below a hierarchy's root, for stats and OOM reports.
func ContainerPath(driver, podPath, id string) (specPath, fsPath string) {
	if driver == Systemd {
		specPath = PodSlice(podPath) + ":crio:" + id
		fs, _ := FSPath(specPath)
		return specPath, fs
	}
	if podPath == "" {
		podPath = defaultCgroupfsParent
	}
	p := path.Join(podPath, "crio-"+id)
	return p, p
}

// FSPath turns a spec's cgroupsPath into a path below a hierarchy's root:
// a cgroupfs path stays as it is; runc's systemd form "slice:prefix:name"
// is the scope "prefix-name.scope" in the expanded slice (or the slice
// itself when name is one), as runc's systemd manager places it.
func FSPath(specPath string) (string, error) {
	if !strings.Contains(specPath, ":") {
		return specPath, nil
	}
	parts := strings.Split(specPath, ":")
	if len(parts) != 3 {
		return "", fmt.Errorf("cgroups path %q is not slice:prefix:name", specPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = DefaultSystemdSlice
	}
	parent, err := expandSlice(slice)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(name, ".slice") {
		return expandSlice(name)
	}
	unit := name + ".scope"
	if prefix != "" {
		unit = prefix + "-" + unit
	}
	if name == "" || strings.Contains(unit, "/") {
		return "", fmt.Errorf("cgroups path %q names no unit", specPath)
	}
	return path.Join(parent, unit), nil
}
