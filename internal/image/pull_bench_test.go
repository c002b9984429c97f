package image

import (
	"context"
	"log/slog"
	"os"
	"path"
	"slices"
	"sync"
	"testing"
	"time"

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

// BenchmarkPullInProcess pulls a one-layer busybox image,
// crio-test/multilayer and crio-test/big (200 MB in 10 layers) cold,
// straight through Service.Pull (no gRPC, no daemon), so that a CPU
// profile or an strace of the pull can be taken. It reports the medians
// of the pulls' fetch, decompress and commit split (the "pulled image"
// log line) as ms-fetch, ms-decompress and ms-commit. Each image is
// pulled with the layers staged in parallel (staged) and applied one by
// one with PutLayer (putlayer); -count N alternates the two.
func BenchmarkPullInProcess(b *testing.B) {
	reg, dir, regConf := startRegistry(b)
	policy := writePolicy(b, dir, "policy.json", `{"default": [{"type": "insecureAcceptAnything"}]}`)
	svc, _ := newTestService(b, func(c *config.Config) {
		c.Image.RegistriesConf = regConf
		c.Image.SignaturePolicy = policy
	})
	splits := &splitRecorder{}
	svc.log = slog.New(splits)
	for _, name := range []string{testregistry.BusyboxImage, testregistry.MultiLayerImage, testregistry.BigImage} {
		ref := reg.Ref(name)
		for _, mode := range []string{"putlayer", "staged"} {
			b.Run(path.Base(name)+"/"+mode, func(b *testing.B) {
				svc.noStaging = mode == "putlayer"
				splits.reset()
				defer splits.report(b)
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
}

// splitRecorder keeps the fetch, decompress and commit attributes of the
// "pulled image" log lines.
type splitRecorder struct {
	mu     sync.Mutex
	phases map[string][]time.Duration
}

func (r *splitRecorder) reset() {
	r.mu.Lock()
	r.phases = map[string][]time.Duration{}
	r.mu.Unlock()
}

func (r *splitRecorder) report(b *testing.B) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range []string{"fetch", "decompress", "commit"} {
		d := r.phases[k]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2])/float64(time.Millisecond), "ms-"+k)
	}
}

func (r *splitRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *splitRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *splitRecorder) WithGroup(string) slog.Handler            { return r }
func (r *splitRecorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "pulled image" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "fetch", "decompress", "commit":
			if r.phases != nil {
				r.phases[a.Key] = append(r.phases[a.Key], a.Value.Duration())
			}
		}
		return true
	})
	return nil
}
