package container

import (
	"errors"
	"fmt"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	stypes "go.podman.io/storage/types"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/image"
	"github.com/crio/crio/internal/store"
)

// imageVolume is where an image-backed mount's bind source came from,
// for ContainerStatus and for freeing it.
type imageVolume struct {
	spec       *runtimeapi.ImageSpec
	uids, gids []*runtimeapi.IDMapping
}

// mountImageVolumes mounts every image-backed CRI mount (KEP-4639: an OCI
// image's filesystem at a path, read-only, optionally only its
// image_sub_path) from the storage store. It returns a copy of cfg in
// which those mounts are plain read-only binds of the mounted images, the
// image each bind source came from, and an undo that frees them.
//
// A mount that asks for ID mappings (the kubelet asks so for every mount
// of a pod with its own user namespace) cannot be an idmapped bind of the
// image's overlay: the kernel refuses to idmap a mounted overlay, only its
// layers. So the image is mounted through a storage container of its own
// (owner's ID plus "-imgvol-N") created with those mappings, which storage
// mounts over idmapped layers, with no copy and no chown.
func (m *Manager) mountImageVolumes(owner string, cfg *runtimeapi.ContainerConfig, userNS bool) (*runtimeapi.ContainerConfig, map[string]imageVolume, func(), error) {
	var mounted, created []string
	undo := func() {
		for _, id := range mounted {
			_, _ = m.store.UnmountImage(id, false)
		}
		for _, id := range created {
			m.deleteStorage(id)
		}
	}
	fail := func(err error) (*runtimeapi.ContainerConfig, map[string]imageVolume, func(), error) {
		undo()
		return nil, nil, nil, err
	}
	var out *runtimeapi.ContainerConfig
	sources := map[string]imageVolume{}
	for i, mnt := range cfg.GetMounts() {
		ref := mnt.GetImage().GetImage()
		if ref == "" {
			continue
		}
		if !mnt.Readonly {
			return fail(fmt.Errorf("%w: image volume at %s must be readonly", ErrInvalid, mnt.ContainerPath))
		}
		if mnt.HostPath != "" {
			return fail(fmt.Errorf("%w: mount %s names both a host_path and an image", ErrInvalid, mnt.ContainerPath))
		}
		img, err := m.images.Status(ref, false)
		if err != nil {
			if errors.Is(err, image.ErrNotFound) {
				return fail(fmt.Errorf("%w: image %s of the volume at %s: pull it first", ErrImageMissing, ref, mnt.ContainerPath))
			}
			return fail(fmt.Errorf("image volume %s: %w", ref, err))
		}
		// Without a user namespace, or with half a mapping, the mappings
		// stay on the bind for the spec to refuse with its reasons.
		mapped := userNS && len(mnt.UidMappings) > 0 && len(mnt.GidMappings) > 0
		var root string
		if mapped {
			id := fmt.Sprintf("%s-imgvol-%d", owner, i)
			opts := &cstorage.ContainerOptions{IDMappingOptions: stypes.IDMappingOptions{
				UIDMap: criMappings(mnt.UidMappings), GIDMap: criMappings(mnt.GidMappings),
			}}
			if _, err := m.store.CreateContainer(id, nil, img.ID, "", store.ImageVolumeMetadata(owner), opts); err != nil {
				return fail(fmt.Errorf("creating storage for image %s at %s: %w", ref, mnt.ContainerPath, err))
			}
			created = append(created, id)
			if root, err = m.store.Mount(id, ""); err != nil {
				return fail(fmt.Errorf("mounting image %s for %s: %w", ref, mnt.ContainerPath, err))
			}
			if err := allowTraversal(root, mnt.GidMappings[0].HostId); err != nil {
				return fail(err)
			}
		} else {
			if root, err = m.store.MountImage(img.ID, []string{"ro"}, ""); err != nil {
				return fail(fmt.Errorf("mounting image %s for %s: %w", ref, mnt.ContainerPath, err))
			}
			mounted = append(mounted, img.ID)
		}
		src := root
		if sub := mnt.GetImageSubPath(); sub != "" {
			// The image is hostile input: a symlink in it may not lead the
			// bind outside the image.
			if src, err = securejoin.SecureJoin(root, sub); err == nil {
				_, err = os.Stat(src)
			}
			if err != nil {
				return fail(fmt.Errorf("%w: image_sub_path %q of image %s: %v", ErrInvalid, sub, ref, err))
			}
		}
		if out == nil {
			out = proto.Clone(cfg).(*runtimeapi.ContainerConfig)
		}
		bind := out.Mounts[i]
		bind.HostPath, bind.Readonly, bind.Image, bind.ImageSubPath = src, true, nil, ""
		vol := imageVolume{spec: &runtimeapi.ImageSpec{
			Image: ref, ImageRef: img.ID, UserSpecifiedImage: mnt.GetImage().GetUserSpecifiedImage(),
		}}
		if mapped {
			// The mount is mapped already; a second mapping on the bind
			// would be the refused idmap of an overlay.
			vol.uids, vol.gids = bind.UidMappings, bind.GidMappings
			bind.UidMappings, bind.GidMappings = nil, nil
		}
		sources[src] = vol
	}
	if out == nil {
		return cfg, nil, undo, nil
	}
	return out, sources, undo, nil
}

// unmountImageVolumes frees what mountImageVolumes made for a container,
// as recorded in its applied mounts: an image mount is released, and the
// storage containers of mapped ones are deleted.
func (m *Manager) unmountImageVolumes(owner string, mounts []*runtimeapi.Mount) {
	var ownsStorage bool
	for _, mnt := range mounts {
		id := mnt.GetImage().GetImageRef()
		switch {
		case id == "":
		case len(mnt.UidMappings) > 0:
			ownsStorage = true
		default:
			if _, err := m.store.UnmountImage(id, false); err != nil {
				m.log.Warn("unmounting image volume", "image", id, "path", mnt.ContainerPath, "error", err)
			}
		}
	}
	if ownsStorage {
		m.deleteImageVolumes(func(o string) bool { return o == owner })
	}
}

// deleteImageVolumes deletes the image volumes' storage containers whose
// owner is one of those given.
func (m *Manager) deleteImageVolumes(owned func(owner string) bool) {
	all, err := m.store.Containers()
	if err != nil {
		m.log.Warn("listing storage containers for image volumes", "error", err)
		return
	}
	for _, sc := range all {
		if o, ok := store.ImageVolumeOwner(sc.Metadata); ok && owned(o) {
			m.deleteStorage(sc.ID)
		}
	}
}

func criMappings(ms []*runtimeapi.IDMapping) []idtools.IDMap {
	out := make([]idtools.IDMap, 0, len(ms))
	for _, m := range ms {
		out = append(out, idtools.IDMap{ContainerID: int(m.ContainerId), HostID: int(m.HostId), Size: int(m.Length)})
	}
	return out
}
