package e2e

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func TestVersionAndRuntimeConfig(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{})
	ctx := framework.Ctx(t)
	v, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if v.RuntimeName != "crio" || v.RuntimeApiVersion != "v1" || v.RuntimeVersion == "" {
		t.Errorf("Version = %+v", v)
	}
	rc, err := d.Runtime.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := runtimeapi.CgroupDriver_CGROUPFS
	if testDriver() == "systemd" {
		want = runtimeapi.CgroupDriver_SYSTEMD
	}
	if got := rc.GetLinux().GetCgroupDriver(); got != want {
		t.Errorf("cgroup driver = %v, want %v", got, want)
	}
}

func TestSocketIsCreatedWithMode0660InANewDirectory(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{NoStart: true})
	sock := filepath.Join(d.Dir, "nested", "dir", "crio.sock")
	d.Socket = sock
	d.Args = append(d.Args, "--listen", sock)
	d.Start()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("%s is not a socket: %v", sock, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm != 0o660 {
		t.Errorf("socket mode = %o, want 660", perm)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{NoStart: true})
	// A socket file nobody listens on, as a killed daemon leaves behind.
	l, err := net.Listen("unix", d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(d.Socket); err != nil {
		t.Fatalf("stale socket not in place: %v", err)
	}
	d.Start()
	if _, err := d.Runtime.Version(framework.Ctx(t), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("daemon on a formerly stale socket does not answer: %v", err)
	}
}

func TestLiveSocketIsNotTakenOver(t *testing.T) {
	first := framework.NewDaemon(t, framework.Options{})
	second := framework.NewDaemon(t, framework.Options{NoStart: true})
	out, err := exec.Command(framework.Binary(t), append(second.Args, "--listen", first.Socket)...).CombinedOutput()
	if err == nil {
		t.Fatalf("a second daemon started on a socket in use:\n%s", out)
	}
	if !strings.Contains(string(out), "in use") {
		t.Errorf("error does not say the socket is in use:\n%s", out)
	}
	if _, err := first.Runtime.Version(framework.Ctx(t), &runtimeapi.VersionRequest{}); err != nil {
		t.Errorf("first daemon stopped answering: %v", err)
	}
}

func conditions(t *testing.T, d *framework.Daemon) map[string]*runtimeapi.RuntimeCondition {
	t.Helper()
	st, err := d.Runtime.Status(framework.Ctx(t), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*runtimeapi.RuntimeCondition{}
	for _, c := range st.GetStatus().GetConditions() {
		out[c.Type] = c
	}
	return out
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStatusRuntimeReadyFollowsTheRuntimeBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "runc")
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, runc, bin, 0o755)
	d := framework.NewDaemon(t, framework.Options{Config: "\n[crio.runtime.runtimes.runc]\nruntime_path = \"" + bin + "\"\n"})

	c := conditions(t, d)[runtimeapi.RuntimeReady]
	if c == nil || !c.Status {
		t.Fatalf("RuntimeReady = %+v, want true", c)
	}
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	c = conditions(t, d)[runtimeapi.RuntimeReady]
	if c == nil || c.Status || c.Reason == "" || !strings.Contains(c.Message, bin) {
		t.Fatalf("with the runtime binary gone, RuntimeReady = %+v, want false naming %s", c, bin)
	}
	copyFile(t, runc, bin, 0o755)
	if c = conditions(t, d)[runtimeapi.RuntimeReady]; !c.Status {
		t.Errorf("RuntimeReady did not come back with the binary: %+v", c)
	}
}

func TestStatusNetworkReadyFollowsTheCNIConfigDir(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{NoCNI: true})
	waitCondition := func(want bool) *runtimeapi.RuntimeCondition {
		t.Helper()
		var c *runtimeapi.RuntimeCondition
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if c = conditions(t, d)[runtimeapi.NetworkReady]; c != nil && c.Status == want {
				return c
			}
		}
		t.Fatalf("NetworkReady never became %v: %+v", want, c)
		return nil
	}
	c := waitCondition(false)
	if c.Reason == "" || c.Message == "" {
		t.Errorf("a false NetworkReady must say why: %+v", c)
	}
	if rc := conditions(t, d)[runtimeapi.RuntimeReady]; rc == nil || !rc.Status {
		t.Errorf("RuntimeReady = %+v, want true", rc)
	}
	d.WriteCNIConfig("10-net.conflist", framework.LoopbackOnlyConflist("late"))
	waitCondition(true)
	if err := os.Remove(filepath.Join(d.CNIDir, "10-net.conflist")); err != nil {
		t.Fatal(err)
	}
	waitCondition(false)
}

// CheckpointPod and RestorePod, the last RPCs of cri-api v0.37 to be
// built, refuse an empty request as a bad one, not as Unimplemented
// (pod_checkpoint_test.go tests them).
func TestPodCheckpointRPCsRefuseEmptyRequests(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{})
	ctx := framework.Ctx(t)
	_, err := d.Runtime.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{PodSandboxId: "x"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("CheckpointPod of an unknown pod: %v, want NotFound", err)
	}
	_, err = d.Runtime.RestorePod(ctx, &runtimeapi.RestorePodRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("RestorePod without a config: %v, want InvalidArgument", err)
	}
	// The daemon keeps serving after them.
	if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatal(err)
	}
}

func statusConfig(t *testing.T, d *framework.Daemon) string {
	t.Helper()
	st, err := d.Runtime.Status(framework.Ctx(t), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	return st.Info["config"]
}

func TestSIGHUPReloadsTheReloadableKeys(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{})
	if cfg := statusConfig(t, d); !strings.Contains(cfg, `pause_image = "registry.k8s.io/pause:3.10"`) {
		t.Fatalf("unexpected starting config:\n%s", cfg)
	}
	d.WriteDropIn("50-reload.conf", `
[crio.image]
pause_image = "example.com/pause:reloaded"
pinned_images = ["example.com/keep*"]
[crio.api]
stream_port = "10999"
`)
	d.Signal(syscall.SIGHUP)
	if !d.WaitLog("crio.image.pause_image", 10*time.Second) {
		t.Fatalf("no reload logged:\n%s", d.LogTail(20))
	}
	cfg := statusConfig(t, d)
	for _, want := range []string{`"example.com/pause:reloaded"`, `"example.com/keep*"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config after reload lacks %s", want)
		}
	}
	if strings.Contains(cfg, `stream_port = "10999"`) {
		t.Error("stream_port is not reloadable but changed")
	}
	if !d.WaitLog("need a restart", 5*time.Second) || !strings.Contains(d.Log(), "crio.api.stream_port") {
		t.Errorf("restart-needed key not reported:\n%s", d.LogTail(20))
	}

	// A broken file on reload keeps the configuration in force.
	d.WriteDropIn("60-broken.conf", "[crio.image]\npause_image = 7\n")
	d.Signal(syscall.SIGHUP)
	if !d.WaitLog("reload failed", 10*time.Second) || !strings.Contains(d.Log(), "60-broken.conf") {
		t.Fatalf("broken reload not reported with the file's name:\n%s", d.LogTail(20))
	}
	if cfg := statusConfig(t, d); !strings.Contains(cfg, `"example.com/pause:reloaded"`) {
		t.Error("a failed reload changed the configuration")
	}
}

func TestStartupRefusesBadConfigAndMissingRuntime(t *testing.T) {
	cases := []struct {
		name, config string
		want         []string
	}{
		{"wrong type", "\n[crio.runtime]\nlog_level = 3\n", []string{"crio.conf", "log_level"}},
		{"impossible value", "\n[crio.runtime]\ncgroup_manager = \"upstart\"\n", []string{"crio.conf", "crio.runtime.cgroup_manager", "upstart"}},
		{"missing runtime", "\n[crio.runtime.runtimes.runc]\nruntime_path = \"/nonexistent/runc\"\n", []string{"/nonexistent/runc"}},
		{"missing conmon", "\n[crio.runtime]\nconmon = \"/nonexistent/conmon\"\n", []string{"/nonexistent/conmon"}},
		{"no cni plugins", "\n[crio.network]\nplugin_dirs = [\"/nonexistent/cni\"]\n", []string{"CNI plugin"}},
	}
	if !systemdBooted() {
		cases = append(cases, struct {
			name, config string
			want         []string
		}{"systemd driver without systemd", "\n[crio.runtime]\ncgroup_manager = \"systemd\"\n", []string{"cgroup_manager", "systemd"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := framework.NewDaemon(t, framework.Options{NoStart: true, Config: tc.config})
			cmd := exec.Command(framework.Binary(t), d.Args...)
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("daemon started despite a bad configuration")
			}
			if err == nil {
				t.Fatalf("exit status 0 with a bad configuration:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("error output does not mention %q:\n%s", w, out)
				}
			}
			if _, err := os.Stat(d.Socket); err == nil {
				t.Error("a daemon that refused to start left its socket behind")
			}
		})
	}
}

func TestConfigCommandOutputReadsBackUnchanged(t *testing.T) {
	dir := t.TempDir()
	dropins := filepath.Join(dir, "conf.d")
	if err := os.MkdirAll(dropins, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropins, "10-x.conf"), []byte("[crio.image]\npinned_images = [\"a\", \"b*\"]\n[crio.runtime.runtimes.crun]\nruntime_path = \"/usr/bin/crun\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := framework.Binary(t)
	first, err := exec.Command(bin, "--config", "", "--config-dir", dropins, "--log-level", "debug", "config").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[crio.runtime.runtimes.crun]", `runtime_path = "/usr/bin/crun"`, `"b*"`, `log_level = "debug"`, "# "} {
		if !strings.Contains(string(first), want) {
			t.Errorf("crio config output lacks %q", want)
		}
	}
	saved := filepath.Join(dir, "saved.conf")
	if err := os.WriteFile(saved, first, 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := exec.Command(bin, "--config", saved, "--config-dir", "", "config").CombinedOutput()
	if err != nil {
		t.Fatalf("crio --config of its own output: %v\n%s", err, second)
	}
	if string(first) != string(second) {
		t.Error("crio config output changed when read back with --config")
	}
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{})
	d.Signal(syscall.SIGTERM)
	st, err := d.Wait(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Success() {
		t.Errorf("exit status after SIGTERM: %v", st)
	}
	if !strings.Contains(d.Log(), "shutting down") {
		t.Error("shutdown not logged")
	}
}

func TestCrioStatusAsksTheRunningDaemon(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{})
	out, err := exec.Command(framework.Binary(t), "status", "info", "--socket", d.Socket).CombinedOutput()
	if err != nil {
		t.Fatalf("crio status info: %v\n%s", err, out)
	}
	for _, want := range []string{`"RuntimeReady"`, `"crio"`, "CGROUPFS"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("crio status info lacks %s:\n%s", want, out)
		}
	}
	out, err = exec.Command(framework.Binary(t), "status", "config", "--socket", d.Socket).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "listen = \""+d.Socket+"\"") {
		t.Errorf("crio status config: %v\n%s", err, out)
	}
}

func TestCrictlVersionAndInfo(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{})
	out, err := d.Crictl("version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RuntimeName:  crio", "RuntimeApiVersion:  v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("crictl version lacks %q:\n%s", want, out)
		}
	}
	out, err = d.Crictl("info")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"RuntimeReady"`, `"NetworkReady"`, `"config"`} {
		if !strings.Contains(out, want) {
			t.Errorf("crictl info lacks %s:\n%s", want, out)
		}
	}
}

func TestStatusReportsHandlersAndFeatures(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{})
	st, err := d.Runtime.Status(framework.Ctx(t), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*runtimeapi.RuntimeHandlerFeatures{}
	for _, h := range st.RuntimeHandlers {
		byName[h.Name] = h.Features
	}
	def, ok := byName[""]
	if !ok {
		t.Fatalf("no default handler (name \"\") in %v", st.RuntimeHandlers)
	}
	runc, ok := byName["runc"]
	if !ok || byName["crun"] == nil {
		t.Fatalf("configured handlers missing: %v", st.RuntimeHandlers)
	}
	if def.RecursiveReadOnlyMounts != runc.RecursiveReadOnlyMounts {
		t.Errorf("default handler features %v differ from runc's %v", def, runc)
	}
	// make install-deps installs runc 1.5.3, which has recursive read-only mounts.
	if !runc.RecursiveReadOnlyMounts {
		t.Error("runc handler does not report recursive read-only mounts")
	}
	if !st.GetFeatures().GetSupplementalGroupsPolicy() {
		t.Error("SupplementalGroupsPolicy not reported")
	}
}
