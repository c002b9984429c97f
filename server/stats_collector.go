package server

import (
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// statsCollector samples every container in the background every period
// ([crio.stats] stats_collection_period), so that the stats RPCs answer
// from memory however many containers the node runs.
type statsCollector struct {
	mu    sync.RWMutex
	stats map[string]*runtimeapi.ContainerStats
	stop  chan struct{}
	done  chan struct{}
}

// startStatsCollector runs the collector when period is positive; a nil
// collector means stats are sampled on demand.
func (s *Server) startStatsCollector(period time.Duration) *statsCollector {
	if period <= 0 || s.containers == nil {
		return nil
	}
	c := &statsCollector{stats: map[string]*runtimeapi.ContainerStats{}, stop: make(chan struct{}), done: make(chan struct{})}
	c.collect(s)
	go func() {
		defer close(c.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				c.collect(s)
			}
		}
	}()
	return c
}

// collect samples every container; removed ones drop out.
func (c *statsCollector) collect(s *Server) {
	all := s.containers.Containers.List()
	samples := make([]*runtimeapi.ContainerStats, len(all))
	forEachSample(len(all), func(i int) { samples[i] = s.sampleContainer(all[i], layerWalkMaxAge) })
	fresh := make(map[string]*runtimeapi.ContainerStats, len(all))
	for i, ctr := range all {
		fresh[ctr.ID] = samples[i]
	}
	c.mu.Lock()
	c.stats = fresh
	c.mu.Unlock()
}

// get returns the last sample of container id, if there is one.
func (c *statsCollector) get(id string) (*runtimeapi.ContainerStats, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, ok := c.stats[id]
	return st, ok
}

func (c *statsCollector) close() {
	close(c.stop)
	<-c.done
}
