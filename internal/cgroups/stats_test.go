package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestReadStatsOfARealCgroup puts a busy shell into a fresh cgroup and
// checks that the sample sees its CPU time, memory and process.
func TestReadStatsOfARealCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	rel := fmt.Sprintf("/crio-stats-test-%d", os.Getpid())
	var dirs []string
	if IsV2() {
		dirs = []string{filepath.Join(Root, rel)}
	} else {
		for _, c := range []string{"memory", "cpuacct", "pids"} {
			dirs = append(dirs, filepath.Join(Root, c, rel))
		}
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "-c", "read x; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exec sleep 30")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		for _, d := range dirs {
			err := os.Remove(d)
			for i := 0; i < 50 && err != nil; i++ {
				time.Sleep(20 * time.Millisecond)
				err = os.Remove(d)
			}
			if err != nil {
				t.Errorf("cgroup left behind: %v", err)
			}
		}
	})
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdin.Close() // start the busy loop inside the cgroup
	var s *Stats
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s, err = ReadStats(rel); err != nil {
			t.Fatal(err)
		}
		if s.CPUUsageNanos > 50_000_000 {
			break
		}
	}
	if s.CPUUsageNanos <= 50_000_000 {
		t.Errorf("CPU usage %d ns after a busy loop", s.CPUUsageNanos)
	}
	if s.MemoryUsage == 0 || s.MemoryWorkingSet == 0 || s.MemoryWorkingSet > s.MemoryUsage {
		t.Errorf("memory usage %d, working set %d", s.MemoryUsage, s.MemoryWorkingSet)
	}
	if s.Pids < 1 {
		t.Errorf("pids = %d", s.Pids)
	}
	if s.MemoryLimit != 0 {
		t.Errorf("limit %d on a cgroup without one", s.MemoryLimit)
	}
	if s.Time.IsZero() {
		t.Error("no timestamp")
	}
	if _, err := ReadStats("/crio-no-such-cgroup"); !IsNotExist(err) {
		t.Errorf("missing cgroup: %v, want not-exist", err)
	}
}

func TestReadIOParsesV2Stat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "io.stat")
	if err := os.WriteFile(p, []byte("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=0 rios=1 wios=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := readIOV2(p)
	if len(got) != 2 || got[0] != (DeviceIO{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, Reads: 1, Writes: 2}) || got[1].Major != 253 {
		t.Errorf("readIOV2 = %+v", got)
	}
}
