package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/leakcheck"
	"github.com/crio/crio/test/framework"
)

// crioCheck runs `crio check` on the daemon's configuration and returns
// the leaks it reports. It fails the test when the command fails other
// than by finding leaks.
func crioCheck(t testing.TB, d *framework.Daemon, cgroupParents ...string) []leakcheck.Leak {
	t.Helper()
	args := []string{"--config", d.Config, "--config-dir", d.DropIns, "check", "--json"}
	for _, p := range cgroupParents {
		args = append(args, "--cgroup-parent", p)
	}
	cmd := exec.Command(framework.Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var leaks []leakcheck.Leak
	if jerr := json.Unmarshal(out.Bytes(), &leaks); jerr != nil {
		t.Fatalf("crio check: %v: %s %s", err, out.String(), errb.String())
	}
	if (err == nil) != (len(leaks) == 0) {
		t.Errorf("crio check exited with %v and reported %d leaks; want a non-zero exit exactly when there are leaks", err, len(leaks))
	}
	return leaks
}

// assertNoLeaks fails the test with the leaks crio check finds.
func assertNoLeaks(t testing.TB, d *framework.Daemon, what string, cgroupParents ...string) {
	t.Helper()
	if leaks := crioCheck(t, d, cgroupParents...); len(leaks) > 0 {
		var b strings.Builder
		for _, l := range leaks {
			fmt.Fprintf(&b, "\n  %s", l)
		}
		t.Errorf("%s: crio check finds leaks:%s", what, b.String())
	}
}

// removeAllPods stops and removes every pod except those in keep, with
// their containers, retrying a few times: right after a restart a pod
// may still be settling.
func removeAllPods(t testing.TB, d *framework.Daemon, keep map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatalf("ListPodSandbox: %v", err)
	}
	// In parallel, as the kubelet's pod workers do.
	var wg sync.WaitGroup
	for _, p := range pods.Items {
		if keep[p.Id] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				t.Errorf("StopPodSandbox %s after restart: %v", p.Id, err)
			}
			if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				t.Errorf("RemovePodSandbox %s after restart: %v", p.Id, err)
			}
		}()
	}
	wg.Wait()
	ctrs, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	for _, c := range ctrs.Containers {
		if !keep[c.PodSandboxId] {
			t.Errorf("container %s of removed pod %s is still listed", c.Id, c.PodSandboxId)
		}
	}
}

// conmonOf finds the conmon process of a container by its command line.
func conmonOf(t testing.TB, id string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if strings.HasSuffix(args[0], "conmon") && strings.Contains(string(b), "\x00-c\x00"+id+"\x00") {
			return pid
		}
	}
	t.Fatalf("no conmon process for container %s", id)
	return 0
}

// alive says whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}
