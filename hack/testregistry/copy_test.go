//go:build containers_image_openpgp

package testregistry

import (
	"context"
	"path/filepath"
	"testing"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/directory"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// The daemon pulls with go.podman.io/image: pull critest's names through
// the registries.conf mirror with it, as the daemon will.
func TestContainersImagePullsPublicNamesThroughTheMirror(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "registries.conf")
	if err := WriteRegistriesConf(conf, shared.Addr); err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: filepath.Join(t.TempDir(), "none"),
		ArchitectureChoice:          "amd64",
		OSChoice:                    "linux",
	}
	policy, err := signature.NewPolicyContext(&signature.Policy{
		Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer policy.Destroy() //nolint:errcheck

	for public, repo := range map[string]string{
		"registry.k8s.io/pause:3.9":                        "pause:3.9",
		"k8s.gcr.io/pause:3.9":                             "pause:3.9",
		"registry.k8s.io/e2e-test-images/busybox:1.29-2":   "e2e-test-images/busybox:1.29-2",
		"gcr.io/k8s-staging-cri-tools/test-image-user-uid": "k8s-staging-cri-tools/test-image-user-uid:latest",
		"docker.io/library/busybox:latest":                 "library/busybox:latest",
	} {
		t.Run(public, func(t *testing.T) {
			src, err := docker.ParseReference("//" + public)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := directory.NewReference(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			m, err := copy.Image(context.Background(), policy, dst, src, &copy.Options{SourceCtx: sys})
			if err != nil {
				t.Fatalf("pull %s: %v", public, err)
			}
			got, err := manifest.Digest(m)
			if err != nil {
				t.Fatal(err)
			}
			want, err := shared.Digest(repo)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Errorf("pulled manifest %s, the registry's %s is %s", got, repo, want)
			}
		})
	}
}
