package sandbox

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ShmSize is the size of a pod's /dev/shm tmpfs, as in CRI-O and Docker.
const ShmSize = "65536k"

// MountShm mounts a fresh tmpfs at path for the pod's /dev/shm.
func MountShm(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("creating shm dir: %w", err)
	}
	if err := unix.Mount("shm", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size="+ShmSize); err != nil {
		return fmt.Errorf("mounting shm tmpfs on %s: %w", path, err)
	}
	return nil
}

// UnmountShm unmounts a pod's /dev/shm; unmounting what is not mounted
// (a second StopPodSandbox) is not an error.
func UnmountShm(path string) error {
	return unmount(path)
}

// unmount detaches a mount at path, treating "not mounted" and "does not
// exist" as done.
func unmount(path string) error {
	for {
		err := unix.Unmount(path, unix.MNT_DETACH)
		switch {
		case err == nil:
			continue // a path may be mounted over more than once
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
}
