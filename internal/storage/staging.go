package storage

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// pruneStaging removes the overlay driver's staging directories that no
// process holds: a pull that stages layers (go.podman.io/storage's
// PrepareStagedLayer) and is killed leaves its unpacked layers there, and
// storage itself prunes them only when a store shuts down cleanly. A
// directory in use has its staging.lock locked (fcntl, by storage's
// staging_lockfile) by the process unpacking into it; that one is left.
// Call it before this process stages anything: fcntl locks do not
// exclude the process's own. It returns how many it removed.
func pruneStaging(graphRoot string) (int, error) {
	base := filepath.Join(graphRoot, "overlay", "staging")
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		if !e.IsDir() {
			continue
		}
		// As storage's own pruning: take the lock (creating the file if
		// the directory has none) or leave the directory.
		f, err := os.OpenFile(filepath.Join(dir, "staging.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
			f.Close()
			continue // in use
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		} else {
			removed++
		}
		f.Close()
	}
	return removed, errors.Join(errs...)
}
