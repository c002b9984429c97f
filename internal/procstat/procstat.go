// Package procstat reads processes from /proc: which there are, and what
// identifies one for good (its start time, which with the pid tells it
// from a later process that reused the pid).
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PIDs lists the processes in /proc.
func PIDs() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	pids := make([]int, 0, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Fields reads /proc/PID/stat from field 3 (state) on: f[0] is the state,
// f[2] the process group, f[19] the start time.
func Fields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	// The command name (field 2) may hold spaces and parentheses: skip
	// past the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return f, nil
}

// StartTime reads a process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat). A zombie is an error: it has exited.
func StartTime(pid int) (uint64, error) {
	f, err := Fields(pid)
	if err != nil {
		return 0, err
	}
	if f[0] == "Z" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Alive reports whether pid runs and is the process that started at
// startTime, not a later one that reused the pid (0 skips that check). A
// zombie has exited.
func Alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := StartTime(pid)
	return err == nil && (startTime == 0 || st == startTime)
}
