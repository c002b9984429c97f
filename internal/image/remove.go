package image

import (
	"errors"
	"fmt"

	cstorage "go.podman.io/storage"
)

// Remove deletes the image name refers to, with every tag it has (the CRI
// says removing one tag removes the image). An absent image is not an
// error: RemoveImage is idempotent. A pinned image, or one a container
// uses, is refused.
func (s *Service) Remove(name string) error {
	img, err := s.Lookup(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	tags, digests := repoNames(img)
	if s.pins().pinned(append(tags, digests...)) {
		return fmt.Errorf("%w: image %s (%v) is the pause image or matches crio.image.pinned_images; it is never removed", ErrPinned, img.ID, tags)
	}
	if s.beforeRemove != nil {
		s.beforeRemove()
	}
	if err := s.checkUnused(img.ID); err != nil {
		return err
	}
	if _, err := s.store.DeleteImage(img.ID, true); err != nil {
		switch {
		case errors.Is(err, cstorage.ErrImageUnknown), errors.Is(err, cstorage.ErrNotAnImage):
			// Removed meanwhile by a concurrent RemoveImage: storage
			// reports the vanished ID either way.
			return nil
		case errors.Is(err, cstorage.ErrImageUsedByContainer):
			return fmt.Errorf("%w: image %s: %v", ErrInUse, img.ID, err)
		}
		return fmt.Errorf("removing image %s: %w", img.ID, err)
	}
	s.mu.Lock()
	delete(s.cache, img.ID)
	delete(s.checkpoints, img.ID)
	s.mu.Unlock()
	s.log.Info("removed image", "id", img.ID, "tags", tags)
	return nil
}

// checkUnused refuses an image that a container in the store was created
// from. Storage would refuse it too; checking first gives a clear error
// that names the containers.
func (s *Service) checkUnused(id string) error {
	ctrs, err := s.store.Containers()
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	var users []string
	for _, c := range ctrs {
		if c.ImageID == id {
			users = append(users, c.ID)
		}
	}
	if len(users) > 0 {
		return fmt.Errorf("%w: image %s is used by container(s) %v", ErrInUse, id, users)
	}
	return nil
}
