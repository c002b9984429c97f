package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/test/framework"
)

// hostileMemoryBound is how much the daemon's peak resident memory
// (VmHWM) may grow during one hostile case. It is below the 100 MiB of
// the big manifest and config, so a daemon that read either whole (let
// alone io.ReadAll's doubling to 128 MiB or more) fails, and far above
// what the capped reads cost: go.podman.io/image reads at most 4 MiB of a
// manifest or config, the daemon at most 4 MiB of /etc/passwd, and their
// parsing stays within a few times that. Measured growths are logged.
const hostileMemoryBound = 64 << 20

// vmHWM is the peak resident set of pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// wantStatus fails unless err is a gRPC error of code whose message holds
// every one of parts.
func wantStatus(t *testing.T, what string, err error, code codes.Code, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded; want %s naming %q", what, code, parts)
		return
	}
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Errorf("%s: %s %q; want code %s", what, st.Code(), st.Message(), code)
	}
	for _, p := range parts {
		if !strings.Contains(st.Message(), p) {
			t.Errorf("%s: message %q does not name %q", what, st.Message(), p)
		}
	}
	t.Logf("%s: %s: %s", what, st.Code(), st.Message())
}

// hostileEnv is the daemon, the pod and the sentinels of the hostile tests.
type hostileEnv struct {
	d     *framework.Daemon
	podID string
	pc    *runtimeapi.PodSandboxConfig
}

func hostileRef(c string) string { return "docker.io/" + testregistry.HostilePrefix + c + ":latest" }

// layerDirs lists the layer directories of the daemon's overlay storage.
func (e *hostileEnv) layerDirs(t *testing.T) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.d.Dir, "root", "overlay"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, en := range ents {
		if en.Name() != "l" {
			out[en.Name()] = true
		}
	}
	return out
}

// runToExit runs a container of image with cmd (nil: the image's) and
// returns its exit code and log lines.
func (e *hostileEnv) runToExit(t *testing.T, name, image string, cmd []string, opts ...func(*runtimeapi.ContainerConfig)) (int32, []string) {
	t.Helper()
	c := ctrConfig(name, cmd, append([]func(*runtimeapi.ContainerConfig){func(c *runtimeapi.ContainerConfig) {
		c.Image = &runtimeapi.ImageSpec{Image: image}
	}}, opts...)...)
	id := run(t, e.d, e.podID, e.pc, c)
	st := waitExited(t, e.d, id, 30*time.Second)
	lines := logText(t, filepath.Join(e.pc.LogDirectory, name+".log"))
	if _, err := e.d.Runtime.RemoveContainer(framework.Ctx(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Errorf("RemoveContainer: %v", err)
	}
	return st.ExitCode, lines
}

func (e *hostileEnv) create(t *testing.T, name, image string, opts ...func(*runtimeapi.ContainerConfig)) (string, error) {
	c := ctrConfig(name, nil, append([]func(*runtimeapi.ContainerConfig){func(c *runtimeapi.ContainerConfig) {
		c.Image = &runtimeapi.ImageSpec{Image: image}
	}}, opts...)...)
	resp, err := e.d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.podID, Config: c, SandboxConfig: e.pc})
	if err != nil {
		return "", err
	}
	return resp.ContainerId, nil
}

func asUser(uid int64) func(*runtimeapi.ContainerConfig) {
	return func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: uid}
	}
}

// TestHostileImages pulls each of hack/testregistry's hostile images into
// one daemon and, where the pull succeeds, creates and runs containers
// from it. Each case must end in a clear gRPC error (its code, and a
// message naming the problem) or a safe result; nothing may be written
// outside the daemon's storage (sentinels next to the storage root and in
// testregistry.HostileHostDir, which the images' `../` paths and
// symlinks reach if followed on the host); the daemon's peak memory may
// grow by at most hostileMemoryBound per case; and the daemon must still
// answer after each case.
func TestHostileImages(t *testing.T) {
	requireRoot(t)
	reg := sharedRegistry(t)
	start := time.Now()
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	pid := d.PID()

	// What the symlink image points at on the host: a passwd that knows
	// "hostile" (uid 4242), and an executable /hostbin/hostile-cmd. A
	// daemon that followed the symlinks on the host would find them.
	host := testregistry.HostileHostDir
	if err := os.RemoveAll(host); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(host, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(host) })
	if err := os.WriteFile(filepath.Join(host, "passwd"), []byte("root:x:0:0::/:/bin/sh\nhostile:x:4242:4242::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "bin", "hostile-cmd"), []byte("#!/bin/sh\necho host-binary-ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The hard link's target, next to the storage root (d.Dir/root).
	target := filepath.Join(d.Dir, "hostile-target")
	if err := os.WriteFile(target, []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nlink := func(p string) uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return uint64(st.Nlink)
	}
	hostPasswdLinks := nlink("/etc/passwd")

	pc := podConfig("hostile")
	pc.LogDirectory = filepath.Join(d.Dir, "podlogs", "hostile")
	e := &hostileEnv{d: d, podID: runPod(t, d, pc), pc: pc}

	pull := func(t *testing.T, c string) (string, error) {
		t.Helper()
		resp, err := d.Image.PullImage(framework.Ctx(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: hostileRef(c)}})
		if err != nil {
			return "", err
		}
		return resp.ImageRef, nil
	}
	mustPull := func(t *testing.T, c string) string {
		t.Helper()
		id, err := pull(t, c)
		if err != nil {
			t.Fatalf("PullImage(%s): %v", c, err)
		}
		return id
	}
	// refused: the pull fails with code and parts, leaving no layer.
	refused := func(code codes.Code, parts ...string) func(t *testing.T, c string) {
		return func(t *testing.T, c string) {
			before := e.layerDirs(t)
			_, err := pull(t, c)
			wantStatus(t, "PullImage("+c+")", err, code, parts...)
			for l := range e.layerDirs(t) {
				if !before[l] {
					t.Errorf("the failed pull left layer directory %s", l)
				}
			}
			if s := imageStatus(t, d, hostileRef(c), false); s.Image != nil {
				t.Errorf("ImageStatus after the failed pull = %v; want none", s.Image.Id)
			}
		}
	}

	cases := []struct {
		name string
		run  func(t *testing.T, c string)
	}{
		{testregistry.HostileDotDot, func(t *testing.T, c string) {
			// Layers are unpacked with every name resolved inside the
			// layer (as in storage's chrooted child): "../" stops at the
			// layer's root, and the file lands inside it.
			mustPull(t, c)
			code, lines := e.runToExit(t, "dotdot", hostileRef(c), []string{"cat", "/hostile-escape/dotdot"})
			if code != 0 || strings.Join(lines, "|") != "escaped" {
				t.Errorf("cat /hostile-escape/dotdot in the container: exit %d, log %q; want the file inside the rootfs", code, lines)
			}
		}},
		{testregistry.HostileSymlink, func(t *testing.T, c string) {
			ref := hostileRef(c)
			mustPull(t, c)
			// USER: /etc/passwd -> HostileHostDir/passwd resolves inside
			// the rootfs, where it does not exist.
			_, err := e.create(t, "symlink-user", ref)
			wantStatus(t, "CreateContainer (USER hostile, /etc/passwd an absolute symlink)", err, codes.InvalidArgument, `"hostile" not found`)
			// The command check: /hostbin -> HostileHostDir/bin.
			_, err = e.create(t, "symlink-cmd", ref, asUser(0), func(c *runtimeapi.ContainerConfig) { c.Command = []string{"/hostbin/hostile-cmd"} })
			wantStatus(t, "CreateContainer (command through an absolute symlink)", err, codes.InvalidArgument, "/hostbin/hostile-cmd", "not found")
			// Volume creation (VOLUME /vol/data, /vol -> HostileHostDir/vol)
			// and the working directory (/wd/sub, /wd -> HostileHostDir/wd):
			// made inside the rootfs.
			// Inside the container the kernel resolves /wd to the same path
			// under its own root, where the files land.
			code, lines := e.runToExit(t, "symlink-dirs", ref, []string{"sh", "-c", "pwd; touch cwd-file /vol/data/vol-file && ls " + host + "/wd/sub " + host + "/vol/data"}, asUser(0))
			if got := strings.Join(lines, "|"); code != 0 || len(lines) == 0 || lines[0] != host+"/wd/sub" || !strings.Contains(got, "|cwd-file") || !strings.Contains(got, "|vol-file") {
				t.Errorf("container in /wd/sub writing to /vol/data: exit %d, log %q; want 0, cwd %s/wd/sub of its rootfs, both files there", code, lines, host)
			}
			for _, p := range []string{"wd", "vol"} {
				if _, err := os.Lstat(filepath.Join(host, p)); err == nil {
					t.Errorf("%s was created on the host, through the image's absolute symlink", filepath.Join(host, p))
				}
			}
		}},
		{testregistry.HostileHardlinkDotDot, refused(codes.FailedPrecondition, `hard link "evil-link" -> "../../../../hostile-target"`, "not a file of the layer")},
		{testregistry.HostileHardlinkAbs, func(t *testing.T, c string) {
			// Resolved inside the layer, which has no etc/passwd.
			refused(codes.FailedPrecondition, `hard link "evil-passwd" -> "/etc/passwd"`, "not a file of the layer")(t, c)
			if n := nlink("/etc/passwd"); n != hostPasswdLinks {
				t.Errorf("the host's /etc/passwd has %d links, had %d", n, hostPasswdLinks)
			}
		}},
		{testregistry.HostileDevices, func(t *testing.T, c string) {
			// Rootful storage creates device nodes as go.podman.io/storage
			// (and so CRI-O) does; the device cgroup (deny all but the
			// standard devices) makes them useless to the container.
			mustPull(t, c)
			code, lines := e.runToExit(t, "devices", hostileRef(c), []string{"sh", "-c",
				"stat -c '%F %t:%T' /hostile-mem /hostile-disk; head -c1 /hostile-mem >/dev/null 2>&1 && echo mem-readable; head -c1 /hostile-disk >/dev/null 2>&1 && echo disk-readable; echo done"})
			want := []string{"character special file 1:1", "block special file 8:0", "done"}
			if code != 0 || strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Errorf("devices container: exit %d, log %q; want %q (nodes present, neither readable)", code, lines, want)
			}
		}},
		{testregistry.HostileSetuid, func(t *testing.T, c string) {
			// Storage keeps setuid and setgid bits (as for nonewprivs, which
			// the CRI validation suite needs); no_new_privs stops them.
			mustPull(t, c)
			ref := hostileRef(c)
			code, lines := e.runToExit(t, "setuid-nnp", ref, []string{"sh", "-c", "stat -c %a /hostile-suid /hostile-sgid; /usr/local/bin/nnp"},
				asUser(1000), func(c *runtimeapi.ContainerConfig) { c.Linux.SecurityContext.NoNewPrivs = true })
			if want := []string{"4777", "2755", "Effective uid: 1000"}; code != 0 || strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Errorf("with no_new_privs: exit %d, log %q; want %q", code, lines, want)
			}
			_, lines = e.runToExit(t, "setuid-privs", ref, []string{"/usr/local/bin/nnp"}, asUser(1000))
			if want := []string{"Effective uid: 0"}; strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Errorf("without no_new_privs: log %q; want %q (the setuid bit kept)", lines, want)
			}
		}},
		{testregistry.HostileSparse, func(t *testing.T, c string) {
			// Storage writes the hole out: the file has its full size.
			mustPull(t, c)
			code, lines := e.runToExit(t, "sparse", hostileRef(c), []string{"sh", "-c", "stat -c %s /hostile-sparse; tail -c 512 /hostile-sparse | head -n1"})
			if want := []string{strconv.Itoa(testregistry.HostileSparseSize), "HOSTILE-END"}; code != 0 || strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Errorf("sparse container: exit %d, log %q; want %q", code, lines, want)
			}
		}},
		{testregistry.HostileSparseGNU, refused(codes.FailedPrecondition, `member "hostile-sparse" has tar type 'S'`, "unhandled tar header type 83")},
		{testregistry.HostileBigManifest, refused(codes.FailedPrecondition, "reading manifest body", "exceeded maximum allowed size of 4194304 bytes")},
		{testregistry.HostileBigConfig, refused(codes.FailedPrecondition, "config", strconv.Itoa(testregistry.HostileBigSize), "4194304")},
		{testregistry.HostilePasswdLines, func(t *testing.T, c string) {
			mustPull(t, c)
			_, err := e.create(t, "passwd-lines", hostileRef(c))
			wantStatus(t, "CreateContainer (a 1,000,000-line /etc/passwd)", err, codes.InvalidArgument, "/etc/passwd", "larger than 4194304 bytes")
		}},
		{testregistry.HostilePasswdLongLine, func(t *testing.T, c string) {
			mustPull(t, c)
			_, err := e.create(t, "passwd-longline", hostileRef(c))
			wantStatus(t, "CreateContainer (a 1 MiB line in /etc/passwd)", err, codes.InvalidArgument, "/etc/passwd", "line longer than")
		}},
		{testregistry.HostileUserMissing, func(t *testing.T, c string) {
			mustPull(t, c)
			_, err := e.create(t, "user-missing", hostileRef(c))
			wantStatus(t, "CreateContainer (USER nosuchuser)", err, codes.InvalidArgument, `"nosuchuser" not found in the image's /etc/passwd`)
		}},
		{testregistry.HostileEntrypointLoop, func(t *testing.T, c string) {
			mustPull(t, c)
			done := make(chan error, 1)
			go func() { _, err := e.create(t, "entrypoint-loop", hostileRef(c)); done <- err }()
			select {
			case err := <-done:
				wantStatus(t, "CreateContainer (entrypoint a symlink loop)", err, codes.InvalidArgument, "/loop-a", "symbolic links")
			case <-time.After(20 * time.Second):
				t.Fatal("CreateContainer with a symlink-loop entrypoint hangs")
			}
		}},
		{testregistry.HostileEnv, refused(codes.FailedPrecondition, "Env has 100001 entries, more than 4096")},
		{testregistry.HostileWrongDigest, refused(codes.FailedPrecondition, "does not match its digest")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			caseStart := time.Now()
			before := vmHWM(t, pid)
			tc.run(t, tc.name)
			after := vmHWM(t, pid)
			t.Logf("%s: VmHWM %d -> %d KiB in %v", tc.name, before>>10, after>>10, time.Since(caseStart).Round(time.Millisecond))
			if after-before > hostileMemoryBound {
				t.Errorf("the daemon's peak memory grew by %d MiB; want at most %d MiB", (after-before)>>20, hostileMemoryBound>>20)
			}
			if _, err := d.Runtime.Version(framework.Ctx(t), &runtimeapi.VersionRequest{}); err != nil {
				t.Fatalf("the daemon no longer answers Version: %v", err)
			}
			// Nothing next to the storage root (where ../ leads) or in
			// the host directory the symlinks point to, but what the test put.
			for _, p := range []string{filepath.Join(d.Dir, "hostile-escape"), filepath.Join(host, "wd"), filepath.Join(host, "vol")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s exists: written outside the daemon's storage", p)
				}
			}
			if n := nlink(target); n != 1 {
				t.Errorf("%s has %d links: linked from the image", target, n)
			}
		})
	}
	// Pull temp files are all gone.
	if ents, _ := os.ReadDir(filepath.Join(d.Dir, "root", "tmp")); len(ents) != 0 {
		t.Errorf("pull temp files left in %s: %v", filepath.Join(d.Dir, "root", "tmp"), ents)
	}
	t.Logf("hostile images: %v", time.Since(start).Round(time.Millisecond))
}
