package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// registryBlobs returns the digests and total size of the config and
// layers of repo:tag in the registry at addr.
func registryBlobs(b *testing.B, addr, repo, tag string) ([]string, int64) {
	b.Helper()
	m := manifestOf(b, addr, repo, tag)
	digests, total := []string{m.Config.Digest}, m.Config.Size
	for _, l := range m.Layers {
		digests = append(digests, l.Digest)
		total += l.Size
	}
	return digests, total
}

// BenchmarkPullMultilayer pulls crio-test/multilayer from the loopback
// registry (through a registries.conf mirror) and removes it again, so
// that every iteration downloads and unpacks every layer. The peer is a
// plain HTTP GET of the same blobs in the same run: the pull's MB/s as a
// fraction of it says what the pull adds over the wire transfer.
func BenchmarkPullMultilayer(b *testing.B) {
	reg := sharedRegistry(b)
	repo, tag := "crio-test/multilayer", "latest"
	digests, total := registryBlobs(b, reg.Addr, repo, tag)

	b.Run("raw-http", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			for _, d := range digests {
				resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/blobs/%s", reg.Addr, repo, d))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})

	b.Run("crio", func(b *testing.B) {
		d := newImageDaemon(b, imageDaemonOptions{registry: reg.Addr})
		ref := "quay.io/" + repo + ":" + tag
		b.SetBytes(total)
		var pulling time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := pull(b, d, ref, nil); err != nil {
				b.Fatal(err)
			}
			pulling += time.Since(start)
			b.StopTimer()
			if _, err := d.Image.RemoveImage(framework.Ctx(b), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(total)*float64(b.N)/pulling.Seconds()/1e6, "pull-MB/s")
	})
}
