package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/signature"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/internal/config"
)

// A policy that verifies signatures somewhere sends pulls through
// copy.Image; the docker transport itself still accepts anything.
const copyPathPolicy = `{"default": [{"type": "insecureAcceptAnything"}],
 "transports": {"docker-daemon": {"": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nonexistent"}]}}}`

// storedImage is what either pull path leaves in storage for an image.
type storedImage struct {
	ID, TopLayer string
	Names        []string
	BigData      []string
	Metadata     string
	Layers       []storedLayer
}

type storedLayer struct {
	ID, Parent                       string
	CompressedDigest, Uncompressed   digest.Digest
	UncompressedSize, CompressedSize int64
	UIDs, GIDs                       string
	Root                             string // the diff directory's mode and owner
	Exported                         digest.Digest
}

func readStored(t *testing.T, st cstorage.Store, id string) storedImage {
	t.Helper()
	img, err := st.Image(id)
	if err != nil {
		t.Fatal(err)
	}
	out := storedImage{ID: img.ID, TopLayer: img.TopLayer, Names: img.Names, Metadata: img.Metadata}
	out.BigData = slices.Sorted(slices.Values(img.BigDataNames))
	for l := img.TopLayer; l != ""; {
		layer, err := st.Layer(l)
		if err != nil {
			t.Fatal(err)
		}
		sl := storedLayer{
			ID: layer.ID, Parent: layer.Parent,
			CompressedDigest: layer.CompressedDigest, Uncompressed: layer.UncompressedDigest,
			UncompressedSize: layer.UncompressedSize, CompressedSize: layer.CompressedSize,
			UIDs: fmt.Sprint(layer.UIDs), GIDs: fmt.Sprint(layer.GIDs),
		}
		diffDir, err := st.DifferTarget(layer.ID)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(diffDir)
		if err != nil {
			t.Fatal(err)
		}
		sys := fi.Sys().(*syscall.Stat_t)
		sl.Root = fmt.Sprintf("%v %d:%d", fi.Mode(), sys.Uid, sys.Gid)
		// The layer as storage exports it (rebuilt from its tar-split).
		rc, err := st.Diff("", layer.ID, &cstorage.DiffOptions{Compression: new(archive.Uncompressed)})
		if err != nil {
			t.Fatal(err)
		}
		sl.Exported, err = digest.Canonical.FromReader(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out.Layers = append(out.Layers, sl)
		l = layer.Parent
	}
	return out
}

// startRegistry serves the test registry for the test's lifetime and
// writes, in a new directory, a registries.conf mirroring the public
// registries to it.
func startRegistry(tb testing.TB) (reg *testregistry.Registry, dir, regConf string) {
	tb.Helper()
	reg, err := testregistry.Start(context.Background(), testregistry.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { reg.Close() })
	dir = tb.TempDir()
	regConf = filepath.Join(dir, "registries.conf")
	if err := testregistry.WriteRegistriesConf(regConf, reg.Addr); err != nil {
		tb.Fatal(err)
	}
	return reg, dir, regConf
}

func writePolicy(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDirectPullStoresWhatCopyImageStores pulls the same images through
// the direct path and through copy.Image into two stores and compares the
// records: the IDs, the layer chain and the big-data keys must be the
// same, or the two paths would not reuse each other's layers and a
// restarted daemon, podman or a copy.Image pull would see another image.
func TestDirectPullStoresWhatCopyImageStores(t *testing.T) {
	reg, dir, regConf := startRegistry(t)
	direct := writePolicy(t, dir, "direct.json", `{"default": [{"type": "insecureAcceptAnything"}]}`)
	viaCopy := writePolicy(t, dir, "copy.json", copyPathPolicy)
	for file, want := range map[string]bool{direct: true, viaCopy: false} {
		p, err := signature.NewPolicyFromFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := signaturesUnneeded(p); got != want {
			t.Fatalf("signaturesUnneeded(%s) = %v, want %v", filepath.Base(file), got, want)
		}
	}
	svcDirect, stDirect := newTestService(t, func(c *config.Config) {
		c.Image.RegistriesConf, c.Image.SignaturePolicy = regConf, direct
	})
	svcCopy, stCopy := newTestService(t, func(c *config.Config) {
		c.Image.RegistriesConf, c.Image.SignaturePolicy = regConf, viaCopy
	})
	// The direct pull with PutLayer, as for a driver that cannot stage.
	svcPut, stPut := newTestService(t, func(c *config.Config) {
		c.Image.RegistriesConf, c.Image.SignaturePolicy = regConf, direct
	})
	svcPut.noStaging = true
	// Layers that set their root directory's mode and owner, and layers
	// that do not (they get their parent's), whiteouts and other owners.
	const rootDirs = "crio-test/rootdirs:latest"
	dirLayer := func(mode int64, uid int, name string, owner int) v1.Layer {
		return tarLayer(t, func(tw *tar.Writer) {
			if mode != 0 {
				tw.WriteHeader(&tar.Header{Name: "./", Mode: mode, Uid: uid, Gid: uid, Typeflag: tar.TypeDir})
			}
			tw.WriteHeader(&tar.Header{Name: ".wh.gone", Mode: 0o644, Uid: 99, Typeflag: tar.TypeReg})
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o640, Uid: owner, Gid: owner + 1, Size: 3, Typeflag: tar.TypeReg})
			tw.Write([]byte("abc"))
		})
	}
	if err := reg.Push(context.Background(), rootDirs, imageOf(t,
		dirLayer(0, 0, "plain", 0), dirLayer(0o750, 1000, "owned", 7), dirLayer(0, 0, "inherits", 8),
		dirLayer(0o711, 0, "reset", 0), dirLayer(0, 0, "last", 9))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{testregistry.BusyboxImage, testregistry.MultiLayerImage, rootDirs} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			ref := reg.Ref(name)
			idD, err := svcDirect.Pull(context.Background(), ref, PullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			idC, err := svcCopy.Pull(context.Background(), ref, PullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			idP, err := svcPut.Pull(context.Background(), ref, PullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d, c, p := readStored(t, stDirect, idD), readStored(t, stCopy, idC), readStored(t, stPut, idP)
			if len(d.Layers) == 0 {
				t.Fatal("no layers stored")
			}
			if !equalStored(p, c) {
				t.Fatalf("the direct pull with PutLayer stored\n%+v\ncopy.Image stored\n%+v", p, c)
			}
			// ApplyStagedLayer has no way to record the compressed
			// size (nor has storage any other setter for it): a staged
			// layer has none, as storage's own partial pulls. Everything
			// else must be the same.
			if !svcDirect.canStage() {
				t.Fatal("the overlay store cannot stage layers")
			}
			for i := range d.Layers {
				if d.Layers[i].CompressedSize != 0 {
					t.Errorf("layer %s was not staged (it has a compressed size)", d.Layers[i].ID)
				}
				if i < len(c.Layers) {
					d.Layers[i].CompressedSize = c.Layers[i].CompressedSize
				}
			}
			if !equalStored(d, c) {
				t.Fatalf("the direct pull (staged) stored\n%+v\ncopy.Image stored\n%+v", d, c)
			}
			for _, l := range d.Layers {
				if l.Exported != l.Uncompressed {
					t.Errorf("layer %s exports as %s, its DiffID is %s", l.ID, l.Exported, l.Uncompressed)
				}
			}

			// copy.Image over the direct pull's store reuses its layers
			// and finds the same image.
			layersBefore, _ := stDirect.Layers()
			cfg := *svcDirect.cfg.Get()
			cfg.Image.SignaturePolicy = viaCopy
			again := New(stDirect, config.NewLive(&cfg), slog.New(slog.NewTextHandler(io.Discard, nil)))
			id2, err := again.Pull(context.Background(), ref, PullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			layersAfter, _ := stDirect.Layers()
			if id2 != idD || len(layersAfter) != len(layersBefore) {
				t.Fatalf("copy.Image after the direct pull: image %s (want %s), %d layers (were %d)", id2, idD, len(layersAfter), len(layersBefore))
			}
		})
	}
}

func equalStored(a, b storedImage) bool {
	return a.ID == b.ID && a.TopLayer == b.TopLayer && a.Metadata == b.Metadata &&
		slices.Equal(a.Names, b.Names) && slices.Equal(a.BigData, b.BigData) && slices.Equal(a.Layers, b.Layers)
}

func TestDiffIDReaderFailsAtTheEndOnAMismatch(t *testing.T) {
	data := bytes.Repeat([]byte("layer"), 10000)
	for _, tc := range []struct {
		want    digest.Digest
		wantErr bool
	}{
		{digest.FromBytes(data), false},
		{digest.FromString("another layer"), true},
	} {
		r := &diffIDReader{r: bytes.NewReader(data), want: tc.want, layer: "sha256:blob", h: digest.Canonical.Digester()}
		got, err := io.ReadAll(r)
		if tc.wantErr {
			if !errors.Is(err, ErrBadImage) {
				t.Fatalf("mismatch: err = %v, want ErrBadImage", err)
			}
			// storage reads until EOF; every later read fails too.
			if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrBadImage) {
				t.Fatalf("read after the mismatch: %v", err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("match: %d bytes, err %v", len(got), err)
		}
	}
}

func TestLayerChainID(t *testing.T) {
	d1 := digest.FromString("one")
	d2 := digest.FromString("two")
	if got := layerChainID("", d1); got != d1.Encoded() {
		t.Fatalf("base layer ID %s, want its diff ID %s", got, d1.Encoded())
	}
	want := digest.FromString(d1.Encoded() + "+" + d2.Encoded()).Encoded()
	if got := layerChainID(d1.Encoded(), d2); got != want {
		t.Fatalf("layer ID %s, want %s", got, want)
	}
}
