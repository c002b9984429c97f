package testregistry

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"go.podman.io/storage/pkg/chunked/toc"
)

// registryGet fetches path from the registry's /v2/ API, with accept as
// the Accept header.
func registryGet(t *testing.T, r *Registry, path, accept string) ([]byte, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+r.Addr+"/v2/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/%s: %s: %s", path, resp.Status, b)
	}
	return b, resp.Header.Get("Content-Type")
}

// rawManifest fetches repo:tag's manifest as a client that accepts OCI
// and Docker manifests would, and the config and layer blobs it names.
func rawManifest(t *testing.T, r *Registry, repoAndTag string) (m v1.Manifest, cfg v1.ConfigFile, layers [][]byte) {
	t.Helper()
	repo, tag, _ := strings.Cut(repoAndTag, ":")
	b, ct := registryGet(t, r, repo+"/manifests/"+tag, string(types.OCIManifestSchema1)+", "+string(types.DockerManifestSchema2))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest of %s: %v: %s", repoAndTag, err, b)
	}
	if ct != string(m.MediaType) {
		t.Errorf("Content-Type %q, manifest mediaType %q", ct, m.MediaType)
	}
	cb, _ := registryGet(t, r, repo+"/blobs/"+m.Config.Digest.String(), "")
	if err := json.Unmarshal(cb, &cfg); err != nil {
		t.Fatalf("config of %s: %v", repoAndTag, err)
	}
	for _, l := range m.Layers {
		lb, _ := registryGet(t, r, repo+"/blobs/"+l.Digest.String(), "")
		if d, _, _ := v1.SHA256(bytes.NewReader(lb)); d != l.Digest || int64(len(lb)) != l.Size {
			t.Fatalf("layer blob %s: digest %s, %d bytes; manifest says %d bytes", l.Digest, d, len(lb), l.Size)
		}
		layers = append(layers, lb)
	}
	return m, cfg, layers
}

func unzstd(t *testing.T, blob []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("zstd-decompress the layer: %v", err)
	}
	return out
}

// tarNames lists the entries of a tar.
func tarNames(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("read layer tar: %v", err)
		}
		names[h.Name] = true
	}
}

func TestZstdImagesCarryTheBusyboxRootfs(t *testing.T) {
	_, gzCfg, _ := rawManifest(t, shared, CrioTestBusyboxImage)
	if len(gzCfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("%s has %d DiffIDs, want 1", CrioTestBusyboxImage, len(gzCfg.RootFS.DiffIDs))
	}
	busyboxDiffID := gzCfg.RootFS.DiffIDs[0]
	chunkedKeys := []string{ZstdChunkedManifestChecksumAnnotation, ZstdChunkedManifestPositionAnnotation, ZstdChunkedTarSplitPositionAnnotation}

	for _, tc := range []struct {
		image   string
		chunked bool
	}{
		{ZstdBusyboxImage, false},
		{ZstdChunkedBusyboxImage, true},
	} {
		t.Run(tc.image, func(t *testing.T) {
			m, cfg, blobs := rawManifest(t, shared, tc.image)
			if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("manifest %s, config %s; want OCI's", m.MediaType, m.Config.MediaType)
			}
			if len(m.Layers) != 1 {
				t.Fatalf("%d layers, want 1", len(m.Layers))
			}
			desc := m.Layers[0]
			if desc.MediaType != types.OCILayerZStd {
				t.Errorf("layer media type %s, want %s", desc.MediaType, types.OCILayerZStd)
			}
			if cfg.OS != "linux" || cfg.Architecture != "amd64" || len(cfg.Config.Cmd) == 0 || cfg.Config.Cmd[0] != "sh" {
				t.Errorf("config %s/%s Cmd %q; want linux/amd64 sh", cfg.OS, cfg.Architecture, cfg.Config.Cmd)
			}
			// A zstd decoder skips the skippable frames of zstd:chunked:
			// both decompress to the tar whose sha256 the config lists.
			tarData := unzstd(t, blobs[0])
			diffID, _, _ := v1.SHA256(bytes.NewReader(tarData))
			if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != diffID {
				t.Errorf("config DiffIDs %v; the layer decompresses to %s", cfg.RootFS.DiffIDs, diffID)
			}
			if diffID != busyboxDiffID {
				t.Errorf("DiffID %s, %s's is %s: not the same rootfs", diffID, CrioTestBusyboxImage, busyboxDiffID)
			}
			if names := tarNames(t, tarData); !names["bin/busybox"] || !names["bin/sh"] || !names["etc/passwd"] {
				t.Errorf("layer lacks bin/busybox, bin/sh or etc/passwd")
			}

			tocDigest, err := toc.GetTOCDigest(desc.Annotations)
			if err != nil {
				t.Fatalf("TOC digest from annotations %v: %v", desc.Annotations, err)
			}
			if !tc.chunked {
				for _, k := range chunkedKeys {
					if _, ok := desc.Annotations[k]; ok {
						t.Errorf("plain zstd layer has annotation %s", k)
					}
				}
				if tocDigest != nil {
					t.Errorf("plain zstd layer has a TOC digest %s", tocDigest)
				}
				return
			}
			for _, k := range chunkedKeys {
				if desc.Annotations[k] == "" {
					t.Errorf("zstd:chunked layer lacks annotation %s (has %v)", k, desc.Annotations)
				}
			}
			if tocDigest == nil || tocDigest.String() != desc.Annotations[ZstdChunkedManifestChecksumAnnotation] {
				t.Fatalf("TOC digest %v; want %s", tocDigest, desc.Annotations[ZstdChunkedManifestChecksumAnnotation])
			}
			// manifest-position is offset:length:uncompressed length:type
			// of the TOC in the blob; manifest-checksum is its digest.
			var off, n, ulen, typ int
			if _, err := fmt.Sscanf(desc.Annotations[ZstdChunkedManifestPositionAnnotation], "%d:%d:%d:%d", &off, &n, &ulen, &typ); err != nil || off+n > len(blobs[0]) {
				t.Fatalf("manifest-position %q (%v) is not within the %d-byte blob", desc.Annotations[ZstdChunkedManifestPositionAnnotation], err, len(blobs[0]))
			}
			tocBlob := blobs[0][off : off+n]
			if d, _, _ := v1.SHA256(bytes.NewReader(tocBlob)); d.String() != tocDigest.String() {
				t.Errorf("the TOC at %d:%d has digest %s; the annotation says %s", off, n, d, tocDigest)
			}
			var tocDoc struct {
				Version int `json:"version"`
				Entries []struct {
					Name string `json:"name"`
				} `json:"entries"`
			}
			tocJSON := unzstd(t, tocBlob)
			if err := json.Unmarshal(tocJSON, &tocDoc); err != nil || len(tocJSON) != ulen {
				t.Fatalf("TOC: %v, %d bytes (position says %d)", err, len(tocJSON), ulen)
			}
			found := false
			for _, e := range tocDoc.Entries {
				found = found || e.Name == "bin/busybox"
			}
			if tocDoc.Version != 1 || !found {
				t.Errorf("TOC version %d with %d entries, bin/busybox among them: %v", tocDoc.Version, len(tocDoc.Entries), found)
			}
		})
	}
}

func TestZstdImagesAreDistinctFromGzipBusybox(t *testing.T) {
	digests, ids := map[string]string{}, map[string]string{}
	for _, n := range []string{CrioTestBusyboxImage, ZstdBusyboxImage, ZstdChunkedBusyboxImage} {
		d, err := shared.Digest(n)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := digests[d]; dup {
			t.Errorf("%s and %s have the same manifest digest %s", n, other, d)
		}
		digests[d] = n
		id := imageID(t, pull(t, shared, n))
		if other, dup := ids[id]; dup {
			t.Errorf("%s and %s have the same image ID %s", n, other, id)
		}
		ids[id] = n
	}
}

// TestZstdLayersAreReproducible: a rebuilt cache must give the same
// digests (TestConcurrentColdStartsBuildOnceAndAgree checks the images it
// lists; this checks the two compressors on a tar with a multi-chunk file).
func TestZstdLayersAreReproducible(t *testing.T) {
	build := func() []byte {
		l := newLayer()
		l.dirs("bin", "data")
		l.file("bin/hello", 0o755, []byte("#!/bin/sh\necho hello\n"))
		big := bytes.Repeat([]byte("crio zstd:chunked test data "), 1<<16)
		l.file("data/big", 0o644, big)
		l.symlink("bin/hi", "hello")
		data, err := l.tarBytes()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	digests := func() []string {
		data := build()
		zl, err := zstdLayer(data)
		if err != nil {
			t.Fatal(err)
		}
		cl, ann, err := zstdChunkedLayer(data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(unzstd(t, cl.compressed), data) || !bytes.Equal(unzstd(t, zl.compressed), data) {
			t.Fatal("a layer does not decompress to its tar")
		}
		return []string{zl.digest.String(), cl.digest.String(), ann[ZstdChunkedManifestChecksumAnnotation], ann[ZstdChunkedManifestPositionAnnotation], ann[ZstdChunkedTarSplitPositionAnnotation]}
	}
	a, b := digests(), digests()
	if !slices.Equal(a, b) {
		t.Errorf("two builds differ:\n%q\n%q", a, b)
	}
}
