package oci

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// exitMonitor watches the exits directory: conmon writes a file named
// after the container when its process exits.
type exitMonitor struct {
	dir     string
	w       *fsnotify.Watcher
	onExit  func(id string)
	log     *slog.Logger
	done    chan struct{}
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

func newExitMonitor(dir string, onExit func(string), log *slog.Logger) (*exitMonitor, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, err
	}
	m := &exitMonitor{dir: dir, w: w, onExit: onExit, log: log, done: make(chan struct{}), waiters: map[string][]chan struct{}{}}
	go m.run()
	return m, nil
}

func (m *exitMonitor) run() {
	defer close(m.done)
	for {
		select {
		case ev, ok := <-m.w.Events:
			if !ok {
				return
			}
			if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) {
				continue
			}
			id := filepath.Base(ev.Name)
			if fi, err := os.Stat(ev.Name); err != nil || fi.Size() == 0 {
				// Written later; a Write event follows.
				continue
			}
			m.notify(id)
			if m.onExit != nil {
				m.onExit(id)
			}
		case err, ok := <-m.w.Errors:
			if !ok {
				return
			}
			m.log.Warn("exit monitor", "error", err)
		}
	}
}

func (m *exitMonitor) wait(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	m.waiters[id] = append(m.waiters[id], ch)
	m.mu.Unlock()
	return ch
}

func (m *exitMonitor) unwait(id string, ch chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := m.waiters[id]
	for i, c := range ws {
		if c == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(m.waiters, id)
	} else {
		m.waiters[id] = ws
	}
}

func (m *exitMonitor) notify(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range m.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (m *exitMonitor) close() error {
	err := m.w.Close()
	<-m.done
	return err
}
