package oci

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
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
// the race that conmon loses, mostly: the kernel notifies a cgroup file at
// most every 20 ms, so the kill's notification can come after a pressure
// one, too late. So the watcher also counts the kills of each parent
// cgroup (a pod's slice, which stays), whose memory.events counts its
// children's: a container that died of SIGKILL the daemon did not send,
// while its parent counts a kill not yet given to a container, was
// OOM-killed. The verdict is conmon's own marker file in the bundle,
// which ExitStatus reads first.
type oomWatcher struct {
	root string // of the cgroup hierarchy
	w    *fsnotify.Watcher
	log  *slog.Logger
	done chan struct{}

	mu      sync.Mutex
	watched map[string]*Container // memory.events path -> its container
	// given is, per parent cgroup, how many of its kills went to a
	// container; killed holds the containers the daemon SIGKILLed;
	// decided the containers whose exit was judged from their parent.
	given   map[string]uint64
	killed  map[string]bool
	decided map[string]bool
}

func newOOMWatcher(root string, log *slog.Logger) (*oomWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	o := &oomWatcher{root: root, w: w, log: log, done: make(chan struct{}),
		watched: map[string]*Container{}, given: map[string]uint64{}, killed: map[string]bool{}, decided: map[string]bool{}}
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
	parent := filepath.Dir(c.CgroupPath)
	kills, counted := oomKills(memoryEventsPath(o.root, parent))
	o.mu.Lock()
	o.watched[p] = c
	if _, ok := o.given[parent]; !ok && counted {
		// Kills before the first container are no container's.
		o.given[parent] = kills
	}
	o.mu.Unlock()
	if err := o.w.Add(p); err != nil {
		o.mu.Lock()
		delete(o.watched, p)
		o.mu.Unlock()
		// A container that already exited has no cgroup left to watch.
		if !os.IsNotExist(err) {
			o.log.Warn("watching a container's memory events for OOM kills", "id", c.ID, "error", err)
		}
		return
	}
	// A kill between the cgroup's creation and the watch would have no
	// event.
	o.check(p, c)
}

func (o *oomWatcher) remove(c *Container) {
	if o == nil || c.CgroupPath == "" {
		return
	}
	p := memoryEventsPath(o.root, c.CgroupPath)
	o.mu.Lock()
	_, ok := o.watched[p]
	delete(o.watched, p)
	delete(o.killed, c.ID)
	delete(o.decided, c.ID)
	o.mu.Unlock()
	if ok {
		// Gone already when systemd removed the cgroup (IN_IGNORED).
		_ = o.w.Remove(p)
	}
}

// sigkilled records that the daemon itself SIGKILLs the container (stop
// after its grace period, removal): its death is not the OOM killer's.
func (o *oomWatcher) sigkilled(c *Container) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.killed[c.ID] = true
	o.mu.Unlock()
}

// fromParent judges a container that died of SIGKILL without a marker:
// OOM-killed if the daemon did not kill it and its parent counts a kill
// no container was given. The verdict is kept, so a container asked again
// after a sibling's kill does not take that one.
func (o *oomWatcher) fromParent(c *Container) bool {
	if o == nil || c.CgroupPath == "" {
		return false
	}
	parent := filepath.Dir(c.CgroupPath)
	kills, counted := oomKills(memoryEventsPath(o.root, parent))
	o.mu.Lock()
	defer o.mu.Unlock()
	if v, ok := o.decided[c.ID]; ok {
		return v
	}
	given, tracked := o.given[parent]
	v := !o.killed[c.ID] && counted && tracked && kills > given
	if v {
		o.given[parent] = given + 1
	}
	o.decided[c.ID] = v
	return v
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
			c, watched := o.watched[ev.Name]
			o.mu.Unlock()
			if watched && ev.Has(fsnotify.Write) {
				o.check(ev.Name, c)
			}
		case err, ok := <-o.w.Errors:
			if !ok {
				return
			}
			o.log.Warn("OOM watcher", "error", err)
		}
	}
}

// check writes the bundle's oom marker if memory.events counts a kill,
// and gives the kill to the container (once).
func (o *oomWatcher) check(eventsPath string, c *Container) {
	if kills, _ := oomKills(eventsPath); kills == 0 {
		return
	}
	o.record(c)
}

// record writes the container's oom marker and, the first time, gives it
// one of its parent's kills.
func (o *oomWatcher) record(c *Container) {
	marker := filepath.Join(c.Bundle, "oom")
	if _, err := os.Stat(marker); err == nil {
		return
	}
	if err := writeMarker(marker); err != nil {
		o.log.Warn("recording an OOM kill", "id", c.ID, "error", err)
		return
	}
	parent := filepath.Dir(c.CgroupPath)
	o.mu.Lock()
	if _, ok := o.given[parent]; ok {
		o.given[parent]++
	}
	o.mu.Unlock()
}

func writeMarker(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func (o *oomWatcher) close() error {
	if o == nil {
		return nil
	}
	err := o.w.Close()
	<-o.done
	return err
}

// oomKills reads the "oom_kill N" of a cgroup v2 memory.events (or v1
// memory.oom_control) file; counted is false when the file or the line
// is missing.
func oomKills(path string) (n uint64, counted bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	return parseOOMKills(b)
}

func parseOOMKills(b []byte) (uint64, bool) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) == 2 && fields[0] == "oom_kill" {
			n, err := strconv.ParseUint(fields[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
