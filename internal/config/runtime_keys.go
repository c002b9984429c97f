package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DefaultContainerMinMemory is a handler's container_min_memory when it sets
// none: 12 MiB, as in CRI-O.
const DefaultContainerMinMemory = 12 * 1024 * 1024

// memorySize is the size syntax of CRI-O's container_min_memory (go-units'
// RAMInBytes): a number, an optional space, then an optional unit k, m, g,
// t or p (any case) with an optional "i" and "b"; every unit is binary.
var memorySize = regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)

// ParseMemorySize reads a size such as "12MiB", "500KiB", "1g" or "4096"
// in bytes, as CRI-O reads container_min_memory.
func ParseMemorySize(s string) (int64, error) {
	m := memorySize.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (like \"12MiB\", \"500KiB\" or a number of bytes)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	if m[2] != "" {
		n *= float64(int64(1) << (10 * (strings.IndexByte("kmgtp", strings.ToLower(m[2])[0]) + 1)))
	}
	if n >= 1<<63 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}

// MinMemory is the lowest memory limit, in bytes, a container of the
// handler may have: container_min_memory, or 12 MiB when it is empty.
// The value was checked when the configuration loaded.
func (h RuntimeHandler) MinMemory() int64 {
	if h.ContainerMinMemory == "" {
		return DefaultContainerMinMemory
	}
	n, err := ParseMemorySize(h.ContainerMinMemory)
	if err != nil {
		return DefaultContainerMinMemory
	}
	return n
}

// The pod annotations that give a pod's containers host devices, CRI-O's
// current name and its deprecated one (the current one wins). A handler
// (or an active workload) honours one only when its allowed_annotations
// names it; the devices must be in [crio.runtime] allowed_devices.
const (
	DevicesAnnotation   = "devices.crio.io"
	DevicesAnnotationV1 = "io.kubernetes.cri-o.Devices"
)

// AllowedAnnotations is what a pod of handler may use: the handler's
// allowed_annotations and those of every workload whose
// activation_annotation the pod carries, as in CRI-O.
func (r *RuntimeConfig) AllowedAnnotations(handler string, pod map[string]string) []string {
	allowed := append([]string(nil), r.Runtimes[handler].AllowedAnnotations...)
	for _, name := range slices.Sorted(maps.Keys(r.Workloads)) {
		w := r.Workloads[name]
		if _, ok := pod[w.ActivationAnnotation]; ok && w.ActivationAnnotation != "" {
			allowed = append(allowed, w.AllowedAnnotations...)
		}
	}
	return allowed
}

// AnnotationValue returns the value of the first of keys the pod carries
// and allowed names, with its key. As in CRI-O, an annotation that is not
// allowed is ignored, as if the pod did not carry it.
func AnnotationValue(pod map[string]string, allowed []string, keys ...string) (value, key string, ok bool) {
	for _, k := range keys {
		if v, has := pod[k]; has && slices.Contains(allowed, k) {
			return v, k, true
		}
	}
	return "", "", false
}

// ParseDevice reads a device as CRI-O writes additional_devices and the
// devices annotation: "/dev/host[:/dev/ctr][:perms]", perms a combination
// of r, w and m ("rwm" when absent); the container path is the host path
// when absent and must be under /dev/.
func ParseDevice(s string) (src, dst, perms string, err error) {
	parts := strings.Split(s, ":")
	perms = "rwm"
	switch len(parts) {
	case 3:
		if !validDeviceMode(parts[2]) {
			return "", "", "", fmt.Errorf("device %q: %q is not a combination of r, w and m", s, parts[2])
		}
		perms = parts[2]
		fallthrough
	case 2:
		if validDeviceMode(parts[1]) && len(parts) == 2 {
			perms = parts[1]
		} else if parts[1] != "" {
			dst = parts[1]
		}
		fallthrough
	case 1:
		src = parts[0]
	default:
		return "", "", "", fmt.Errorf("device %q is not of the form /dev/host[:/dev/container][:rwm]", s)
	}
	if dst == "" {
		dst = src
	}
	if !filepath.IsAbs(src) {
		return "", "", "", fmt.Errorf("device %q: the host path %q is not absolute", s, src)
	}
	if !strings.HasPrefix(dst, "/dev/") || filepath.Clean(dst) != dst {
		return "", "", "", fmt.Errorf("device %q: the container path %q is not a clean path under /dev/", s, dst)
	}
	return src, dst, perms, nil
}

func validDeviceMode(m string) bool {
	if m == "" || len(m) > 3 {
		return false
	}
	for i, c := range m {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(m[i+1:], c) {
			return false
		}
	}
	return true
}
