package container

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// allowTraversal lets the mapped root of a user-namespaced container
// (whose host group is rootGID; it is no host user the daemon's files
// belong to) search every ancestor of its rootfs: the runtime resolves the rootfs by
// path from inside the container's user namespace.
//
// Shared ancestors get o+x only, never read, so nobody can list them
// (containerd's 0711 state dirs). The overlay layer dir holding the
// rootfs ("merged") also holds the container's upper dir: it is given to
// the mapped root's group with g+x instead, so that host users cannot
// reach the container's written files. The rootfs itself is owned by the
// mapped root with mode 0700 (go.podman.io/storage makes it so).
func allowTraversal(rootfs string, rootGID uint32) error {
	wrap := func(err error) error {
		return fmt.Errorf("making the rootfs %s reachable from the pod's user namespace: %w", rootfs, err)
	}
	dir := filepath.Dir(filepath.Clean(rootfs))
	if filepath.Base(rootfs) == "merged" {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return wrap(err)
		}
		if err := unix.Chown(dir, -1, int(rootGID)); err != nil {
			return wrap(err)
		}
		if err := unix.Chmod(dir, st.Mode&0o7777|0o010); err != nil {
			return wrap(err)
		}
		dir = filepath.Dir(dir)
	}
	for ; ; dir = filepath.Dir(dir) {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return wrap(err)
		}
		if st.Mode&0o001 == 0 {
			if err := unix.Chmod(dir, st.Mode&0o7777|0o001); err != nil {
				return wrap(err)
			}
		}
		if dir == "/" {
			return nil
		}
	}
}
