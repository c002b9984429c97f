package container

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// allowTraversal lets processes that are "others" to path's directories
// (the mapped root of a user-namespaced container, which is no host user
// or group the daemon's files belong to) search every ancestor of path,
// so that the runtime, running as that root, can reach path (the
// runtime resolves the rootfs and mount points by path inside the
// container's user namespace). Only o+x is added, never read: nobody can
// list these directories, and path itself stays as it is, owned by the
// mapped root with mode 0700 (go.podman.io/storage makes the merged dir
// so), which keeps host users out of the container's files.
func allowTraversal(path string) error {
	for dir := filepath.Dir(filepath.Clean(path)); ; dir = filepath.Dir(dir) {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return fmt.Errorf("making %s reachable from the user namespace: %w", path, err)
		}
		if st.Mode&0o001 == 0 {
			if err := unix.Chmod(dir, st.Mode&0o7777|0o001); err != nil {
				return fmt.Errorf("making %s reachable from the user namespace: %w", path, err)
			}
		}
		if dir == "/" {
			return nil
		}
	}
}
