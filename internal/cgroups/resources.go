package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Limits are the pod-level limits UpdatePodSandboxResources applies. Zero
// (or empty) leaves a setting alone.
type Limits struct {
	CPUShares              uint64
	CPUQuota               int64 // microseconds per period; -1 is unlimited
	CPUPeriod              uint64
	MemoryBytes            int64
	CpusetCpus, CpusetMems string
}

// SharesToWeight is the kubelet's (and runc's) conversion of CRI CPU
// shares [2, 262144] to a cgroup v2 cpu.weight [1, 10000].
func SharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// Apply writes l to the cgroup at path (relative to each hierarchy's
// root), in cgroup v1 or v2 form.
func Apply(path string, l Limits) error {
	type write struct{ file, value string }
	var ws []write
	if IsV2() {
		dir := filepath.Join(Root, path)
		if l.CPUShares > 0 {
			ws = append(ws, write{filepath.Join(dir, "cpu.weight"), strconv.FormatUint(SharesToWeight(l.CPUShares), 10)})
		}
		if l.CPUQuota != 0 || l.CPUPeriod > 0 {
			quota := "max"
			if l.CPUQuota > 0 {
				quota = strconv.FormatInt(l.CPUQuota, 10)
			}
			period := l.CPUPeriod
			if period == 0 {
				period = 100000
			}
			ws = append(ws, write{filepath.Join(dir, "cpu.max"), fmt.Sprintf("%s %d", quota, period)})
		}
		if l.MemoryBytes > 0 {
			ws = append(ws, write{filepath.Join(dir, "memory.max"), strconv.FormatInt(l.MemoryBytes, 10)})
		}
		if l.CpusetCpus != "" {
			ws = append(ws, write{filepath.Join(dir, "cpuset.cpus"), l.CpusetCpus})
		}
		if l.CpusetMems != "" {
			ws = append(ws, write{filepath.Join(dir, "cpuset.mems"), l.CpusetMems})
		}
	} else {
		cpu := firstDir(path, "cpu", "cpu,cpuacct", "cpuacct,cpu")
		if l.CPUShares > 0 {
			ws = append(ws, write{filepath.Join(cpu, "cpu.shares"), strconv.FormatUint(l.CPUShares, 10)})
		}
		if l.CPUPeriod > 0 {
			ws = append(ws, write{filepath.Join(cpu, "cpu.cfs_period_us"), strconv.FormatUint(l.CPUPeriod, 10)})
		}
		if l.CPUQuota != 0 {
			ws = append(ws, write{filepath.Join(cpu, "cpu.cfs_quota_us"), strconv.FormatInt(l.CPUQuota, 10)})
		}
		if l.MemoryBytes > 0 {
			ws = append(ws, write{filepath.Join(Root, "memory", path, "memory.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)})
		}
		if l.CpusetCpus != "" {
			ws = append(ws, write{filepath.Join(Root, "cpuset", path, "cpuset.cpus"), l.CpusetCpus})
		}
		if l.CpusetMems != "" {
			ws = append(ws, write{filepath.Join(Root, "cpuset", path, "cpuset.mems"), l.CpusetMems})
		}
	}
	var errs []error
	for _, w := range ws {
		if err := os.WriteFile(w.file, []byte(w.value), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("setting %s to %s: %w", w.file, w.value, err))
		}
	}
	return errors.Join(errs...)
}
