package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/systemd"
)

// UpdatePodSandboxResources applies the pod-level resources (the sum of
// its containers' plus the pod overhead) to the pod's cgroup. The kubelet
// calls it after resizing the pod cgroup itself and treats it as best
// effort, so writing the same limits again is harmless.
func (s *Server) UpdatePodSandboxResources(ctx context.Context, req *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	sb, err := s.getSandbox(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	if sb.CgroupPath == "" {
		return nil, status.Errorf(codes.FailedPrecondition, "pod sandbox %s has no cgroup parent to update", sb.ID)
	}
	r, o := req.GetResources(), req.GetOverhead()
	l := cgroups.Limits{
		CPUShares:   uint64(max(r.GetCpuShares()+o.GetCpuShares(), 0)),
		CPUPeriod:   uint64(max(r.GetCpuPeriod(), 0)),
		MemoryBytes: r.GetMemoryLimitInBytes() + o.GetMemoryLimitInBytes(),
		CpusetCpus:  r.GetCpusetCpus(),
		CpusetMems:  r.GetCpusetMems(),
	}
	if q := r.GetCpuQuota(); q > 0 {
		l.CPUQuota = q + max(o.GetCpuQuota(), 0)
	} else if q < 0 {
		l.CPUQuota = -1
	}
	post, err := s.nri.UpdatePodSandbox(ctx, sb, r, o)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "updating pod sandbox %s resources: %v", sb.ID, err)
	}
	if cgroups.Driver(s.cfg.Get().Runtime.CgroupManager) == cgroups.Systemd {
		sl := systemd.SliceLimits{MemoryMax: l.MemoryBytes, CPUQuota: l.CPUQuota, CPUPeriod: l.CPUPeriod}
		if l.CPUShares > 0 {
			sl.CPUWeight = cgroups.SharesToWeight(l.CPUShares)
		}
		err := systemd.SetSliceLimits(ctx, cgroups.PodSlice(sb.CgroupPath), sl)
		if errors.Is(err, systemd.ErrNoSlice) {
			return nil, status.Errorf(codes.FailedPrecondition, "updating pod sandbox %s resources: its cgroup parent: %v", sb.ID, err)
		}
		if err != nil {
			return nil, status.Errorf(codes.Internal, "updating pod sandbox %s resources: %v", sb.ID, err)
		}
	}
	// The files too: the cpuset has no property older systemd takes, and
	// cgroupfs has only them.
	if err := cgroups.Apply(sb.CgroupPath, l); err != nil {
		return nil, status.Errorf(codes.Internal, "updating pod sandbox %s resources: %v", sb.ID, err)
	}
	post()
	s.log.Info("pod resources updated", "sandbox", sb.ID, "cpu_shares", l.CPUShares, "cpu_quota", l.CPUQuota, "memory", l.MemoryBytes)
	return &runtimeapi.UpdatePodSandboxResourcesResponse{}, nil
}
