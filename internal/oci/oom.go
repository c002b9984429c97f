package oci

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// oomWatcher records OOM kills of containers whose cgroup goes away with
// their last process. Under the systemd driver systemd removes an empty
// scope's cgroup, and its memory.events with it, within milliseconds of
// the exit; conmon reads memory.events only when its loop gets to it, and
// often finds it gone (conmon#426, cri-o#7035), so OOM-killed containers
// were reported as Error. The kernel notifies memory.events when it kills
// (before the process has exited and the cgroup emptied), so reading the
// file on that event, from a goroutine that waits for nothing else, wins
// the race that conmon loses. The verdict is conmon's own marker file in
// the bundle, which ExitStatus reads first.
type oomWatcher struct {
	root string // of the cgroup hierarchy
	w    *fsnotify.Watcher
	log  *slog.Logger
	done chan struct{}

	mu      sync.Mutex
	bundles map[string]string // memory.events path -> bundle
}

func newOOMWatcher(root string, log *slog.Logger) (*oomWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	o := &oomWatcher{root: root, w: w, log: log, done: make(chan struct{}), bundles: map[string]string{}}
	go o.run()
	return o, nil
}

func memoryEventsPath(root, cgroupPath string) string {
	return filepath.Join(root, cgroupPath, "memory.events")
}

// add watches the container's memory.events; its cgroup must exist.
func (o *oomWatcher) add(c *Container) {
	if o == nil || c.CgroupPath == "" {
		return
	}
	p := memoryEventsPath(o.root, c.CgroupPath)
	o.mu.Lock()
	o.bundles[p] = c.Bundle
	o.mu.Unlock()
	if err := o.w.Add(p); err != nil {
		o.mu.Lock()
		delete(o.bundles, p)
		o.mu.Unlock()
		// A container that already exited has no cgroup left to watch.
		if !os.IsNotExist(err) {
			o.log.Warn("watching a container's memory events for OOM kills", "id", c.ID, "error", err)
		}
		return
	}
	// A kill between the cgroup's creation and the watch would have no
	// event.
	o.check(p, c.Bundle)
}

func (o *oomWatcher) remove(c *Container) {
	if o == nil || c.CgroupPath == "" {
		return
	}
	p := memoryEventsPath(o.root, c.CgroupPath)
	o.mu.Lock()
	_, ok := o.bundles[p]
	delete(o.bundles, p)
	o.mu.Unlock()
	if ok {
		// Gone already when systemd removed the cgroup (IN_IGNORED).
		_ = o.w.Remove(p)
	}
}

func (o *oomWatcher) run() {
	defer close(o.done)
	for {
		select {
		case ev, ok := <-o.w.Events:
			if !ok {
				return
			}
			o.mu.Lock()
			bundle, watched := o.bundles[ev.Name]
			o.mu.Unlock()
			if !watched {
				continue
			}
			if ev.Has(fsnotify.Write) {
				o.check(ev.Name, bundle)
			}
		case err, ok := <-o.w.Errors:
			if !ok {
				return
			}
			o.log.Warn("OOM watcher", "error", err)
		}
	}
}

// check writes the bundle's oom marker if memory.events counts a kill.
func (o *oomWatcher) check(eventsPath, bundle string) {
	b, err := os.ReadFile(eventsPath)
	if err != nil || !countsOOMKill(b) {
		return
	}
	f, err := os.OpenFile(filepath.Join(bundle, "oom"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		o.log.Warn("recording an OOM kill", "bundle", bundle, "error", err)
		return
	}
	f.Close()
}

func (o *oomWatcher) close() error {
	if o == nil {
		return nil
	}
	err := o.w.Close()
	<-o.done
	return err
}

// countsOOMKill says whether a cgroup v1 memory.oom_control or v2
// memory.events file counts an OOM kill: both have "oom_kill N".
func countsOOMKill(b []byte) bool {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) == 2 && fields[0] == "oom_kill" && fields[1] != "0" {
			return true
		}
	}
	return false
}
