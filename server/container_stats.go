package server

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/store"
)

// cpuSamples remembers the last CPU reading of each cgroup so that
// usage_nano_cores can be computed as a rate between two calls.
type cpuSamples struct {
	mu   sync.Mutex
	last map[string]cpuSample
}

type cpuSample struct {
	at    time.Time
	usage uint64
}

// rate records (at, usage) for key and returns the CPU use since the
// previous sample in nanocores, or false for the first sample.
func (c *cpuSamples) rate(key string, at time.Time, usage uint64) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[string]cpuSample{}
	}
	prev, ok := c.last[key]
	c.last[key] = cpuSample{at, usage}
	if !ok || !at.After(prev.at) || usage < prev.usage {
		return 0, false
	}
	return uint64(float64(usage-prev.usage) / at.Sub(prev.at).Seconds()), true
}

func (c *cpuSamples) forget(key string) {
	c.mu.Lock()
	delete(c.last, key)
	c.mu.Unlock()
}

// ContainerStats samples one container's cgroup.
func (s *Server) ContainerStats(_ context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	if req.GetContainerId() == "" {
		return nil, status.Error(codes.InvalidArgument, "container ID is empty")
	}
	c, err := s.containers.Containers.Get(req.GetContainerId())
	if err != nil {
		return nil, containerError("container stats", err)
	}
	// One container: its writable layer is walked now.
	return &runtimeapi.ContainerStatsResponse{Stats: s.containerStats(c, 0)}, nil
}

// ListContainerStats samples every container the filter selects (ID or
// unique prefix, pod sandbox ID, labels).
func (s *Server) ListContainerStats(_ context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	return &runtimeapi.ListContainerStatsResponse{Stats: s.listContainerStats(req.GetFilter())}, nil
}

// StreamContainerStats is ListContainerStats in chunks.
func (s *Server) StreamContainerStats(req *runtimeapi.StreamContainerStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainerStatsResponse]) error {
	if err := s.containersServed(); err != nil {
		return err
	}
	return sendChunks(s.listContainerStats(req.GetFilter()), func(items []*runtimeapi.ContainerStats) error {
		return stream.Send(&runtimeapi.StreamContainerStatsResponse{ContainerStats: items})
	})
}

func (s *Server) listContainerStats(f *runtimeapi.ContainerStatsFilter) []*runtimeapi.ContainerStats {
	all := s.selectContainers(f.GetId(), f.GetPodSandboxId(), f.GetLabelSelector())
	out := make([]*runtimeapi.ContainerStats, len(all))
	forEachSample(len(all), func(i int) { out[i] = s.containerStats(all[i], layerWalkMaxAge) })
	return out
}

// forEachSample runs f(0..n-1) on a few goroutines. A sample is cgroup
// reads and a walk of the writable layer, all syscalls that leave the CPU
// idle in between, so two workers per core keep the cores busy.
func forEachSample(n int, f func(i int)) {
	workers := min(n, 2*runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// containerStats is the container's latest sample: from the background
// collector when one runs and has sampled it, else read now, with a walk
// of its writable layer no older than layerAge (see layerWalks).
func (s *Server) containerStats(c *store.Container, layerAge time.Duration) *runtimeapi.ContainerStats {
	if s.collector != nil {
		if st, ok := s.collector.get(c.ID); ok {
			return st
		}
	}
	return s.sampleContainer(c, layerAge)
}

// sampleContainer reads the container's cgroup. A container that has not
// started or has exited still gets an entry with its attributes and a
// timestamp (zero usage), as the kubelet expects one per container.
func (s *Server) sampleContainer(c *store.Container, layerAge time.Duration) *runtimeapi.ContainerStats {
	st := &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{
			Id:          c.ID,
			Metadata:    c.Config.GetMetadata(),
			Labels:      c.Config.GetLabels(),
			Annotations: c.Config.GetAnnotations(),
		},
	}
	now := time.Now()
	sample, err := cgroups.ReadStats(c.Runtime.CgroupPath)
	if err != nil {
		if !cgroups.IsNotExist(err) {
			s.log.Debug("reading container stats", "container", c.ID, "error", err)
		}
		s.cpu.forget(c.ID)
		sample = &cgroups.Stats{Time: now}
	}
	ts := sample.Time.UnixNano()
	st.Cpu = &runtimeapi.CpuUsage{
		Timestamp:            ts,
		UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: sample.CPUUsageNanos},
	}
	if rate, ok := s.cpu.rate(c.ID, sample.Time, sample.CPUUsageNanos); ok {
		st.Cpu.UsageNanoCores = &runtimeapi.UInt64Value{Value: rate}
	}
	st.Memory = memoryUsage(sample)
	if w, ok := s.layers.get(c, layerAge); ok {
		st.WritableLayer = &runtimeapi.FilesystemUsage{
			Timestamp:  ts,
			FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: w.upper},
			UsedBytes:  &runtimeapi.UInt64Value{Value: w.usedBytes},
			InodesUsed: &runtimeapi.UInt64Value{Value: w.usedInodes},
		}
	}
	st.Swap = &runtimeapi.SwapUsage{
		Timestamp:      ts,
		SwapUsageBytes: &runtimeapi.UInt64Value{Value: sample.SwapUsage},
	}
	return st
}

func memoryUsage(s *cgroups.Stats) *runtimeapi.MemoryUsage {
	m := &runtimeapi.MemoryUsage{
		Timestamp:       s.Time.UnixNano(),
		WorkingSetBytes: &runtimeapi.UInt64Value{Value: s.MemoryWorkingSet},
		UsageBytes:      &runtimeapi.UInt64Value{Value: s.MemoryUsage},
		RssBytes:        &runtimeapi.UInt64Value{Value: s.MemoryRSS},
		PageFaults:      &runtimeapi.UInt64Value{Value: s.PageFaults},
		MajorPageFaults: &runtimeapi.UInt64Value{Value: s.MajorPageFaults},
	}
	if s.MemoryLimit > 0 {
		avail := uint64(0)
		if s.MemoryLimit > s.MemoryWorkingSet {
			avail = s.MemoryLimit - s.MemoryWorkingSet
		}
		m.AvailableBytes = &runtimeapi.UInt64Value{Value: avail}
	}
	return m
}
