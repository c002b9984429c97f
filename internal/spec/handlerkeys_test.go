package spec

import (
	"os"
	"path/filepath"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestAdditionalAndAnnotationDevicesAreAdded(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{})
	in.Defaults.AdditionalDevices = []string{"/dev/fuse:r"}
	in.Defaults.AnnotationDevices = []string{"/dev/fuse:/dev/pod-fuse:rw"}
	s := build(t, in).Spec
	got := map[string]bool{}
	for _, d := range s.Linux.Devices {
		got[d.Path] = true
	}
	if !got["/dev/fuse"] || !got["/dev/pod-fuse"] || len(s.Linux.Devices) != 2 {
		t.Errorf("devices = %+v; want /dev/fuse (additional_devices) and /dev/pod-fuse (annotation)", s.Linux.Devices)
	}
	var access []string
	for _, r := range s.Linux.Resources.Devices {
		if r.Allow && r.Major != nil && *r.Major == 10 {
			access = append(access, r.Access)
		}
	}
	if len(access) != 2 || access[0] != "r" || access[1] != "rw" {
		t.Errorf("device cgroup accesses = %v; want [r rw] (each entry's permissions)", access)
	}
	in.Defaults.AnnotationDevices = nil
	in.Defaults.AdditionalDevices = []string{"/dev/nothere"}
	if _, err := Build(in); err == nil {
		t.Error("an additional device the host does not have was accepted")
	}
}

func TestDefaultAnnotationsYieldToTheContainers(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{Annotations: map[string]string{"b": "container"}})
	in.Defaults.Annotations = map[string]string{"a": "default", "b": "default"}
	s := build(t, in).Spec
	if s.Annotations["a"] != "default" || s.Annotations["b"] != "container" {
		t.Errorf("annotations = %v; want a=default and the container's b", s.Annotations)
	}
}

func TestDefaultMountsResolveInTheRootfsAndYieldToCRIMounts(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{})
	// A symlink in the image pointing out of the rootfs stays inside.
	if err := os.Symlink("/etc", filepath.Join(in.RootFS, "escape")); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	in.Config.Mounts = []*runtimeapi.Mount{{HostPath: src, ContainerPath: "/taken"}}
	in.Defaults.DefaultMounts = []DefaultMount{
		{Source: "/copy/secrets", Destination: "/run/secrets"},
		{Source: "/copy/escape", Destination: "/escape/x"},
		{Source: "/copy/taken", Destination: "/taken"},
	}
	s := build(t, in).Spec
	byDst := map[string]rspec.Mount{}
	for _, m := range s.Mounts {
		byDst[m.Destination] = m
	}
	if m, ok := byDst["/run/secrets"]; !ok || m.Source != "/copy/secrets" || m.Type != "bind" {
		t.Errorf("/run/secrets = %+v; want a bind of the copy", m)
	}
	if m, ok := byDst["/etc/x"]; !ok || m.Source != "/copy/escape" {
		t.Errorf("/escape/x through the image's symlink: mounts %v; want it at /etc/x of the rootfs", byDst)
	}
	if m := byDst["/taken"]; m.Source != src {
		t.Errorf("/taken is from %q; want the CRI mount's %q", m.Source, src)
	}
}
