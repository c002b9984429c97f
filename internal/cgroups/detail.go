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

// DeviceIO is the block I/O of a cgroup on one device.
type DeviceIO struct {
	Major, Minor                         uint64
	ReadBytes, WriteBytes, Reads, Writes uint64
}

// ReadIO reads the block I/O of the cgroup at path, per device. A cgroup
// that did no I/O has no devices.
func ReadIO(path string) []DeviceIO {
	if IsV2() {
		return readIOV2(filepath.Join(Root, path, "io.stat"))
	}
	dir := filepath.Join(Root, "blkio", path)
	byDev := map[[2]uint64]*DeviceIO{}
	var order [][2]uint64
	get := func(dev string) *DeviceIO {
		maj, min, ok := parseDev(dev)
		if !ok {
			return nil
		}
		k := [2]uint64{maj, min}
		if d, ok := byDev[k]; ok {
			return d
		}
		d := &DeviceIO{Major: maj, Minor: min}
		byDev[k] = d
		order = append(order, k)
		return d
	}
	for _, f := range []struct {
		file        string
		read, write func(*DeviceIO, uint64)
	}{
		{"blkio.throttle.io_service_bytes_recursive", func(d *DeviceIO, v uint64) { d.ReadBytes = v }, func(d *DeviceIO, v uint64) { d.WriteBytes = v }},
		{"blkio.throttle.io_serviced_recursive", func(d *DeviceIO, v uint64) { d.Reads = v }, func(d *DeviceIO, v uint64) { d.Writes = v }},
	} {
		b, err := os.ReadFile(filepath.Join(dir, f.file))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			fl := strings.Fields(line)
			if len(fl) != 3 {
				continue
			}
			v, err := strconv.ParseUint(fl[2], 10, 64)
			d := get(fl[0])
			if err != nil || d == nil {
				continue
			}
			switch fl[1] {
			case "Read":
				f.read(d, v)
			case "Write":
				f.write(d, v)
			}
		}
	}
	out := make([]DeviceIO, 0, len(order))
	for _, k := range order {
		out = append(out, *byDev[k])
	}
	return out
}

func readIOV2(p string) []DeviceIO {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var out []DeviceIO
	for _, line := range strings.Split(string(b), "\n") {
		fl := strings.Fields(line)
		if len(fl) < 2 {
			continue
		}
		maj, min, ok := parseDev(fl[0])
		if !ok {
			continue
		}
		d := DeviceIO{Major: maj, Minor: min}
		for _, kv := range fl[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "rbytes":
				d.ReadBytes = n
			case "wbytes":
				d.WriteBytes = n
			case "rios":
				d.Reads = n
			case "wios":
				d.Writes = n
			}
		}
		out = append(out, d)
	}
	return out
}

func parseDev(s string) (uint64, uint64, bool) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 64)
	min, err2 := strconv.ParseUint(b, 10, 64)
	return maj, min, err1 == nil && err2 == nil
}
