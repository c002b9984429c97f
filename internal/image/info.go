package image

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
	istorage "go.podman.io/image/v5/storage"
	cstorage "go.podman.io/storage"
)

// Image is what the CRI reports about a stored image.
type Image struct {
	ID          string // the storage image ID: the config digest's hex
	RepoTags    []string
	RepoDigests []string
	Size        uint64
	UID         *int64
	Username    string
	Pinned      bool
	// Config is the image's OCI config; filled by Status only.
	Config *v1.Image
}

// cachedInfo holds what never changes for an image ID, so that List does
// not read configs and sum layers on every call.
type cachedInfo struct {
	size     uint64
	uid      *int64
	username string
}

// List returns every image in the store.
func (s *Service) List() ([]Image, error) {
	imgs, err := s.store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	pins := s.pins()
	out := make([]Image, 0, len(imgs))
	live := make(map[string]bool, len(imgs))
	for i := range imgs {
		live[imgs[i].ID] = true
		im, err := s.describe(&imgs[i], pins, false)
		if err != nil {
			// One broken image must not hide the others; it is still
			// reported, without the facts that could not be read.
			s.log.Warn("reading image", "id", imgs[i].ID, "error", err)
		}
		out = append(out, im)
	}
	s.mu.Lock()
	for id := range s.cache {
		if !live[id] {
			delete(s.cache, id)
		}
	}
	for id := range s.checkpoints {
		if !live[id] {
			delete(s.checkpoints, id)
		}
	}
	s.mu.Unlock()
	return out, nil
}

// Status returns the image name refers to (ID, ID prefix, tag or repo
// digest), or an error wrapping ErrNotFound.
func (s *Service) Status(name string, verbose bool) (Image, error) {
	img, err := s.Lookup(name)
	if err != nil {
		return Image{}, err
	}
	return s.describe(img, s.pins(), verbose)
}

func (s *Service) pins() *pinMatcher {
	c := s.config()
	return newPinMatcher(c.Image.PauseImage, c.Image.PinnedImages)
}

// describe turns a storage image into the CRI's facts.
func (s *Service) describe(img *cstorage.Image, pins *pinMatcher, withConfig bool) (Image, error) {
	out := Image{ID: img.ID}
	out.RepoTags, out.RepoDigests = repoNames(img)
	out.Pinned = pins.pinned(out.RepoTags) || pins.pinned(out.RepoDigests)

	s.mu.Lock()
	ci := s.cache[img.ID]
	s.mu.Unlock()
	var cfg *v1.Image
	if ci == nil || withConfig {
		var err error
		cfg, err = s.readConfig(img)
		if err != nil {
			return out, err
		}
		uid, username, _ := ParseUser(cfg.Config.User) // ParseConfig validated it
		size, err := s.store.ImageSize(img.ID)
		if err != nil {
			return out, fmt.Errorf("image %s size: %w", img.ID, err)
		}
		if size < 0 {
			size = 0
		}
		ci = &cachedInfo{size: uint64(size), uid: uid, username: username}
		s.mu.Lock()
		s.cache[img.ID] = ci
		s.mu.Unlock()
	}
	out.Size, out.UID, out.Username = ci.size, ci.uid, ci.username
	if withConfig {
		out.Config = cfg
	}
	return out, nil
}

// readConfig reads the image's config from storage, capped in size.
func (s *Service) readConfig(img *cstorage.Image) (*v1.Image, error) {
	key := "sha256:" + img.ID
	if !slices.Contains(img.BigDataNames, key) {
		return nil, fmt.Errorf("%w: image %s has no config in storage", ErrBadImage, img.ID)
	}
	raw, err := s.readBigData(img, key, "config", maxConfigSize)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	return cfg, nil
}

// readBigData reads one of the image's big data items (what names it in
// errors), refusing one over max bytes before reading it: every byte is
// the image builder's choice.
func (s *Service) readBigData(img *cstorage.Image, key, what string, max int64) ([]byte, error) {
	size, err := s.store.ImageBigDataSize(img.ID, key)
	if err != nil {
		return nil, fmt.Errorf("image %s %s: %w", img.ID, what, err)
	}
	if size > max {
		return nil, fmt.Errorf("%w: image %s %s is %d bytes, more than the %d allowed", ErrBadImage, img.ID, what, size, max)
	}
	b, err := s.store.ImageBigData(img.ID, key)
	if err != nil {
		return nil, fmt.Errorf("image %s %s: %w", img.ID, what, err)
	}
	return b, nil
}

// repoNames splits the storage names of an image into the CRI's tags and
// digests. Every repository the image is known under also gets
// repo@<manifest digest>, as CRI-O and containerd report it.
func repoNames(img *cstorage.Image) (tags, digests []string) {
	seen := map[string]bool{}
	addDigest := func(d string) {
		if !seen[d] {
			seen[d] = true
			digests = append(digests, d)
		}
	}
	var repos []reference.Named
	for _, n := range img.Names {
		ref, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		if _, ok := ref.(reference.Digested); ok {
			addDigest(ref.String())
		} else if _, ok := ref.(reference.Tagged); ok {
			tags = append(tags, ref.String())
		}
		repos = append(repos, reference.TrimNamed(ref))
	}
	// img.Digest first: the manifest the image was pulled with; then the
	// others it is known by (a manifest list it was picked from).
	all := append([]digest.Digest{img.Digest}, img.Digests...)
	for _, dg := range all {
		if dg == "" {
			continue
		}
		for _, r := range repos {
			if d, err := reference.WithDigest(r, dg); err == nil {
				addDigest(d.String())
			}
		}
	}
	return tags, digests
}

// Lookup finds the local image name refers to: an image ID ("sha256:" or
// not), an unambiguous ID prefix, a name with a tag, or a name with a
// digest; short names are resolved as registries.conf says.
func (s *Service) Lookup(name string) (*cstorage.Image, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty image name", ErrInvalidName)
	}
	if id, ok := strings.CutPrefix(name, "sha256:"); ok && isHex(id) {
		name = id
	}
	if isHex(name) {
		// store.Image also matches names, so check that what it found is
		// really the image with this ID (or ID prefix).
		img, err := s.store.Image(name)
		if err == nil && strings.HasPrefix(img.ID, name) {
			return img, nil
		}
		if len(name) == 64 {
			return nil, fmt.Errorf("%w: no image with ID %s", ErrNotFound, name)
		}
	}
	sys := s.systemContext(s.config())
	candidates, err := shortnames.ResolveLocally(sys, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidName, name, err)
	}
	for _, c := range candidates {
		ref, err := istorage.Transport.NewStoreReference(s.store, c, "")
		if err != nil {
			continue
		}
		_, img, err := istorage.ResolveReference(ref)
		if err == nil {
			return img, nil
		}
		if !errors.Is(err, istorage.ErrNoSuchImage) && !errors.Is(err, cstorage.ErrImageUnknown) {
			return nil, fmt.Errorf("looking up %s: %w", c, err)
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
}

func isHex(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Resolve finds the image name refers to (as Lookup does) and returns it
// with its config, read with the size caps and checked by ValidateConfig:
// what the container side builds a container from.
func (s *Service) Resolve(name string) (*cstorage.Image, *v1.Image, error) {
	img, err := s.Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := s.readConfig(img)
	if err != nil {
		return nil, nil, err
	}
	return img, cfg, nil
}
