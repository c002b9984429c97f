package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Detail is what the cAdvisor-style metrics need beyond Stats. Zero means
// unknown or none.
type Detail struct {
	Stats
	CPUUserNanos, CPUSystemNanos                uint64
	CFSPeriods, CFSThrottledPeriods             uint64
	CFSThrottledNanos                           uint64
	CPUPeriodMicros, CPUShares                  uint64
	MemoryCache, MemoryMappedFile, MemoryKernel uint64
	MemoryMaxUsage, MemoryFailcnt, OOMKills     uint64
	MemorySwapLimit                             uint64
	PidsMax                                     uint64
	Procs                                       []int // processes in the cgroup
}

// userHZ is the unit of cpuacct.stat: clock ticks of 1/100 s on Linux.
const userHZ = 100

// ReadDetail samples everything Detail holds for the cgroup at path.
func ReadDetail(path string) (*Detail, error) {
	st, err := ReadStats(path)
	if err != nil {
		return nil, err
	}
	d := &Detail{Stats: *st}
	if IsV2() {
		readDetailV2(filepath.Join(Root, path), d)
	} else {
		readDetailV1(path, d)
	}
	return d, nil
}

func readDetailV1(path string, d *Detail) {
	cpuacct := firstDir(path, "cpuacct", "cpu,cpuacct", "cpuacct,cpu")
	if kv, err := readKV(filepath.Join(cpuacct, "cpuacct.stat")); err == nil {
		d.CPUUserNanos = kv["user"] * (1e9 / userHZ)
		d.CPUSystemNanos = kv["system"] * (1e9 / userHZ)
	}
	cpu := firstDir(path, "cpu", "cpu,cpuacct", "cpuacct,cpu")
	if kv, err := readKV(filepath.Join(cpu, "cpu.stat")); err == nil {
		d.CFSPeriods, d.CFSThrottledPeriods, d.CFSThrottledNanos = kv["nr_periods"], kv["nr_throttled"], kv["throttled_time"]
	}
	d.CPUPeriodMicros, _ = readUint(filepath.Join(cpu, "cpu.cfs_period_us"))
	d.CPUShares, _ = readUint(filepath.Join(cpu, "cpu.shares"))
	mem := filepath.Join(Root, "memory", path)
	if kv, err := readKV(filepath.Join(mem, "memory.stat")); err == nil {
		d.MemoryCache, d.MemoryMappedFile = kv["total_cache"], kv["total_mapped_file"]
	}
	d.MemoryKernel, _ = readUint(filepath.Join(mem, "memory.kmem.usage_in_bytes"))
	d.MemoryMaxUsage, _ = readUint(filepath.Join(mem, "memory.max_usage_in_bytes"))
	d.MemoryFailcnt, _ = readUint(filepath.Join(mem, "memory.failcnt"))
	if kv, err := readKV(filepath.Join(mem, "memory.oom_control")); err == nil {
		d.OOMKills = kv["oom_kill"]
	}
	if v, err := readUint(filepath.Join(mem, "memory.memsw.limit_in_bytes")); err == nil && v < unlimited {
		d.MemorySwapLimit = v
	}
	pids := filepath.Join(Root, "pids", path)
	d.PidsMax, _ = readUint(filepath.Join(pids, "pids.max"))
	d.Procs = readProcs(filepath.Join(pids, "cgroup.procs"))
	if d.Procs == nil {
		d.Procs = readProcs(filepath.Join(mem, "cgroup.procs"))
	}
}

func readDetailV2(dir string, d *Detail) {
	if kv, err := readKV(filepath.Join(dir, "cpu.stat")); err == nil {
		d.CPUUserNanos, d.CPUSystemNanos = kv["user_usec"]*1000, kv["system_usec"]*1000
		d.CFSPeriods, d.CFSThrottledPeriods, d.CFSThrottledNanos = kv["nr_periods"], kv["nr_throttled"], kv["throttled_usec"]*1000
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			d.CPUPeriodMicros, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	if w, err := readUint(filepath.Join(dir, "cpu.weight")); err == nil && w > 0 {
		// The inverse of the kubelet's shares -> weight conversion.
		d.CPUShares = 2 + ((w-1)*262142)/9999
	}
	if kv, err := readKV(filepath.Join(dir, "memory.stat")); err == nil {
		d.MemoryCache, d.MemoryMappedFile, d.MemoryKernel = kv["file"], kv["file_mapped"], kv["kernel"]
	}
	d.MemoryMaxUsage, _ = readUint(filepath.Join(dir, "memory.peak"))
	if kv, err := readKV(filepath.Join(dir, "memory.events")); err == nil {
		d.MemoryFailcnt, d.OOMKills = kv["max"], kv["oom_kill"]
	}
	d.MemorySwapLimit, _ = readUint(filepath.Join(dir, "memory.swap.max"))
	d.PidsMax, _ = readUint(filepath.Join(dir, "pids.max"))
	d.Procs = readProcs(filepath.Join(dir, "cgroup.procs"))
}

// firstDir is the v1 hierarchy directory of path among the mount names
// a controller may have.
func firstDir(path string, names ...string) string {
	for _, n := range names {
		d := filepath.Join(Root, n, path)
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return filepath.Join(Root, names[0], path)
}

func readProcs(p string) []int {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
