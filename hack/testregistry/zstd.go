package testregistry

import (
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"go.podman.io/storage/pkg/chunked/compressor"
)

// The annotations go.podman.io/storage's zstd:chunked compressor puts on a
// layer (its internal/minimal package names them); a zstd layer carrying
// them in its descriptor is a zstd:chunked layer.
const (
	ZstdChunkedManifestChecksumAnnotation = "io.github.containers.zstd-chunked.manifest-checksum"
	ZstdChunkedManifestPositionAnnotation = "io.github.containers.zstd-chunked.manifest-position"
	ZstdChunkedTarSplitPositionAnnotation = "io.github.containers.zstd-chunked.tarsplit-position"
)

// compressedLayer is a layer compressed ahead of time by a compressor
// go-containerregistry's tarball package does not have (zstd:chunked), or
// by klauspost's zstd directly. Its DiffID is the sha256 of the tar it was
// made from.
type compressedLayer struct {
	compressed, uncompressed []byte
	digest, diffID           v1.Hash
	mediaType                types.MediaType
}

var _ v1.Layer = (*compressedLayer)(nil)

func newCompressedLayer(compressed, uncompressed []byte, mt types.MediaType) (*compressedLayer, error) {
	d, _, err := v1.SHA256(bytes.NewReader(compressed))
	if err != nil {
		return nil, err
	}
	diffID, _, err := v1.SHA256(bytes.NewReader(uncompressed))
	if err != nil {
		return nil, err
	}
	return &compressedLayer{compressed: compressed, uncompressed: uncompressed, digest: d, diffID: diffID, mediaType: mt}, nil
}

func (l *compressedLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *compressedLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *compressedLayer) Size() (int64, error)     { return int64(len(l.compressed)), nil }
func (l *compressedLayer) MediaType() (types.MediaType, error) {
	return l.mediaType, nil
}

func (l *compressedLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}

func (l *compressedLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncompressed)), nil
}

// zstdLayer compresses a layer tar with klauspost's zstd, as one plain
// zstd stream.
func zstdLayer(tarData []byte) (*compressedLayer, error) {
	var buf bytes.Buffer
	// One goroutine: the same frames on every rebuild of the cache.
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarData); err != nil {
		zw.Close()
		return nil, fmt.Errorf("zstd: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return newCompressedLayer(buf.Bytes(), tarData, types.OCILayerZStd)
}

// zstdChunkedLayer compresses a layer tar the way podman and
// go.podman.io/image write zstd:chunked: every file its own zstd frame,
// then the TOC and the tar-split data in skippable frames. It returns the
// annotations the layer's descriptor must carry; a reader finds the TOC
// through them.
func zstdChunkedLayer(tarData []byte) (*compressedLayer, map[string]string, error) {
	var buf bytes.Buffer
	annotations := map[string]string{}
	zw, err := compressor.ZstdCompressor(&buf, annotations, nil)
	if err != nil {
		return nil, nil, err
	}
	if _, err := zw.Write(tarData); err != nil {
		zw.Close()
		return nil, nil, fmt.Errorf("zstd:chunked: %w", err)
	}
	// Close waits for the compressor's goroutine, which fills annotations.
	if err := zw.Close(); err != nil {
		return nil, nil, fmt.Errorf("zstd:chunked: %w", err)
	}
	for _, k := range []string{ZstdChunkedManifestChecksumAnnotation, ZstdChunkedManifestPositionAnnotation, ZstdChunkedTarSplitPositionAnnotation} {
		if annotations[k] == "" {
			return nil, nil, fmt.Errorf("zstd:chunked compressor set no %s annotation (got %v)", k, annotations)
		}
	}
	l, err := newCompressedLayer(buf.Bytes(), tarData, types.OCILayerZStd)
	return l, annotations, err
}

// ociLayer is a layer of an OCI image and its descriptor's annotations.
type ociLayer struct {
	layer       v1.Layer
	annotations map[string]string
}

// newOCIImage makes a linux/amd64 image with an OCI manifest and config
// media type (zstd layers have no Docker schema2 media type).
func newOCIImage(cfg v1.Config, layers ...ociLayer) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		mt, err := l.layer.MediaType()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{
			Layer:       l.layer,
			MediaType:   mt,
			Annotations: l.annotations,
			History:     v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "crio testregistry"},
		})
	}
	return imageOn(base, cfg, adds)
}
