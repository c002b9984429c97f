package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// maxManifestSize caps the manifest read to look for the checkpoint
// annotation, as go.podman.io/image caps manifests when pulling.
const maxManifestSize = 4 << 20

// CheckpointLayer is the layer of name when name is a checkpoint image: an
// OCI image whose manifest carries org.criu.checkpoint.container.name (as
// buildah and CRI-O mark the image a checkpoint archive was added to), with
// that archive's members as its one layer. ok is false for any other image
// and for a name no image has (CreateContainer reports those as it does).
func (s *Service) CheckpointLayer(name string) (layer string, ok bool, err error) {
	img, err := s.Lookup(name)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	marked, err := s.checkpointMarked(img)
	if err != nil || !marked {
		return "", false, err
	}
	layers, err := s.store.Layer(img.TopLayer)
	if err != nil {
		return "", false, fmt.Errorf("checkpoint image %s: its layer: %w", img.ID, err)
	}
	if layers.Parent != "" {
		return "", false, fmt.Errorf("%w: checkpoint image %s has more than one layer; a checkpoint image holds its archive as its only layer", ErrBadImage, img.ID)
	}
	return img.TopLayer, true, nil
}

// checkpointMarked reads (once per image ID) whether the image's manifest
// has the checkpoint annotation.
func (s *Service) checkpointMarked(img *cstorage.Image) (bool, error) {
	s.mu.Lock()
	v, known := s.checkpoints[img.ID]
	s.mu.Unlock()
	if known {
		return v, nil
	}
	key := cstorage.ImageDigestBigDataKey
	if !slices.Contains(img.BigDataNames, key) {
		return false, nil
	}
	b, err := s.readBigData(img, key, "manifest", maxManifestSize)
	if err != nil {
		return false, err
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	// A Docker schema 2 manifest has no annotations: not a checkpoint.
	_ = json.Unmarshal(b, &m)
	v = m.Annotations[metadata.CheckpointAnnotationName] != ""
	s.mu.Lock()
	s.checkpoints[img.ID] = v
	s.mu.Unlock()
	return v, nil
}

// LayerTar is the uncompressed tar of a layer's own changes.
func (s *Service) LayerTar(layer string) (io.ReadCloser, error) {
	c := archive.Uncompressed
	rc, err := s.store.Diff("", layer, &cstorage.DiffOptions{Compression: &c})
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", layer, err)
	}
	return rc, nil
}
