package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/crio/crio/internal/config"
)

func TestBootStateTellsFirstStartRestartRebootAndCrash(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{
		VersionFile:        filepath.Join(dir, "run", "version"),
		VersionFilePersist: filepath.Join(dir, "root", "version"),
		CleanShutdownFile:  filepath.Join(dir, "root", "clean.shutdown"),
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if st := readBootState(cfg); st.reboot || st.unclean {
		t.Errorf("first start: %+v; want neither reboot nor unclean", st)
	}
	markStarted(cfg, log)
	markCleanShutdown(cfg, log)
	if st := readBootState(cfg); st.reboot || st.unclean {
		t.Errorf("after a clean stop: %+v; want neither", st)
	}
	markStarted(cfg, log) // and then killed: no marker written
	if st := readBootState(cfg); st.reboot || !st.unclean {
		t.Errorf("after a crash: %+v; want unclean only", st)
	}
	if err := os.RemoveAll(filepath.Join(dir, "run")); err != nil { // the tmpfs is gone
		t.Fatal(err)
	}
	if st := readBootState(cfg); !st.reboot || !st.unclean {
		t.Errorf("after a reboot without a clean stop: %+v; want both", st)
	}
}
