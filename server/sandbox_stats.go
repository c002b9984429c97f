package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/store"
)

// PodSandboxStats samples one pod: its cgroup, its network namespace's
// interfaces and each of its containers.
func (s *Server) PodSandboxStats(_ context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	sb, err := s.getSandbox(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: s.podStats(sb)}, nil
}

// ListPodSandboxStats samples every pod the filter selects (ID or unique
// prefix, labels).
func (s *Server) ListPodSandboxStats(_ context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	return &runtimeapi.ListPodSandboxStatsResponse{Stats: s.listPodStats(req.GetFilter())}, nil
}

// StreamPodSandboxStats is ListPodSandboxStats in chunks.
func (s *Server) StreamPodSandboxStats(req *runtimeapi.StreamPodSandboxStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxStatsResponse]) error {
	return sendChunks(s.listPodStats(req.GetFilter()), func(items []*runtimeapi.PodSandboxStats) error {
		return stream.Send(&runtimeapi.StreamPodSandboxStatsResponse{PodSandboxStats: items})
	})
}

func (s *Server) listPodStats(f *runtimeapi.PodSandboxStatsFilter) []*runtimeapi.PodSandboxStats {
	all := s.selectSandboxes(f.GetId())
	out := make([]*runtimeapi.PodSandboxStats, 0, len(all))
	for _, sb := range all {
		if matchLabels(sb.Config.GetLabels(), f.GetLabelSelector()) {
			out = append(out, s.podStats(sb))
		}
	}
	return out
}

func (s *Server) podStats(sb *store.Sandbox) *runtimeapi.PodSandboxStats {
	linux := &runtimeapi.LinuxPodSandboxStats{}
	st := &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{
			Id:          sb.ID,
			Metadata:    sb.Metadata(),
			Labels:      sb.Config.GetLabels(),
			Annotations: sb.Config.GetAnnotations(),
		},
		Linux: linux,
	}
	sample := &cgroups.Stats{Time: time.Now()}
	if sb.CgroupPath != "" {
		if got, err := cgroups.ReadStats(sb.CgroupPath); err == nil {
			sample = got
		} else if !cgroups.IsNotExist(err) {
			s.log.Debug("reading pod stats", "sandbox", sb.ID, "error", err)
		}
	}
	ts := sample.Time.UnixNano()
	linux.Cpu = &runtimeapi.CpuUsage{Timestamp: ts, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: sample.CPUUsageNanos}}
	if rate, ok := s.cpu.rate("pod:"+sb.ID, sample.Time, sample.CPUUsageNanos); ok {
		linux.Cpu.UsageNanoCores = &runtimeapi.UInt64Value{Value: rate}
	}
	linux.Memory = memoryUsage(sample)
	linux.Process = &runtimeapi.ProcessUsage{Timestamp: ts, ProcessCount: &runtimeapi.UInt64Value{Value: sample.Pids}}
	if sb.NetNS != "" && sb.State() == runtimeapi.PodSandboxState_SANDBOX_READY {
		if ifaces, err := sandbox.NetworkStats(sb.NetNS); err != nil {
			s.log.Debug("reading pod network stats", "sandbox", sb.ID, "error", err)
		} else {
			linux.Network = networkUsage(ts, ifaces)
		}
	}
	if s.containers != nil {
		for _, c := range s.containers.Containers.OfSandbox(sb.ID) {
			linux.Containers = append(linux.Containers, s.containerStats(c, layerWalkMaxAge))
		}
	}
	return st
}

// networkUsage reports every interface of the pod; eth0 (the CNI default) is
// the default interface when present.
func networkUsage(ts int64, ifaces []sandbox.InterfaceStats) *runtimeapi.NetworkUsage {
	n := &runtimeapi.NetworkUsage{Timestamp: ts}
	for _, i := range ifaces {
		u := &runtimeapi.NetworkInterfaceUsage{
			Name:     i.Name,
			RxBytes:  &runtimeapi.UInt64Value{Value: i.RxBytes},
			RxErrors: &runtimeapi.UInt64Value{Value: i.RxErrors},
			TxBytes:  &runtimeapi.UInt64Value{Value: i.TxBytes},
			TxErrors: &runtimeapi.UInt64Value{Value: i.TxErrors},
		}
		if i.Name == "eth0" {
			n.DefaultInterface = u
		}
		n.Interfaces = append(n.Interfaces, u)
	}
	return n
}
