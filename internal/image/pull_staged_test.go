package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	cstorage "go.podman.io/storage"

	"github.com/crio/crio/internal/config"
)

// tarLayer makes a gzip layer of the given tar members.
func tarLayer(t *testing.T, members func(tw *tar.Writer)) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	members(tw)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func fileLayer(t *testing.T, name string, size int) v1.Layer {
	rng := rand.NewChaCha8([32]byte{byte(len(name)), byte(size)})
	data := make([]byte, size)
	rng.Read(data)
	return tarLayer(t, func(tw *tar.Writer) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	})
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestFailedPullLeavesNothingStaged pulls images whose nth layer cannot be
// stored: it must fail with ErrBadImage and leave no layer, no staging
// directory and no temporary directory in storage; the layers before the
// broken one, though unpacked, are not registered.
func TestFailedPullLeavesNothingStaged(t *testing.T) {
	reg, dir, regConf := startRegistry(t)
	policy := writePolicy(t, dir, "policy.json", `{"default": [{"type": "insecureAcceptAnything"}]}`)

	good := []v1.Layer{fileLayer(t, "a", 3<<20), fileLayer(t, "b", 2<<20), fileLayer(t, "c", 1<<20)}

	// The config names another DiffID for the second layer.
	wrongDiffID := func() v1.Image {
		img := imageOf(t, good...)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.RootFS.DiffIDs[1] = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 1)}
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}()
	// The third layer writes a file and then hard-links a file it does
	// not hold: storage's unpacking fails half-way.
	brokenThird := imageOf(t, good[0], good[1], tarLayer(t, func(tw *tar.Writer) {
		tw.WriteHeader(&tar.Header{Name: "written", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
		tw.Write([]byte("hello"))
		tw.WriteHeader(&tar.Header{Name: "link", Linkname: "missing", Typeflag: tar.TypeLink})
	}), good[2])
	// The last layer's gzip holds something that is not a tar.
	notTar := imageOf(t, good[0], good[1], good[2], func() v1.Layer {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("not a tar "), 1000))), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}())

	for _, staged := range []bool{true, false} {
		svc, st := newTestService(t, func(c *config.Config) {
			c.Image.RegistriesConf, c.Image.SignaturePolicy = regConf, policy
		})
		svc.noStaging = !staged
		for name, img := range map[string]v1.Image{"wrong-diffid": wrongDiffID, "broken-third": brokenThird, "not-tar": notTar} {
			t.Run(fmt.Sprintf("%s/staged=%v", name, staged), func(t *testing.T) {
				repo := "crio-test/failing/" + name + ":latest"
				if err := reg.Push(context.Background(), repo, img); err != nil {
					t.Fatal(err)
				}
				_, err := svc.Pull(context.Background(), reg.Ref(repo), PullOptions{})
				if !errors.Is(err, ErrBadImage) {
					t.Fatalf("pull: %v, want ErrBadImage", err)
				}
				if staged {
					// PutLayer keeps the layers before the broken one.
					layers, err := st.Layers()
					if err != nil {
						t.Fatal(err)
					}
					if len(layers) != 0 {
						t.Errorf("%d layers left after the failed pull: %+v", len(layers), layers)
					}
				}
				checkNoStagingLeft(t, st)
			})
		}
		// And the store is fine: a good image pulls.
		if err := reg.Push(context.Background(), "crio-test/failing/good:latest", imageOf(t, good...)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Pull(context.Background(), reg.Ref("crio-test/failing/good:latest"), PullOptions{}); err != nil {
			t.Fatalf("pull after the failures: %v", err)
		}
		checkNoStagingLeft(t, st)
	}
}

// checkNoStagingLeft fails when the overlay driver's staging or
// temporary directories hold anything.
func checkNoStagingLeft(t *testing.T, st cstorage.Store) {
	t.Helper()
	for _, sub := range []string{"staging", "tempdirs"} {
		entries, err := os.ReadDir(filepath.Join(st.GraphRoot(), "overlay", sub))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("left in overlay/%s: %s", sub, e.Name())
		}
	}
}
