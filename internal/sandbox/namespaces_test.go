package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPinCreatesNamespacesAndReleaseRemovesThem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("pinning namespaces needs root")
	}
	dir := t.TempDir()
	p, err := Pin(PinOptions{Dir: dir, ID: "pod1", Net: true, IPC: true, UTS: true, Hostname: "podhost",
		Sysctls: []Sysctl{{Key: "net.ipv4.ip_unprivileged_port_start", Value: "80", Path: "net/ipv4/ip_unprivileged_port_start"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p.Net, p.IPC, p.UTS} {
		var st unix.Statfs_t
		if err := unix.Statfs(path, &st); err != nil || st.Type != unix.NSFS_MAGIC {
			t.Errorf("%s is not an nsfs mount (type %x, %v)", path, st.Type, err)
		}
	}
	// Enter the UTS and net namespaces and read back what Pin set.
	got := make(chan [2]string, 1)
	go func() {
		runtime.LockOSThread()
		for _, path := range []string{p.UTS, p.Net} {
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			if err != nil {
				got <- [2]string{err.Error()}
				return
			}
			if err := unix.Setns(fd, 0); err != nil {
				got <- [2]string{err.Error()}
				return
			}
			unix.Close(fd)
		}
		h, _ := os.Hostname()
		v, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
		got <- [2]string{h, string(v)}
	}()
	if r := <-got; r[0] != "podhost" || r[1] != "80\n" {
		t.Errorf("inside the pod: hostname %q, ip_unprivileged_port_start %q; want podhost, 80", r[0], r[1])
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "netns", "pod1")); !os.IsNotExist(err) {
		t.Errorf("netns pin still exists after Release: %v", err)
	}
}

func TestPinFailureLeavesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("pinning namespaces needs root")
	}
	dir := t.TempDir()
	_, err := Pin(PinOptions{Dir: dir, ID: "pod2", Net: true, IPC: true, UTS: true,
		Sysctls: []Sysctl{{Key: "kernel.msgmax", Value: "not-a-number", Path: "kernel/msgmax"}}})
	if err == nil {
		t.Fatal("Pin with a sysctl value the kernel refuses succeeded")
	}
	for _, d := range []string{"netns", "ipcns", "utsns"} {
		if _, err := os.Stat(filepath.Join(dir, d, "pod2")); !os.IsNotExist(err) {
			t.Errorf("%s pin left behind after a failed Pin", d)
		}
	}
}

func TestMissingNetSysctlIsDeferredThenRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("pinning namespaces needs root")
	}
	p, err := Pin(PinOptions{Dir: t.TempDir(), ID: "pod3", Net: true,
		Sysctls: []Sysctl{{Key: "net.ipv4.conf.eth0.forwarding", Value: "1", Path: "net/ipv4/conf/eth0/forwarding"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	if len(p.DeferredSysctls) != 1 {
		t.Fatalf("deferred %v; want the eth0 sysctl", p.DeferredSysctls)
	}
	var se *SysctlError
	if err := ApplyDeferredSysctls(p); !errors.As(err, &se) {
		t.Fatalf("applying a sysctl for an interface that never came: %v; want a SysctlError", err)
	}
}
