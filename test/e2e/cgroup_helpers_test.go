package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crio/crio/internal/cgroups"
)

// testDriver is the cgroup driver the tests' daemons run with:
// CRIO_CGROUP_MANAGER, else what the daemon detects (systemd where it is
// PID 1).
func testDriver() string { return cgroups.Driver(os.Getenv("CRIO_CGROUP_MANAGER")) }

// requireCgroupfs skips a test whose cgroup parents are cgroupfs paths;
// TestSystemdCgroupDriver is the systemd driver's.
func requireCgroupfs(t testing.TB) {
	t.Helper()
	if testDriver() != cgroups.Cgroupfs {
		t.Skip("cgroupfs parents; the daemons here run the systemd driver (see TestSystemdCgroupDriver)")
	}
}

// testPodParent is a cgroup parent of the test's own for a pod: a
// cgroupfs path, or under the systemd driver a slice started as the
// kubelet starts its pods' before RunPodSandbox, stopped when the test
// ends.
func testPodParent(t testing.TB, name string) string {
	t.Helper()
	n := time.Now().UnixNano() % 1_000_000_000
	if testDriver() != cgroups.Systemd {
		return fmt.Sprintf("/crio-e2e-%d/%s", n, name)
	}
	slice := fmt.Sprintf("crioe2e%d", n)
	t.Cleanup(func() { _ = exec.Command("systemctl", "stop", slice+".slice").Run() })
	pod := fmt.Sprintf("%s-%s.slice", slice, name)
	if out, err := exec.Command("systemctl", "start", pod).CombinedOutput(); err != nil {
		t.Fatalf("systemctl start %s: %v: %s", pod, err, out)
	}
	return pod
}

// cgroupDir is the cgroup rel (a path below a hierarchy's root, or a
// spec's systemd "slice:prefix:name") in the hierarchy that holds
// controller: the unified tree on a v2 host, the controller's own on v1.
func cgroupDir(t testing.TB, controller, rel string) string {
	t.Helper()
	p, err := cgroups.FSPath(rel)
	if err != nil {
		t.Fatal(err)
	}
	if cgroups.IsV2() {
		return filepath.Join(cgroups.Root, p)
	}
	return filepath.Join(cgroups.Root, controller, p)
}

// cgroupValue reads a control file of rel: v1name on a v1 host, v2name
// on a v2 host.
func cgroupValue(t testing.TB, controller, rel, v1name, v2name string) string {
	t.Helper()
	name := v1name
	if cgroups.IsV2() {
		name = v2name
	}
	b, err := os.ReadFile(filepath.Join(cgroupDir(t, controller, rel), name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// procCgroup is pid's cgroup holding controller, as /proc/PID/cgroup
// names it: the "0::" line on v2, the controller's line on v1.
func procCgroup(t testing.TB, pid int, controller string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if cgroups.IsV2() && f[0] == "0" && f[1] == "" {
			return f[2]
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				return f[2]
			}
		}
	}
	return ""
}

// parentPID is pid's parent: a container's conmon.
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
