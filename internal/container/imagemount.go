package container

import (
	"errors"
	"fmt"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/image"
)

// mountImageVolumes mounts every image-backed CRI mount (KEP-4639: an OCI
// image's filesystem at a path, read-only, optionally only its
// image_sub_path) from the storage store. It returns a copy of cfg in
// which those mounts are plain read-only binds of the mounted images, the
// image each bind source came from (for ContainerStatus), and an undo that
// unmounts them.
func (m *Manager) mountImageVolumes(cfg *runtimeapi.ContainerConfig) (*runtimeapi.ContainerConfig, map[string]*runtimeapi.ImageSpec, func(), error) {
	var mounted []string
	undo := func() {
		for _, id := range mounted {
			_, _ = m.store.UnmountImage(id, false)
		}
	}
	var out *runtimeapi.ContainerConfig
	sources := map[string]*runtimeapi.ImageSpec{}
	for i, mnt := range cfg.GetMounts() {
		ref := mnt.GetImage().GetImage()
		if ref == "" {
			continue
		}
		if !mnt.Readonly {
			undo()
			return nil, nil, nil, fmt.Errorf("%w: image volume at %s must be readonly", ErrInvalid, mnt.ContainerPath)
		}
		if mnt.HostPath != "" {
			undo()
			return nil, nil, nil, fmt.Errorf("%w: mount %s names both a host_path and an image", ErrInvalid, mnt.ContainerPath)
		}
		img, err := m.images.Status(ref, false)
		if err != nil {
			undo()
			if errors.Is(err, image.ErrNotFound) {
				return nil, nil, nil, fmt.Errorf("%w: image %s of the volume at %s: pull it first", ErrImageMissing, ref, mnt.ContainerPath)
			}
			return nil, nil, nil, fmt.Errorf("image volume %s: %w", ref, err)
		}
		root, err := m.store.MountImage(img.ID, []string{"ro"}, "")
		if err != nil {
			undo()
			return nil, nil, nil, fmt.Errorf("mounting image %s for %s: %w", ref, mnt.ContainerPath, err)
		}
		mounted = append(mounted, img.ID)
		src := root
		if sub := mnt.GetImageSubPath(); sub != "" {
			// The image is hostile input: a symlink in it may not lead the
			// bind outside the image.
			if src, err = securejoin.SecureJoin(root, sub); err == nil {
				_, err = os.Stat(src)
			}
			if err != nil {
				undo()
				return nil, nil, nil, fmt.Errorf("%w: image_sub_path %q of image %s: %v", ErrInvalid, sub, ref, err)
			}
		}
		if out == nil {
			out = proto.Clone(cfg).(*runtimeapi.ContainerConfig)
		}
		bind := out.Mounts[i]
		bind.HostPath, bind.Readonly, bind.Image, bind.ImageSubPath = src, true, nil, ""
		sources[src] = &runtimeapi.ImageSpec{
			Image: ref, ImageRef: img.ID, UserSpecifiedImage: mnt.GetImage().GetUserSpecifiedImage(),
		}
	}
	if out == nil {
		return cfg, nil, undo, nil
	}
	return out, sources, undo, nil
}

// unmountImageVolumes releases the images mountImageVolumes mounted for a
// container, as recorded in its applied mounts.
func (m *Manager) unmountImageVolumes(mounts []*runtimeapi.Mount) {
	for _, mnt := range mounts {
		if id := mnt.GetImage().GetImageRef(); id != "" {
			if _, err := m.store.UnmountImage(id, false); err != nil {
				m.log.Warn("unmounting image volume", "image", id, "path", mnt.ContainerPath, "error", err)
			}
		}
	}
}
