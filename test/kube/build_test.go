package kube

import (
	"os/exec"
	"strings"
	"testing"
)

// TestKubernetesProgramsArePinned builds the programs (the first run pays
// the cold build; make kube-test runs it first, on its own) and checks each
// is the release hack/kube pins.
func TestKubernetesProgramsArePinned(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Kubernetes: not in -short")
	}
	for name := range programs {
		want := Version
		if name == "etcd" {
			want = EtcdVersion
		}
		args := []string{"--version"}
		if name == "kubectl" {
			args = []string{"version", "--client"}
		}
		out, err := exec.Command(Binary(t, name), args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("%s --version: %v: %q; want %s", name, err, out, want)
		}
	}
}
