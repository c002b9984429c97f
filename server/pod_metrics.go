package server

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/blockdev"
	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/store"
)

// The CRI metrics RPCs report cAdvisor's container_* metrics, so that a
// kubelet taking pod and container stats from the CRI can serve the same
// /metrics/cadvisor as before. Each metric belongs to a group that
// [crio.stats] included_pod_metrics can select.

var baseLabels = []string{"id", "name", "image"}

type metricDesc struct {
	name, help, group string
	counter           bool
	extra             []string // label keys after baseLabels
}

var metricDescs = []metricDesc{
	{"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", "cpu", true, nil},
	{"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", "cpu", true, nil},
	{"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", "cpu", true, nil},
	{"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", "cpu", true, nil},
	{"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", "cpu", true, nil},
	{"container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", "cpu", true, nil},
	{"container_memory_cache", "Number of bytes of page cache memory.", "memory", false, nil},
	{"container_memory_rss", "Size of RSS in bytes.", "memory", false, nil},
	{"container_memory_kernel_usage", "Size of kernel memory allocated in bytes.", "memory", false, nil},
	{"container_memory_mapped_file", "Size of memory mapped files in bytes.", "memory", false, nil},
	{"container_memory_swap", "Container swap usage in bytes.", "memory", false, nil},
	{"container_memory_failcnt", "Number of memory usage hits limits.", "memory", true, nil},
	{"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", "memory", false, nil},
	{"container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes.", "memory", false, nil},
	{"container_memory_working_set_bytes", "Current working set in bytes.", "memory", false, nil},
	{"container_memory_failures_total", "Cumulative count of memory allocation failures.", "memory", true, []string{"failure_type", "scope"}},
	{"container_network_receive_bytes_total", "Cumulative count of bytes received.", "network", true, []string{"interface"}},
	{"container_network_receive_packets_total", "Cumulative count of packets received.", "network", true, []string{"interface"}},
	{"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving.", "network", true, []string{"interface"}},
	{"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", "network", true, []string{"interface"}},
	{"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", "network", true, []string{"interface"}},
	{"container_network_transmit_packets_total", "Cumulative count of packets transmitted.", "network", true, []string{"interface"}},
	{"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting.", "network", true, []string{"interface"}},
	{"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", "network", true, []string{"interface"}},
	{"container_oom_events_total", "Count of out of memory events observed for the container.", "oom", true, nil},
	{"container_processes", "Number of processes running inside the container.", "process", false, nil},
	{"container_threads", "Number of threads running inside the container.", "process", false, nil},
	{"container_threads_max", "Maximum number of threads allowed inside the container, 0 when unlimited.", "process", false, nil},
	{"container_file_descriptors", "Number of open file descriptors for the container.", "process", false, nil},
	{"container_sockets", "Number of open sockets for the container.", "process", false, nil},
	{"container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", "disk", false, []string{"device"}},
	{"container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this filesystem.", "disk", false, []string{"device"}},
	{"container_fs_inodes_total", "Number of available inodes.", "disk", false, []string{"device"}},
	{"container_fs_inodes_free", "Number of available inodes that are free.", "disk", false, []string{"device"}},
	{"container_blkio_device_usage_total", "Blkio device bytes usage.", "diskIO", true, []string{"device", "major", "minor", "operation"}},
	{"container_fs_reads_bytes_total", "Cumulative count of bytes read.", "diskIO", true, []string{"device"}},
	{"container_fs_reads_total", "Cumulative count of reads completed.", "diskIO", true, []string{"device"}},
	{"container_fs_writes_bytes_total", "Cumulative count of bytes written.", "diskIO", true, []string{"device"}},
	{"container_fs_writes_total", "Cumulative count of writes completed.", "diskIO", true, []string{"device"}},
	{"container_spec_cpu_period", "CPU period of the container.", "spec", false, nil},
	{"container_spec_cpu_shares", "CPU share of the container.", "spec", false, nil},
	{"container_spec_memory_limit_bytes", "Memory limit for the container.", "spec", false, nil},
	{"container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", "spec", false, nil},
	{"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", "spec", false, nil},
	{"container_last_seen", "Last time a container was seen by the exporter.", "spec", false, nil},
}

// includedGroups is the configured set; empty includes every group.
func (s *Server) includedGroups() func(string) bool {
	inc := s.cfg.Get().Stats.IncludedPodMetrics
	return func(g string) bool { return len(inc) == 0 || slices.Contains(inc, g) }
}

// ListMetricDescriptors describes every metric ListPodSandboxMetrics reports.
func (s *Server) ListMetricDescriptors(context.Context, *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	inc := s.includedGroups()
	var out []*runtimeapi.MetricDescriptor
	for _, d := range metricDescs {
		if inc(d.group) {
			out = append(out, &runtimeapi.MetricDescriptor{Name: d.name, Help: d.help, LabelKeys: append(slices.Clone(baseLabels), d.extra...)})
		}
	}
	return &runtimeapi.ListMetricDescriptorsResponse{Descriptors: out}, nil
}

// ListPodSandboxMetrics samples every pod and its containers.
func (s *Server) ListPodSandboxMetrics(context.Context, *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	return &runtimeapi.ListPodSandboxMetricsResponse{PodMetrics: s.podMetrics()}, nil
}

// StreamPodSandboxMetrics is ListPodSandboxMetrics in chunks.
func (s *Server) StreamPodSandboxMetrics(_ *runtimeapi.StreamPodSandboxMetricsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxMetricsResponse]) error {
	return sendChunks(s.podMetrics(), func(items []*runtimeapi.PodSandboxMetrics) error {
		return stream.Send(&runtimeapi.StreamPodSandboxMetricsResponse{PodSandboxMetrics: items})
	})
}

func (s *Server) podMetrics() []*runtimeapi.PodSandboxMetrics {
	inc := s.includedGroups()
	var out []*runtimeapi.PodSandboxMetrics
	for _, sb := range s.sandboxes.List() {
		if sb.State() != runtimeapi.PodSandboxState_SANDBOX_READY {
			continue
		}
		pm := &runtimeapi.PodSandboxMetrics{PodSandboxId: sb.ID}
		mb := metricBuilder{ts: time.Now().UnixNano(), base: []string{sb.ID, sb.Metadata().GetName(), ""}, inc: inc}
		if sb.NetNS != "" && inc("network") {
			if ifaces, err := sandbox.NetworkStats(sb.NetNS); err == nil {
				mb.network(ifaces)
			}
		}
		pm.Metrics = mb.out
		if s.containers != nil {
			for _, c := range s.containers.Containers.OfSandbox(sb.ID) {
				if c.State() != runtimeapi.ContainerState_CONTAINER_RUNNING {
					continue
				}
				pm.ContainerMetrics = append(pm.ContainerMetrics, &runtimeapi.ContainerMetrics{
					ContainerId: c.ID, Metrics: s.containerMetrics(c, inc),
				})
			}
		}
		out = append(out, pm)
	}
	return out
}

func (s *Server) containerMetrics(c *store.Container, inc func(string) bool) []*runtimeapi.Metric {
	mb := metricBuilder{ts: time.Now().UnixNano(), base: []string{c.ID, c.Config.GetMetadata().GetName(), c.ImageRef}, inc: inc}
	d, err := cgroups.ReadDetail(c.Runtime.CgroupPath)
	if err != nil {
		return nil
	}
	const sec = uint64(time.Second)
	mb.add("container_cpu_usage_seconds_total", d.CPUUsageNanos/sec)
	mb.add("container_cpu_user_seconds_total", d.CPUUserNanos/sec)
	mb.add("container_cpu_system_seconds_total", d.CPUSystemNanos/sec)
	mb.add("container_cpu_cfs_periods_total", d.CFSPeriods)
	mb.add("container_cpu_cfs_throttled_periods_total", d.CFSThrottledPeriods)
	mb.add("container_cpu_cfs_throttled_seconds_total", d.CFSThrottledNanos/sec)
	mb.add("container_memory_cache", d.MemoryCache)
	mb.add("container_memory_rss", d.MemoryRSS)
	mb.add("container_memory_kernel_usage", d.MemoryKernel)
	mb.add("container_memory_mapped_file", d.MemoryMappedFile)
	mb.add("container_memory_swap", d.SwapUsage)
	mb.add("container_memory_failcnt", d.MemoryFailcnt)
	mb.add("container_memory_usage_bytes", d.MemoryUsage)
	mb.add("container_memory_max_usage_bytes", d.MemoryMaxUsage)
	mb.add("container_memory_working_set_bytes", d.MemoryWorkingSet)
	for _, scope := range []string{"container", "hierarchy"} {
		mb.add("container_memory_failures_total", d.PageFaults, "pgfault", scope)
		mb.add("container_memory_failures_total", d.MajorPageFaults, "pgmajfault", scope)
	}
	mb.add("container_oom_events_total", d.OOMKills)
	if inc("process") {
		fds, sockets, threads := processCounts(d.Procs)
		mb.add("container_processes", uint64(len(d.Procs)))
		mb.add("container_threads", threads)
		mb.add("container_threads_max", d.PidsMax)
		mb.add("container_file_descriptors", fds)
		mb.add("container_sockets", sockets)
	}
	if inc("disk") {
		s.diskMetrics(&mb, c)
	}
	if inc("diskIO") {
		// A container that did no block I/O has no devices, hence no
		// values: cAdvisor leaves these out too.
		for _, io := range cgroups.ReadIO(c.Runtime.CgroupPath) {
			dev := blockdev.Name(uint32(io.Major), uint32(io.Minor))
			maj, min := strconv.FormatUint(io.Major, 10), strconv.FormatUint(io.Minor, 10)
			mb.add("container_blkio_device_usage_total", io.ReadBytes, dev, maj, min, "Read")
			mb.add("container_blkio_device_usage_total", io.WriteBytes, dev, maj, min, "Write")
			mb.add("container_fs_reads_bytes_total", io.ReadBytes, dev)
			mb.add("container_fs_reads_total", io.Reads, dev)
			mb.add("container_fs_writes_bytes_total", io.WriteBytes, dev)
			mb.add("container_fs_writes_total", io.Writes, dev)
		}
	}
	mb.add("container_spec_cpu_period", d.CPUPeriodMicros)
	mb.add("container_spec_cpu_shares", d.CPUShares)
	mb.add("container_spec_memory_limit_bytes", d.MemoryLimit)
	mb.add("container_spec_memory_swap_limit_bytes", d.MemorySwapLimit)
	mb.add("container_start_time_seconds", uint64(c.Status().StartedAt.Unix()))
	mb.add("container_last_seen", uint64(time.Now().Unix()))
	return mb.out
}

// diskMetrics reports the container's writable layer: the bytes it holds
// and the filesystem it lives on.
func (s *Server) diskMetrics(mb *metricBuilder, c *store.Container) {
	w, ok := s.layers.get(c, layerWalkMaxAge)
	if !ok {
		return
	}
	mb.add("container_fs_usage_bytes", w.usedBytes, w.device)
	mb.add("container_fs_limit_bytes", w.fs.Blocks*uint64(w.fs.Bsize), w.device)
	mb.add("container_fs_inodes_total", w.fs.Files, w.device)
	mb.add("container_fs_inodes_free", w.fs.Ffree, w.device)
}

// layerUsage is what a container's writable (overlay upper) layer holds.
type layerUsage struct {
	upper                 string
	usedBytes, usedInodes uint64
	fs                    syscall.Statfs_t
	// device names the file system's block device as cAdvisor's metrics
	// do, so that a dashboard can join the file system metrics with the
	// I/O ones; the upper dir when it has none.
	device string
}

// writableLayer walks the container's overlay upper directory, the files
// it created or changed. False when the rootfs is not an overlay mount.
func writableLayer(c *store.Container) (layerUsage, bool) {
	if filepath.Base(c.RootFS) != "merged" {
		return layerUsage{}, false
	}
	u := layerUsage{upper: filepath.Join(filepath.Dir(c.RootFS), "diff")}
	if err := syscall.Statfs(u.upper, &u.fs); err != nil {
		return layerUsage{}, false
	}
	var err error
	if u.device, err = blockdev.OfPath(u.upper); err != nil {
		u.device = u.upper
	}
	_ = filepath.WalkDir(u.upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == u.upper {
			return nil
		}
		u.usedInodes++
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			u.usedBytes += uint64(info.Size())
		}
		return nil
	})
	return u, true
}

// processCounts counts the open descriptors, sockets and threads of pids.
func processCounts(pids []int) (fds, sockets, threads uint64) {
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid)
		if ents, err := os.ReadDir(dir + "/fd"); err == nil {
			fds += uint64(len(ents))
			for _, e := range ents {
				if l, err := os.Readlink(dir + "/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
					sockets++
				}
			}
		}
		if b, err := os.ReadFile(dir + "/status"); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "Threads:"); ok {
					n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
					threads += n
				}
			}
		}
	}
	return fds, sockets, threads
}

// metricBuilder collects metrics with the same timestamp and base labels.
type metricBuilder struct {
	ts   int64
	base []string
	inc  func(string) bool
	out  []*runtimeapi.Metric
}

func (b *metricBuilder) add(name string, v uint64, extra ...string) {
	i := slices.IndexFunc(metricDescs, func(d metricDesc) bool { return d.name == name })
	if i < 0 || !b.inc(metricDescs[i].group) {
		return
	}
	typ := runtimeapi.MetricType_GAUGE
	if metricDescs[i].counter {
		typ = runtimeapi.MetricType_COUNTER
	}
	b.out = append(b.out, &runtimeapi.Metric{
		Name: name, Timestamp: b.ts, MetricType: typ,
		LabelValues: append(slices.Clone(b.base), extra...),
		Value:       &runtimeapi.UInt64Value{Value: v},
	})
}

func (b *metricBuilder) network(ifaces []sandbox.InterfaceStats) {
	for _, i := range ifaces {
		b.add("container_network_receive_bytes_total", i.RxBytes, i.Name)
		b.add("container_network_receive_packets_total", i.RxPackets, i.Name)
		b.add("container_network_receive_packets_dropped_total", i.RxDropped, i.Name)
		b.add("container_network_receive_errors_total", i.RxErrors, i.Name)
		b.add("container_network_transmit_bytes_total", i.TxBytes, i.Name)
		b.add("container_network_transmit_packets_total", i.TxPackets, i.Name)
		b.add("container_network_transmit_packets_dropped_total", i.TxDropped, i.Name)
		b.add("container_network_transmit_errors_total", i.TxErrors, i.Name)
	}
}
