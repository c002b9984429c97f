package nri

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/containerd/nri/pkg/api"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/store"
)

// PodSandbox is a sandbox as NRI describes it.
func PodSandbox(sb *store.Sandbox) *api.PodSandbox {
	m := sb.Metadata()
	p := &api.PodSandbox{
		Id: sb.ID, Name: m.GetName(), Uid: m.GetUid(), Namespace: m.GetNamespace(),
		Labels: sb.Config.GetLabels(), Annotations: sb.Config.GetAnnotations(),
		RuntimeHandler: sb.RuntimeHandler, Ips: sb.IPs,
		Pid: uint32(max(sb.InfraPID, 0)),
		Linux: &api.LinuxPodSandbox{
			CgroupParent: sb.CgroupParent, CgroupsPath: sb.CgroupPath,
			PodOverhead:  criResources(sb.Config.GetLinux().GetOverhead()),
			PodResources: criResources(sb.Config.GetLinux().GetResources()),
		},
	}
	for typ, path := range map[string]string{"network": sb.NetNS, "ipc": sb.IPCNS, "uts": sb.UTSNS, "user": sb.UserNS} {
		if path != "" {
			p.Linux.Namespaces = append(p.Linux.Namespaces, &api.LinuxNamespace{Type: typ, Path: path})
		}
	}
	return p
}

// LoadContainer is Container with the spec read from the container's OCI
// bundle (hooks after creation).
func LoadContainer(c *store.Container) *api.Container {
	var spec rspec.Spec
	if b, err := os.ReadFile(filepath.Join(c.Runtime.Bundle, "config.json")); err == nil {
		_ = json.Unmarshal(b, &spec) // an unreadable spec leaves the spec-derived fields empty
	}
	return Container(c, &spec)
}

// Container is a container as NRI describes it: its identity and status
// from the store, its configuration from its OCI spec.
func Container(c *store.Container, spec *rspec.Spec) *api.Container {
	st := c.Status()
	ctr := &api.Container{
		Id: c.ID, PodSandboxId: c.SandboxID, Name: c.Config.GetMetadata().GetName(),
		State:       containerState(st.State),
		Labels:      c.Config.GetLabels(),
		Annotations: c.Config.GetAnnotations(),
		Pid:         uint32(max(c.Runtime.PID, 0)),
		CreatedAt:   nanos(c.CreatedAt.UnixNano()), StartedAt: nanos(st.StartedAt.UnixNano()),
		FinishedAt: nanos(st.FinishedAt.UnixNano()), ExitCode: st.ExitCode,
		StatusReason: st.Reason, StatusMessage: st.Message,
		User: &api.User{Uid: uint32(c.UID), Gid: uint32(c.GID)},
	}
	if st.StartedAt.IsZero() {
		ctr.StartedAt = 0
	}
	if st.FinishedAt.IsZero() {
		ctr.FinishedAt = 0
	}
	for _, g := range c.SupplementalGroups {
		ctr.User.AdditionalGids = append(ctr.User.AdditionalGids, uint32(g))
	}
	for _, d := range c.Config.GetCDIDevices() {
		ctr.CDIDevices = append(ctr.CDIDevices, &api.CDIDevice{Name: d.GetName()})
	}
	if spec == nil {
		return ctr
	}
	if len(spec.Annotations) > 0 {
		ctr.Annotations = spec.Annotations
	}
	if p := spec.Process; p != nil {
		ctr.Args, ctr.Env = p.Args, p.Env
		for _, l := range p.Rlimits {
			ctr.Rlimits = append(ctr.Rlimits, &api.POSIXRlimit{Type: l.Type, Hard: l.Hard, Soft: l.Soft})
		}
	}
	ctr.Mounts = api.FromOCIMounts(spec.Mounts)
	ctr.Hooks = api.FromOCIHooks(spec.Hooks)
	if l := spec.Linux; l != nil {
		lc := &api.LinuxContainer{
			Namespaces:     api.FromOCILinuxNamespaces(l.Namespaces),
			Devices:        api.FromOCILinuxDevices(l.Devices),
			Resources:      api.FromOCILinuxResources(l.Resources, spec.Annotations),
			CgroupsPath:    l.CgroupsPath,
			SeccompProfile: seccompProfile(c.Config.GetLinux().GetSecurityContext().GetSeccomp()),
			Sysctl:         l.Sysctl,
		}
		if l.Seccomp != nil {
			lc.SeccompPolicy = api.FromOCILinuxSeccomp(l.Seccomp)
		}
		if p := spec.Process; p != nil {
			if p.OOMScoreAdj != nil {
				lc.OomScoreAdj = api.Int(*p.OOMScoreAdj)
			}
			lc.IoPriority = api.FromOCILinuxIOPriority(p.IOPriority)
		}
		ctr.Linux = lc
	}
	return ctr
}

func nanos(n int64) int64 { return max(n, 0) }

func containerState(s runtimeapi.ContainerState) api.ContainerState {
	switch s {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return api.ContainerState_CONTAINER_CREATED
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return api.ContainerState_CONTAINER_RUNNING
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return api.ContainerState_CONTAINER_STOPPED
	}
	return api.ContainerState_CONTAINER_UNKNOWN
}

func seccompProfile(p *runtimeapi.SecurityProfile) *api.SecurityProfile {
	switch p.GetProfileType() {
	case runtimeapi.SecurityProfile_Unconfined:
		return &api.SecurityProfile{ProfileType: api.SecurityProfile_UNCONFINED}
	case runtimeapi.SecurityProfile_Localhost:
		return &api.SecurityProfile{ProfileType: api.SecurityProfile_LOCALHOST, LocalhostRef: p.GetLocalhostRef()}
	}
	return &api.SecurityProfile{ProfileType: api.SecurityProfile_RUNTIME_DEFAULT}
}

// criResources is a CRI resources message as NRI's.
func criResources(r *runtimeapi.LinuxContainerResources) *api.LinuxResources {
	if r == nil {
		return nil
	}
	out := &api.LinuxResources{
		Memory: &api.LinuxMemory{},
		Cpu:    &api.LinuxCPU{Cpus: r.GetCpusetCpus(), Mems: r.GetCpusetMems()},
	}
	if v := r.GetMemoryLimitInBytes(); v != 0 {
		out.Memory.Limit = api.Int64(v)
	}
	if v := r.GetMemorySwapLimitInBytes(); v != 0 {
		out.Memory.Swap = api.Int64(v)
	}
	if v := r.GetCpuShares(); v > 0 {
		out.Cpu.Shares = api.UInt64(uint64(v))
	}
	if v := r.GetCpuQuota(); v != 0 {
		out.Cpu.Quota = api.Int64(v)
	}
	if v := r.GetCpuPeriod(); v > 0 {
		out.Cpu.Period = api.UInt64(uint64(v))
	}
	for _, h := range r.GetHugepageLimits() {
		out.HugepageLimits = append(out.HugepageLimits, &api.HugepageLimit{PageSize: h.GetPageSize(), Limit: h.GetLimit()})
	}
	if len(r.GetUnified()) > 0 {
		out.Unified = r.GetUnified()
	}
	return out
}

// CRIResources lays the fields NRI's resources set over base, for the
// record ContainerStatus reports.
func CRIResources(r *api.LinuxResources, base *runtimeapi.LinuxContainerResources) *runtimeapi.LinuxContainerResources {
	out := &runtimeapi.LinuxContainerResources{}
	if base != nil {
		out = proto.Clone(base).(*runtimeapi.LinuxContainerResources)
	}
	if m := r.GetMemory(); m != nil {
		if m.GetLimit() != nil {
			out.MemoryLimitInBytes = m.GetLimit().GetValue()
		}
		if m.GetSwap() != nil {
			out.MemorySwapLimitInBytes = m.GetSwap().GetValue()
		}
	}
	if c := r.GetCpu(); c != nil {
		if c.GetShares() != nil {
			out.CpuShares = int64(c.GetShares().GetValue())
		}
		if c.GetQuota() != nil {
			out.CpuQuota = c.GetQuota().GetValue()
		}
		if c.GetPeriod() != nil {
			out.CpuPeriod = int64(c.GetPeriod().GetValue())
		}
		if c.GetCpus() != "" {
			out.CpusetCpus = c.GetCpus()
		}
		if c.GetMems() != "" {
			out.CpusetMems = c.GetMems()
		}
	}
	if len(r.GetHugepageLimits()) > 0 {
		out.HugepageLimits = nil
		for _, h := range r.GetHugepageLimits() {
			out.HugepageLimits = append(out.HugepageLimits, &runtimeapi.HugepageLimit{PageSize: h.GetPageSize(), Limit: h.GetLimit()})
		}
	}
	if len(r.GetUnified()) > 0 {
		out.Unified = r.GetUnified()
	}
	return out
}
