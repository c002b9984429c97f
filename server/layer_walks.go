package server

import (
	"sync"
	"time"

	"github.com/crio/crio/internal/store"
)

// layerWalkMaxAge is how long the list RPCs, pod stats and the metrics
// endpoint reuse a container's writable-layer walk. The kubelet asks
// every 10-15 s; cAdvisor walks a layer about once a minute.
const layerWalkMaxAge = 10 * time.Second

// layerWalks remembers each container's last writable-layer walk. A walk
// costs a syscall per file in the layer and the list RPCs ask for every
// container each time, so without it a container holding a million
// files would make every ListContainerStats take seconds. The zero value
// is ready to use.
type layerWalks struct {
	mu    sync.Mutex
	byID  map[string]layerWalk
	swept time.Time
}

type layerWalk struct {
	usage layerUsage
	ok    bool
	at    time.Time
}

// get returns c's writable-layer usage, walking the layer unless a walk
// younger than maxAge is remembered; maxAge 0 always walks.
func (w *layerWalks) get(c *store.Container, maxAge time.Duration) (layerUsage, bool) {
	now := time.Now()
	if maxAge > 0 {
		w.mu.Lock()
		e, ok := w.byID[c.ID]
		w.mu.Unlock()
		if ok && now.Sub(e.at) < maxAge {
			return e.usage, e.ok
		}
	}
	u, ok := writableLayer(c)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byID == nil {
		w.byID = map[string]layerWalk{}
	}
	w.byID[c.ID] = layerWalk{u, ok, now}
	// Removed containers are no longer asked about: drop walks nobody
	// has refreshed for a while.
	if now.Sub(w.swept) > layerWalkMaxAge {
		for id, e := range w.byID {
			if now.Sub(e.at) > 2*layerWalkMaxAge {
				delete(w.byID, id)
			}
		}
		w.swept = now
	}
	return u, ok
}
