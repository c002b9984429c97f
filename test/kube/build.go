// Package kube runs real Kubernetes components against a crio daemon of the
// test framework: a kubelet in standalone mode and, for the control-plane
// tests, etcd, kube-apiserver, kube-scheduler and kube-controller-manager on
// loopback. The programs come from the Go module proxy at the versions
// hack/kube pins.
package kube

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crio/crio/test/framework"
)

// Version is the Kubernetes release hack/kube pins, EtcdVersion its etcd.
const (
	Version     = "v1.37.2"
	EtcdVersion = "3.7.0"
)

// programs maps a binary's name to the package it is built from, in
// hack/kube's module.
var programs = map[string]string{
	"kubelet":                 "k8s.io/kubernetes/cmd/kubelet",
	"kubectl":                 "k8s.io/kubernetes/cmd/kubectl",
	"kube-apiserver":          "k8s.io/kubernetes/cmd/kube-apiserver",
	"kube-scheduler":          "k8s.io/kubernetes/cmd/kube-scheduler",
	"kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
	// go build would name it after its module's major version ("v3"'s
	// parent, "server"): it is built on its own with -o.
	"etcd": "go.etcd.io/etcd/server/v3",
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// BinDir is where the Kubernetes programs are built: $KUBE_BIN_DIR, else
// _output/kube in the source tree. It persists across test runs: go build
// leaves an up-to-date binary alone, so only the first run pays the cold
// build (8 to 11 minutes on 2 cores; seconds afterwards).
func BinDir() string {
	if d := os.Getenv("KUBE_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(framework.RepoRoot(), "_output", "kube")
}

// Binary returns the path of one of the pinned Kubernetes programs, building
// all of them once per test process (one go build shares the work).
func Binary(t testing.TB, name string) string {
	t.Helper()
	if _, ok := programs[name]; !ok {
		t.Fatalf("kube.Binary: %q is not one of the programs hack/kube pins", name)
	}
	buildOnce.Do(func() {
		buildDir = BinDir()
		if err := os.MkdirAll(buildDir, 0o755); err != nil {
			buildErr = err
			return
		}
		// Without Go (the VM of hack/vm.sh), the programs built on the host.
		if _, err := exec.LookPath("go"); err != nil && allBuilt(buildDir) {
			return
		}
		// One go build for the programs named after their package, so
		// that they share the work; etcd after it.
		// The release in the binaries, as Kubernetes' own build stamps it:
		// without it they say v0.0.0-master, and the kubelet reports that
		// to the API server as its version.
		ldflags := fmt.Sprintf("-X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=%s -X k8s.io/component-base/version.gitTreeState=clean",
			Version, strings.Split(Version, ".")[1])
		args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", buildDir + "/"}
		for name, pkg := range programs {
			if name != "etcd" {
				args = append(args, pkg)
			}
		}
		for _, a := range [][]string{args, {"build", "-trimpath", "-o", filepath.Join(buildDir, "etcd"), programs["etcd"]}} {
			cmd := exec.Command("go", a...)
			cmd.Dir = filepath.Join(framework.RepoRoot(), "hack", "kube")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building the Kubernetes programs (go %v in hack/kube): %v\n%s", a, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, name)
}

// allBuilt reports whether every pinned program is in dir.
func allBuilt(dir string) bool {
	for name := range programs {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}
