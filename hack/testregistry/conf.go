package testregistry

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MirroredRegistries are the registries that WriteRegistriesConf redirects
// to the test registry.
var MirroredRegistries = []string{"registry.k8s.io", "k8s.gcr.io", "gcr.io", "docker.io", "quay.io"}

// WriteRegistriesConf writes a containers-registries.conf(5) (v2) file that
// makes every registry in MirroredRegistries pull from addr over plain
// HTTP, keeping the repository path (registry.k8s.io/pause:3.9 comes from
// addr/pause:3.9), marks addr itself insecure, and searches docker.io for
// unqualified names. Pulled images keep their original names.
func WriteRegistriesConf(path, addr string) error {
	if addr == "" || strings.ContainsAny(addr, "/\"\n") {
		return fmt.Errorf("invalid registry address %q", addr)
	}
	var b strings.Builder
	b.WriteString("# Written by hack/testregistry: every public registry is served by the loopback test registry.\n")
	b.WriteString(`unqualified-search-registries = ["docker.io"]` + "\n")
	for _, reg := range MirroredRegistries {
		fmt.Fprintf(&b, "\n[[registry]]\nprefix = %q\nlocation = %q\n\n[[registry.mirror]]\nlocation = %q\ninsecure = true\n", reg, reg, addr)
	}
	fmt.Fprintf(&b, "\n[[registry]]\nlocation = %q\ninsecure = true\n", addr)

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".registries.conf-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
