package testregistry

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// CheckpointAnnotation marks an image as a container checkpoint (the
// manifest annotation buildah sets with --annotation, which CRI-O and
// checkpointctl read); its value is the checkpointed container's name.
const CheckpointAnnotation = "org.criu.checkpoint.container.name"

// CheckpointImage is the image `buildah from scratch; buildah add CTR
// ARCHIVE; buildah config --annotation org.criu.checkpoint.container.name=NAME`
// makes of a checkpoint archive: an OCI image whose one layer holds the
// archive's members.
func CheckpointImage(archive, containerName string) (v1.Image, error) {
	layer, err := tarball.LayerFromFile(archive, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := newOCIImage(v1.Config{}, ociLayer{layer: layer})
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{CheckpointAnnotation: containerName}).(v1.Image), nil
}
