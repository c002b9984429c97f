package store

import (
	"context"
	"sync"
)

// Names reserves object names (a sandbox's or container's metadata turned
// into a string) so that two requests for the same metadata make one
// object. The kubelet retries RunPodSandbox and CreateContainer after a
// timeout; the retry must get the first request's ID, not a conflict.
type Names struct {
	mu sync.Mutex
	m  map[string]*reservation
}

type reservation struct {
	id   string
	done chan struct{} // closed when the owner finished or gave up
	ok   bool          // owner finished successfully (guarded by Names.mu)
}

// NewNames returns an empty registry.
func NewNames() *Names { return &Names{m: map[string]*reservation{}} }

// Reserve claims name for id. When the name is free it returns (id, true):
// the caller owns the reservation and must call Finish or Release. When
// another request holds it, Reserve waits for that request to finish: on
// success it returns (thatID, false); if that request gave up, Reserve
// tries again. It returns ctx's error when ctx ends first.
func (n *Names) Reserve(ctx context.Context, name, id string) (string, bool, error) {
	for {
		n.mu.Lock()
		r, held := n.m[name]
		if !held {
			n.m[name] = &reservation{id: id, done: make(chan struct{})}
			n.mu.Unlock()
			return id, true, nil
		}
		if r.ok {
			n.mu.Unlock()
			return r.id, false, nil
		}
		n.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
	}
}

// Finish marks the reservation of name made by id as complete: later
// Reserve calls for name return id.
func (n *Names) Finish(name, id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := n.m[name]; ok && r.id == id && !r.ok {
		r.ok = true
		close(r.done)
	}
}

// Add records a finished reservation directly (restoring state at start-up).
func (n *Names) Add(name, id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := &reservation{id: id, done: make(chan struct{}), ok: true}
	close(r.done)
	n.m[name] = r
}

// Release frees name if id holds it; waiters then retry. Releasing a name
// id does not hold is a no-op, so Remove paths may call it unconditionally.
func (n *Names) Release(name, id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.m[name]
	if !ok || r.id != id {
		return
	}
	delete(n.m, name)
	if !r.ok {
		close(r.done)
	}
}

// Lookup returns the ID holding name, finished or in flight.
func (n *Names) Lookup(name string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.m[name]
	if !ok {
		return "", false
	}
	return r.id, true
}
