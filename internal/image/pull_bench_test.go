package image

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"testing"

	"go.podman.io/storage/pkg/reexec"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/internal/config"
)

func TestMain(m *testing.M) {
	// Storage unpacks layers in a re-executed copy of this binary.
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// BenchmarkPullInProcess pulls a one-layer busybox image and
// crio-test/multilayer straight through Service.Pull (no gRPC, no daemon),
// so that a CPU profile or an strace of the pull can be taken.
func BenchmarkPullInProcess(b *testing.B) {
	reg, err := testregistry.Start(context.Background(), testregistry.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	dir := b.TempDir()
	regConf := filepath.Join(dir, "registries.conf")
	if err := testregistry.WriteRegistriesConf(regConf, reg.Addr); err != nil {
		b.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(policy, []byte(`{"default": [{"type": "insecureAcceptAnything"}]}`), 0o644)
	svc, _ := newTestService(b, func(c *config.Config) {
		c.Image.RegistriesConf = regConf
		c.Image.SignaturePolicy = policy
	})
	for _, name := range []string{testregistry.BusyboxImage, testregistry.MultiLayerImage} {
		ref := reg.Ref(name)
		b.Run(path.Base(name), func(b *testing.B) {
			for b.Loop() {
				id, err := svc.Pull(context.Background(), ref, PullOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := svc.store.DeleteImage(id, true); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
