package daemon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/store"
	"github.com/crio/crio/internal/version"
)

// bootState is what the daemon learns at start about how the last one
// ended.
type bootState struct {
	// reboot: the run root's version file is gone while the persistent
	// one exists: the node rebooted (the run root is a tmpfs) and every
	// process, mount and namespace of the last run is gone. Recovery then
	// frees the state left in the persistent root; images stay.
	reboot bool
	// unclean: the last daemon did not shut down cleanly (killed, OOM,
	// power cut): storage is checked and repaired before use.
	unclean bool
}

// readBootState compares the marker files with what a clean shutdown
// and a previous start leave. A first start is neither a reboot nor
// unclean.
func readBootState(cfg *config.Config) bootState {
	exists := func(p string) bool {
		if p == "" {
			return false
		}
		_, err := os.Stat(p)
		return err == nil
	}
	ranBefore := exists(cfg.VersionFilePersist)
	return bootState{
		reboot:  ranBefore && !exists(cfg.VersionFile),
		unclean: ranBefore && cfg.CleanShutdownFile != "" && !exists(cfg.CleanShutdownFile),
	}
}

// markStarted writes both version files and removes the clean-shutdown
// marker, so that a crash from now on is seen at the next start.
func markStarted(cfg *config.Config, log *slog.Logger) {
	v, _ := version.Get()
	for _, p := range []string{cfg.VersionFile, cfg.VersionFilePersist} {
		if p == "" {
			continue
		}
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			err = store.WriteFileAtomic(p, []byte(v+"\n"), 0o644)
		}
		if err != nil {
			log.Warn("writing version file; reboots and crashes may go unnoticed", "file", p, "error", err)
		}
	}
	if p := cfg.CleanShutdownFile; p != "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("removing the clean-shutdown marker", "file", p, "error", err)
		}
		syncDir(filepath.Dir(p))
	}
}

// markCleanShutdown records that storage was shut down cleanly.
func markCleanShutdown(cfg *config.Config, log *slog.Logger) {
	p := cfg.CleanShutdownFile
	if p == "" {
		return
	}
	if err := store.WriteFileAtomic(p, nil, 0o644); err != nil {
		log.Warn("writing the clean-shutdown marker; the next start will check storage", "error", err)
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
