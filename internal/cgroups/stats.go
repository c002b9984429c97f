package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stats is one sample of a cgroup's usage. Zero means unknown or none.
//
// These few files are read directly rather than through a cgroup manager
// library: a sample is five small reads, which matters when the kubelet
// lists the stats of hundreds of containers.
type Stats struct {
	Time             time.Time
	CPUUsageNanos    uint64 // cumulative CPU time
	MemoryUsage      uint64 // including page cache
	MemoryWorkingSet uint64 // usage minus inactive file cache, as cAdvisor defines it
	MemoryRSS        uint64 // anonymous memory
	MemoryLimit      uint64 // 0 when unlimited
	PageFaults       uint64
	MajorPageFaults  uint64
	SwapUsage        uint64
	Pids             uint64
}

// unlimited is the threshold above which a v1 limit means "none".
const unlimited = 1 << 62

// ReadStats samples the cgroup at path (relative to each hierarchy's
// root, as in an OCI spec's cgroupsPath for cgroupfs). A cgroup that does
// not exist (the container has exited) is fs.ErrNotExist.
func ReadStats(path string) (*Stats, error) {
	if IsV2() {
		return readV2(filepath.Join(Root, path))
	}
	return readV1(path)
}

func readV1(path string) (*Stats, error) {
	s := &Stats{Time: time.Now()}
	mem := filepath.Join(Root, "memory", path)
	usage, err := readUint(filepath.Join(mem, "memory.usage_in_bytes"))
	if err != nil {
		return nil, err
	}
	s.MemoryUsage = usage
	if lim, err := readUint(filepath.Join(mem, "memory.limit_in_bytes")); err == nil && lim < unlimited {
		s.MemoryLimit = lim
	}
	kv, err := readKV(filepath.Join(mem, "memory.stat"))
	if err != nil {
		return nil, err
	}
	s.MemoryRSS = kv["total_rss"]
	s.PageFaults = kv["total_pgfault"]
	s.MajorPageFaults = kv["total_pgmajfault"]
	s.MemoryWorkingSet = workingSet(usage, kv["total_inactive_file"])
	if sw, err := readUint(filepath.Join(mem, "memory.memsw.usage_in_bytes")); err == nil && sw > usage {
		s.SwapUsage = sw - usage
	}
	for _, dir := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
		if v, err := readUint(filepath.Join(Root, dir, path, "cpuacct.usage")); err == nil {
			s.CPUUsageNanos = v
			break
		}
	}
	if v, err := readUint(filepath.Join(Root, "pids", path, "pids.current")); err == nil {
		s.Pids = v
	}
	return s, nil
}

func readV2(dir string) (*Stats, error) {
	s := &Stats{Time: time.Now()}
	usage, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return nil, err
	}
	s.MemoryUsage = usage
	if lim, err := readUint(filepath.Join(dir, "memory.max")); err == nil {
		s.MemoryLimit = lim
	}
	kv, err := readKV(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return nil, err
	}
	s.MemoryRSS = kv["anon"]
	s.PageFaults = kv["pgfault"]
	s.MajorPageFaults = kv["pgmajfault"]
	s.MemoryWorkingSet = workingSet(usage, kv["inactive_file"])
	if v, err := readUint(filepath.Join(dir, "memory.swap.current")); err == nil {
		s.SwapUsage = v
	}
	if cpu, err := readKV(filepath.Join(dir, "cpu.stat")); err == nil {
		s.CPUUsageNanos = cpu["usage_usec"] * 1000
	}
	if v, err := readUint(filepath.Join(dir, "pids.current")); err == nil {
		s.Pids = v
	}
	return s, nil
}

func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// readUint reads a file holding one number; "max" reads as 0 (no limit).
func readUint(p string) (uint64, error) {
	b, err := readFile(p, 32)
	if err != nil {
		return 0, err
	}
	v := strings.TrimSpace(string(b))
	if v == "max" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return n, nil
}

// readKV reads a "key value" per line file such as memory.stat.
func readKV(p string) (map[string]uint64, error) {
	b, err := readFile(p, 2048)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, 64)
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			out[string(k)] = n
		}
	}
	return out, nil
}

// readFile reads a small kernel file with bare syscalls. A stats list
// reads six of them per container; os.ReadFile's poller registration
// and fstat were half of its syscalls (ListContainerStats profile, 500
// containers). size is the first read's buffer.
func readFile(p string, size int) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, cap(b))
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: p, Err: err}
		case n == 0:
			return b, nil
		}
		b = b[:len(b)+n]
	}
}

// IsNotExist reports whether err means the cgroup is gone.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
