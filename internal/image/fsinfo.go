package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Usage is the disk space and inodes under a directory tree.
type Usage struct {
	Bytes  uint64
	Inodes uint64
}

func (u *Usage) add(o Usage) { u.Bytes += o.Bytes; u.Inodes += o.Inodes }

// FsUsage is the space used by images and by containers' writable layers.
type FsUsage struct {
	Timestamp  time.Time
	Mountpoint string // a directory on the file system that holds the store
	Images     Usage
	Containers Usage
}

// FsInfo measures the store: image layers and image metadata count for
// images, containers' layers and their metadata for containers. Image
// layers never change, so their figures are measured once per layer.
func (s *Service) FsInfo() (FsUsage, error) {
	root := s.store.GraphRoot()
	driver := s.store.GraphDriverName()
	out := FsUsage{Timestamp: time.Now(), Mountpoint: root}

	ctrs, err := s.store.Containers()
	if err != nil {
		return out, fmt.Errorf("listing containers: %w", err)
	}
	ctrLayers := map[string]bool{}
	for _, c := range ctrs {
		ctrLayers[c.LayerID] = true
	}
	layers, err := s.store.Layers()
	if err != nil {
		return out, fmt.Errorf("listing layers: %w", err)
	}
	live := map[string]bool{}
	for _, l := range layers {
		dir := layerDir(root, driver, l.ID)
		if ctrLayers[l.ID] {
			u, _ := diskUsage(dir) // a container removed meanwhile is not an error
			out.Containers.add(u)
			continue
		}
		live[l.ID] = true
		s.mu.Lock()
		u, ok := s.Usage[l.ID]
		s.mu.Unlock()
		if !ok {
			u, err = diskUsage(dir)
			if err != nil {
				continue
			}
			s.mu.Lock()
			s.Usage[l.ID] = u
			s.mu.Unlock()
		}
		out.Images.add(u)
	}
	s.mu.Lock()
	for id := range s.Usage {
		if !live[id] {
			delete(s.Usage, id)
		}
	}
	s.mu.Unlock()
	for _, d := range []string{driver + "-images", driver + "-layers"} {
		u, _ := diskUsage(filepath.Join(root, d))
		out.Images.add(u)
	}
	u, _ := diskUsage(filepath.Join(root, driver+"-containers"))
	out.Containers.add(u)
	return out, nil
}

// layerDir is where the driver keeps a layer's files.
func layerDir(root, driver, id string) string {
	if driver == "vfs" {
		return filepath.Join(root, "vfs", "dir", id)
	}
	return filepath.Join(root, driver, id)
}

// diskUsage adds up allocated blocks and inodes below dir, counting hard
// links once. Mount points below dir (a container's merged view) are not
// crossed: their content is counted in the layers they come from.
func diskUsage(dir string) (Usage, error) {
	var u Usage
	var rootDev uint64
	type key struct{ dev, ino uint64 }
	seen := map[key]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if path == dir {
			rootDev = st.Dev
		} else if st.Dev != rootDev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		k := key{st.Dev, st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		u.Inodes++
		u.Bytes += uint64(st.Blocks) * 512
		return nil
	})
	return u, err
}
