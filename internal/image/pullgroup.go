package image

import (
	"context"
	"fmt"
	"sync"
)

// pullGroup de-duplicates concurrent pulls: callers with the same key wait
// for one pull. The pull runs on a context of its own, so one caller
// giving up does not fail the others; it is cancelled only when every
// caller has given up.
type pullGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	id      string
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do runs fn once for all concurrent callers of key; joined is called
// when a caller joins a pull already running, abandoned when the last
// caller gives up and the pull is cancelled.
// It refuses to start a pull when max (0: no limit) pulls of other keys
// are in flight; joining one is always allowed.
func (g *pullGroup) do(ctx context.Context, key string, max int, fn func(context.Context) (string, error), joined, abandoned func()) (string, error) {
	g.mu.Lock()
	f, ok := g.m[key]
	if !ok && max > 0 && len(g.m) >= max {
		n := len(g.m)
		g.mu.Unlock()
		return "", fmt.Errorf("%w: %d distinct images are being pulled, [crio.limits] max_concurrent_pulls = %d", ErrPullLimit, n, max)
	}
	if ok {
		f.waiters++
		g.mu.Unlock()
		joined()
	} else {
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), waiters: 1, cancel: cancel}
		g.m[key] = f
		g.mu.Unlock()
		go func() {
			f.id, f.err = fn(pctx)
			g.mu.Lock()
			if g.m[key] == f { // an abandoned flight may have been replaced
				delete(g.m, key)
			}
			g.mu.Unlock()
			cancel()
			close(f.done)
		}()
	}
	select {
	case <-f.done:
		return f.id, f.err
	case <-ctx.Done():
		g.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			abandoned()
			// A later caller must not join a pull that is being torn down.
			if g.m[key] == f {
				delete(g.m, key)
			}
		}
		g.mu.Unlock()
		return "", ctx.Err()
	}
}
