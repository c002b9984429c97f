package spec

import (
	"slices"

	"github.com/crio/crio/internal/cgroups"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// setResources puts the container in its own cgroup under the pod's and
// applies the CRI resources.
func setResources(g *generate.Generator, r *runtimeapi.LinuxContainerResources, in Input, host *hostInfo) error {
	specPath, _ := cgroups.ContainerPath(in.Defaults.CgroupDriver, in.Sandbox.CgroupParent, in.ID)
	g.SetLinuxCgroupsPath(specPath)
	lr, err := linuxResources(r, in.Defaults.CgroupV2, host)
	if err != nil {
		return err
	}
	cur := g.Config.Linux.Resources
	lr.Devices = cur.Devices
	if in.Defaults.PidsLimit > 0 {
		lr.Pids = &rspec.LinuxPids{Limit: &in.Defaults.PidsLimit}
	}
	g.Config.Linux.Resources = lr
	adj := int(r.GetOomScoreAdj())
	// Without CAP_SYS_RESOURCE nothing below the daemon's own value can
	// be set; the kubelet asks for lower values for guaranteed pods.
	if adj < host.oomScoreAdj {
		adj = host.oomScoreAdj
	}
	if adj > 1000 {
		adj = 1000
	}
	g.SetProcessOOMScoreAdj(adj)
	return nil
}

// Resources turns CRI resources into OCI ones for a running container's
// update, with the host as it is.
func Resources(r *runtimeapi.LinuxContainerResources, cgroupV2 bool) (*rspec.LinuxResources, error) {
	return linuxResources(r, cgroupV2, realHost())
}

func linuxResources(r *runtimeapi.LinuxContainerResources, cgroupV2 bool, host *hostInfo) (*rspec.LinuxResources, error) {
	lr := &rspec.LinuxResources{}
	if r == nil {
		return lr, nil
	}
	cpu := &rspec.LinuxCPU{}
	hasCPU := false
	if r.CpuShares > 0 {
		v := uint64(r.CpuShares)
		cpu.Shares, hasCPU = &v, true
	}
	if r.CpuQuota != 0 {
		v := r.CpuQuota
		cpu.Quota, hasCPU = &v, true
	}
	if r.CpuPeriod > 0 {
		v := uint64(r.CpuPeriod)
		cpu.Period, hasCPU = &v, true
	}
	if r.CpusetCpus != "" {
		cpu.Cpus, hasCPU = r.CpusetCpus, true
	}
	if r.CpusetMems != "" {
		cpu.Mems, hasCPU = r.CpusetMems, true
	}
	if r.CpuShares < 0 || r.CpuPeriod < 0 || r.MemoryLimitInBytes < 0 || r.MemorySwapLimitInBytes < 0 {
		return nil, invalidf("negative cpu or memory resource")
	}
	if hasCPU {
		lr.CPU = cpu
	}
	if r.MemoryLimitInBytes > 0 {
		limit := r.MemoryLimitInBytes
		lr.Memory = &rspec.LinuxMemory{Limit: &limit}
		swap := r.MemorySwapLimitInBytes
		if swap == 0 {
			// No swap unless asked: the limit covers memory and swap.
			swap = limit
		}
		if swap < limit && swap != -1 {
			return nil, invalidf("memory_swap_limit_in_bytes %d is below memory_limit_in_bytes %d", swap, limit)
		}
		if host.memsw || cgroupV2 {
			lr.Memory.Swap = &swap
		}
	}
	for _, h := range r.HugepageLimits {
		if h == nil || !host.hugetlb {
			// Where the runtime cannot apply them (see
			// cgroups.HugetlbUsable) the limits are dropped, as CRI-O
			// and containerd drop them: the kubelet sends one for every
			// page size even when the pod asked for none.
			continue
		}
		if len(host.hugepageSizes) > 0 && !slices.ContainsFunc(host.hugepageSizes, func(s string) bool {
			return hugepageName(h.PageSize) == s
		}) {
			return nil, invalidf("hugepage size %s is not supported by this host (%v)", h.PageSize, host.hugepageSizes)
		}
		lr.HugepageLimits = append(lr.HugepageLimits, rspec.LinuxHugepageLimit{Pagesize: h.PageSize, Limit: h.Limit})
	}
	if len(r.Unified) > 0 {
		if !cgroupV2 {
			return nil, invalidf("unified cgroup resources %v need cgroup v2; this host runs cgroup v1", keys(r.Unified))
		}
		lr.Unified = r.Unified
	}
	return lr, nil
}

// hugepageName maps a CRI page size ("2MB", "1GB") to the kernel's
// directory name ("hugepages-2048kB").
func hugepageName(size string) string {
	switch size {
	case "64KB":
		return "hugepages-64kB"
	case "2MB":
		return "hugepages-2048kB"
	case "32MB":
		return "hugepages-32768kB"
	case "512MB":
		return "hugepages-524288kB"
	case "1GB":
		return "hugepages-1048576kB"
	}
	return size
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
