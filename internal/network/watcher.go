package network

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/fsnotify/fsnotify"
)

// ErrNoNetwork says no CNI network is configured or usable.
var ErrNoNetwork = errors.New("network plugin not ready")

// resyncInterval re-reads the conf dir even without events, in case
// inotify dropped some (queue overflow).
const resyncInterval = 30 * time.Second

// Watcher follows the CNI conf dir and keeps the network pods use, or
// why there is none, in memory: Status and RunPodSandbox read it without
// touching the disk, and a conflist that appears or disappears changes
// readiness without a restart.
type Watcher struct {
	dir, defaultName string
	pluginDirs       []string
	log              *slog.Logger
	cur              atomic.Pointer[netState]
	fs               *fsnotify.Watcher
	done             chan struct{}
	closeOnce        sync.Once
}

type netState struct {
	list *libcni.NetworkConfigList
	err  error
}

// NewWatcher reads dir once and starts following it. A network whose
// plugins are not all found in pluginDirs is not usable (as in CRI-O); nil
// pluginDirs skips that check.
func NewWatcher(dir, defaultName string, pluginDirs []string, log *slog.Logger) (*Watcher, error) {
	w := &Watcher{dir: dir, defaultName: defaultName, pluginDirs: pluginDirs, log: log, done: make(chan struct{})}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching CNI config dir: %w", err)
	}
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("watching CNI config dir %s: %w", dir, err)
	}
	w.fs = fw
	w.reload()
	go w.run()
	return w, nil
}

// Network returns the network pods are attached to, or why there is none.
func (w *Watcher) Network() (*libcni.NetworkConfigList, error) {
	s := w.cur.Load()
	if s.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNetwork, s.err)
	}
	return s.list, nil
}

// Close stops watching.
func (w *Watcher) Close() {
	w.closeOnce.Do(func() {
		close(w.done)
		w.fs.Close()
	})
}

func (w *Watcher) reload() {
	var valid func(*libcni.NetworkConfigList) error
	if w.pluginDirs != nil {
		valid = w.pluginsInstalled
	}
	list, err := FindNetworkWith(w.dir, w.defaultName, valid)
	prev := w.cur.Swap(&netState{list, err})
	switch {
	case prev == nil:
	case err != nil && prev.err == nil:
		w.log.Warn("CNI network no longer usable", "error", err)
	case err == nil && (prev.err != nil || prev.list.Name != list.Name):
		w.log.Info("CNI network ready", "network", list.Name)
	}
}

func (w *Watcher) run() {
	t := time.NewTicker(resyncInterval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case _, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.reload()
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.log.Warn("CNI config dir watch error; re-reading", "error", err)
			w.reload()
		case <-t.C:
			w.reload()
		}
	}
}

// pluginsInstalled checks that every plugin of list is in the plugin dirs.
func (w *Watcher) pluginsInstalled(list *libcni.NetworkConfigList) error {
	for _, p := range list.Plugins {
		if _, err := invoke.FindInPath(p.Network.Type, w.pluginDirs); err != nil {
			return fmt.Errorf("plugin %q not found in %v", p.Network.Type, w.pluginDirs)
		}
	}
	return nil
}
