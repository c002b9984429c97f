package testregistry

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// extract pulls repoAndTag from the shared registry and unpacks its
// flattened file system into a new directory. The images are our own, so
// the only guard needed is against names leaving the directory.
func extract(t *testing.T, repoAndTag string) (root string, env []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking an image with its owners and running it under chroot needs root")
	}
	img := pull(t, shared, repoAndTag)
	env = configOf(t, img).Config.Env
	root = t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	inside := func(n string) string {
		p := filepath.Join(root, filepath.Clean("/"+n))
		if !strings.HasPrefix(p, root+"/") && p != root {
			t.Fatalf("layer entry %q leaves the rootfs", n)
		}
		return p
	}
	type modeFix struct {
		path string
		mode os.FileMode
	}
	var fixes []modeFix
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s layers: %v", repoAndTag, err)
		}
		p := inside(h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		case tar.TypeLink:
			os.Remove(p)
			if err := os.Link(inside(h.Linkname), p); err != nil {
				t.Fatal(err)
			}
			continue
		case tar.TypeSymlink:
			os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				t.Fatal(err)
			}
			continue
		default:
			t.Fatalf("unexpected entry type %q for %s", h.Typeflag, h.Name)
		}
		fixes = append(fixes, modeFix{p, mode & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)})
	}
	for _, f := range fixes {
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return root, env
}

// run runs a command with the image's environment (its PATH also finds
// the host's tools) and returns its combined output, failing the test when
// the exit status differs from wantOK.
func run(t *testing.T, env []string, wantOK bool, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	out, err := cmd.CombinedOutput()
	if (err == nil) != wantOK {
		t.Fatalf("%s %q: err %v (want success %v), output:\n%s", name, args, err, wantOK, out)
	}
	return string(out)
}

// inContainer runs inner with /bin/sh in the rootfs under chroot, in new
// mount and PID namespaces (plus extra, e.g. "-n" or "-i") with /proc and
// /dev mounted, roughly as a container runtime would. hostPre runs on the
// host side inside the namespaces first.
func inContainer(t *testing.T, root string, env []string, extra []string, hostPre, inner string) string {
	t.Helper()
	args := append([]string{"-m", "-p", "-f", "--mount-proc=" + root + "/proc"}, extra...)
	args = append(args, "sh", "-c", hostPre+` mount --rbind /dev "$1/dev" && exec chroot "$1" /bin/sh -c "$2"`, "sh", root, inner)
	return run(t, env, true, "unshare", args...)
}

func TestBusyboxRootfsRunsUnderChroot(t *testing.T) {
	root, env := extract(t, BusyboxImage)
	out := run(t, env, true, "chroot", root, "/bin/sh", "-c", "ls / && pgrep --help; echo ok")
	for _, want := range []string{"bin", "etc", "tmp", "Usage: pgrep", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	fi, err := os.Stat(filepath.Join(root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp mode %v, want 1777", fi.Mode())
	}
	sh, err := os.Stat(filepath.Join(root, "bin/sh"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := os.Stat(filepath.Join(root, "bin/ls"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(sh, ls) {
		t.Error("/bin/sh and /bin/ls are not hard links of one busybox")
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"root:x:0:0:", "www-data:x:33:33:", "nobody:x:65534:65534:"} {
		if !strings.Contains(string(passwd), want) {
			t.Errorf("/etc/passwd lacks %q", want)
		}
	}
}

// critest masks /bin/ls with a bind mount of /dev/null and expects the
// shell to keep working while ls fails: that needs a busybox that execs
// its applets instead of running them in-process.
func TestBusyboxMaskedAppletFailsWithPermissionDenied(t *testing.T) {
	root, env := extract(t, BusyboxImage)
	// runc masks a file with a bind mount of /dev/null, as here.
	cmd := exec.Command("unshare", "-m", "sh", "-c", `mount --bind /dev/null "$1/bin/ls" && exec chroot "$1" /bin/sh -c ls`, "sh", root)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Errorf("sh -c ls with /bin/ls masked succeeded; stdout:\n%s", stdout.String())
	}
	// critest compares stderr exactly.
	if got, want := stderr.String(), "/bin/sh: ls: Permission denied\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if out := run(t, env, true, "chroot", root, "/bin/sh", "-c", "ls /bin/ls"); out != "/bin/ls\n" {
		t.Errorf("unmasked ls: %q", out)
	}
}

func TestBusyboxPgrepAndIpcsSeeTheirNamespaces(t *testing.T) {
	root, env := extract(t, BusyboxImage)
	// A new PID and IPC namespace with /proc mounted inside the rootfs:
	// the segment made there must show, and pgrep must find the sleep.
	out := inContainer(t, root, env, []string{"-i"}, "ipcmk -M 12345 >/dev/null &&",
		// The background sleep needs a moment to exec.
		"sleep 30 & i=0; while ! pgrep sleep >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "+
			"pgrep -l -x sleep; pgrep no-such-process; echo no-match=$?; ipcs -m; kill $!")
	if !regexp.MustCompile(`(?m)^[0-9]+ sleep$`).MatchString(out) {
		t.Errorf("pgrep -l -x sleep did not list the sleep:\n%s", out)
	}
	if !strings.Contains(out, "no-match=1") {
		t.Errorf("pgrep without a match did not exit 1:\n%s", out)
	}
	if !strings.Contains(out, "Shared Memory Segments") || !strings.Contains(out, "12345") {
		t.Errorf("ipcs -m did not list the namespace's 12345-byte segment:\n%s", out)
	}
}

// The server runs in the background of a shell in a fresh network
// namespace; the shell fetches http://127.0.0.1:PORT/ with busybox wget and
// prints what critest looks at.
func TestNginxServesAndLooksLikeNginx(t *testing.T) {
	for _, tc := range []struct {
		image string
		port  int
	}{{NginxImage, 80}, {HostNetNginxImage, 12003}} {
		t.Run(tc.image, func(t *testing.T) {
			root, env := extract(t, tc.image)
			inner := fmt.Sprintf("ip link set lo up; nginx -g 'daemon off;' & "+
				"i=0; while [ ! -f /var/run/nginx.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "+
				"p=$(cat /var/run/nginx.pid); echo pidfile=$p; echo pidof=$(pidof nginx); echo comm=$(cat /proc/$p/comm); "+
				"echo cmdline=$(tr '\\0' '|' < /proc/$p/cmdline); wget -qO- http://127.0.0.1:%d/; kill $p", tc.port)
			out := inContainer(t, root, env, []string{"-n"}, "", inner)
			var pid string
			for _, line := range strings.Split(out, "\n") {
				if v, ok := strings.CutPrefix(line, "pidfile="); ok {
					pid = v
				}
			}
			for _, want := range []string{
				"comm=nginx",
				"cmdline=nginx: master process nginx -g daemon off;|",
				"pidof=" + pid,
				"Welcome to nginx!",
			} {
				if pid == "" || !strings.Contains(out, want) {
					t.Errorf("want %q in:\n%s", want, out)
				}
			}
		})
	}
}

func TestHttpdServesItWorksAndLogsHttpd(t *testing.T) {
	root, env := extract(t, HttpdImage)
	inner := "ip link set lo up; cd /usr/local/apache2; httpd-foreground 2>/tmp/err & " +
		"i=0; while ! wget -qO- http://127.0.0.1/ 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; " +
		"echo stderr=$(cat /tmp/err); kill $!"
	out := inContainer(t, root, env, []string{"-n"}, "", inner)
	if !strings.Contains(out, "It works!") {
		t.Errorf("httpd did not serve \"It works!\":\n%s", out)
	}
	if !strings.Contains(out, "stderr=") || !strings.Contains(out[strings.Index(out, "stderr="):], "httpd") {
		t.Errorf("httpd wrote no line containing \"httpd\" to stderr:\n%s", out)
	}
}

func TestNoNewPrivsEntrypointReportsEffectiveUID(t *testing.T) {
	root, env := extract(t, NoNewPrivsImage)
	fi, err := os.Stat(filepath.Join(root, "usr/local/bin/nnp"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid == 0 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatalf("nnp is %v uid %d, want setuid root", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
	if out := run(t, env, true, "chroot", "--userspec=1000:1000", root, "/usr/local/bin/nnp"); out != "Effective uid: 0\n" {
		t.Errorf("without no_new_privs: %q, want \"Effective uid: 0\\n\"", out)
	}
	if out := run(t, env, true, "setpriv", "--no-new-privs", "chroot", "--userspec=1000:1000", root, "/usr/local/bin/nnp"); out != "Effective uid: 1000\n" {
		t.Errorf("with no_new_privs: %q, want \"Effective uid: 1000\\n\"", out)
	}
}

func TestPauseExitsZeroOnSIGTERM(t *testing.T) {
	root, _ := extract(t, PauseImage)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		// As in a pod: PID 1 of its own PID namespace, where only signals
		// with a handler are delivered, running as the image's user.
		cmd := exec.Command("unshare", "-p", "-f", "chroot", "--userspec=65535:65535", root, "/pause")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- cmd.Wait() }()
		pause := waitForChild(t, cmd.Process.Pid)
		// chroot execs /pause in place: wait until pause has installed its
		// handler, or PID 1 would drop the signal.
		waitForHandler(t, pause, sig)
		if err := syscall.Kill(pause, sig); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("pause after %v: %v, want exit 0", sig, err)
			}
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(pause, syscall.SIGKILL)
			t.Fatalf("pause ignored %v", sig)
		}
	}
}

// waitForHandler waits until process pid catches sig (SigCgt in
// /proc/PID/status).
func waitForHandler(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	for range 1000 {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				if mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && mask&(1<<(uint(sig)-1)) != 0 {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d never caught %v", pid, sig)
}

// waitForChild returns the first child of pid.
func waitForChild(t *testing.T, pid int) int {
	t.Helper()
	for range 500 {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		var child int
		if _, err := fmt.Sscan(string(data), &child); err == nil {
			return child
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d has no child", pid)
	return 0
}

func TestPredefinedGroupImageDefinesUserAndGroup(t *testing.T) {
	root, env := extract(t, "k8s-staging-cri-tools/test-image-predefined-group:latest")
	out := run(t, env, true, "chroot", root, "/bin/sh", "-c", "id default-user; grep group-defined-in-image /etc/group")
	for _, want := range []string{"uid=1000(default-user)", "50000(group-defined-in-image)", "group-defined-in-image:x:50000:default-user"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
}
