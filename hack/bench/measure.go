package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mem is a process's resident and proportional set size in KiB.
type mem struct{ rss, pss float64 }

// memOf reads /proc/PID/smaps_rollup.
func memOf(pid int) (mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return mem{}, err
	}
	defer f.Close()
	var m mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fs[1], 64)
		switch fs[0] {
		case "Rss:":
			m.rss = v
		case "Pss:":
			m.pss = v
		}
	}
	return m, sc.Err()
}

// memSum adds up the memory of pids.
func memSum(pids []int) mem {
	var t mem
	for _, p := range pids {
		if m, err := memOf(p); err == nil {
			t.rss += m.rss
			t.pss += m.pss
		}
	}
	return t
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s)-1) + 0.5)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// execRE matches a successful execve in strace's output.
var execRE = regexp.MustCompile(`execve\("([^"]+)"`)

// traceSpawns attaches strace to pid (following every child) while fn
// runs, and returns the programs executed, by base name, with counts.
func traceSpawns(dir string, pid int, fn func() error) (map[string]int, int, error) {
	out := filepath.Join(dir, fmt.Sprintf("strace-%d.txt", pid))
	// Besides execve, the syscalls that wait (for a child, the disk, a
	// mount) are timed (-T -tt), to read where a slow operation waits.
	cmd := exec.Command("strace", "-f", "-qq", "-z", "-T", "-tt", "-e", "trace=execve,fsync,fdatasync,syncfs,mount,umount2,wait4,waitid,renameat,renameat2,unlinkat", "-e", "signal=none", "-o", out, "-p", strconv.Itoa(pid))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("strace: %w", err)
	}
	// strace attaches to every thread before it prints anything; give it
	// time to.
	time.Sleep(time.Second)
	ferr := fn()
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if ferr != nil {
		return nil, 0, ferr
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, 0, fmt.Errorf("strace output: %w (%s)", err, stderr.String())
	}
	counts := map[string]int{}
	total := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "execve(") || strings.Contains(line, "= -1") {
			continue
		}
		m := execRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		base := filepath.Base(m[1])
		// runc re-executes itself as "runc init" through /proc/self/exe
		// or a memfd: name it.
		if strings.HasPrefix(m[1], "/proc/self/") || strings.HasPrefix(m[1], "/proc/") || base == "exe" {
			if strings.Contains(line, `"init"`) {
				base = "runc init"
			}
		}
		if strings.Contains(line, `"pause"`) && !strings.Contains(base, "pause") {
			base += " pause"
		}
		counts[base]++
		total++
	}
	return counts, total, nil
}

// fetchPprof saves one of crio's /debug/pprof profiles from its metrics
// socket.
func fetchPprof(ctx context.Context, sock, path, dst string) error {
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://crio"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
