package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// keysConfig makes "keys" the default handler (runc), with the handler
// keys given, and "closed", a runc handler with none.
func keysConfig(t *testing.T, runtimeKeys, handlerKeys string) string {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc not found")
	}
	return fmt.Sprintf("[crio.runtime]\ndefault_runtime = \"keys\"\n%s\n[crio.runtime.runtimes.keys]\nruntime_path = %q\n%s\n[crio.runtime.runtimes.closed]\nruntime_path = %q\n",
		runtimeKeys, runc, handlerKeys, runc)
}

// createErr is CreateContainer in e's pod of a busybox container running
// sleep, returning the error.
func (e *execEnv) createErr(t *testing.T, name string, opts ...func(*runtimeapi.ContainerConfig)) error {
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: e.image},
		Command:  []string{"sleep", "600"},
	}
	for _, o := range opts {
		o(cfg)
	}
	_, err := e.d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, Config: cfg, SandboxConfig: e.podCf})
	return err
}

func (e *execEnv) containerCount(t *testing.T) int {
	t.Helper()
	resp, err := e.d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: e.pod}})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Containers)
}

// usePod replaces e's pod with one made from pc on handler.
func (e *execEnv) usePod(t *testing.T, pc *runtimeapi.PodSandboxConfig, handler string) {
	t.Helper()
	pc.LogDirectory = filepath.Join(e.d.Dir, "podlogs")
	e.podCf, e.pod = pc, runPodWithHandler(t, e.d, pc, handler)
}

func TestContainerMinMemoryRefusesALowerLimitAsInvalidArgument(t *testing.T) {
	e := newExecEnvConfig(t, keysConfig(t, "", `container_min_memory = "64MiB"`))
	mem := func(n int64) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) {
			c.Linux = &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: n}}
		}
	}
	err := e.createErr(t, "small", mem(32<<20))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "container_min_memory") {
		t.Fatalf("a 32MiB limit under container_min_memory = 64MiB: %v; want InvalidArgument naming the key", err)
	}
	if n := e.containerCount(t); n != 0 {
		t.Errorf("the refused request left %d containers", n)
	}
	for _, n := range []int64{0, 64 << 20} {
		if err := e.createErr(t, fmt.Sprintf("ok%d", n), mem(n)); err != nil {
			t.Errorf("memory limit %d: %v", n, err)
		}
	}
}

func TestDefaultAnnotationsReachThePodAndItsContainersSpecs(t *testing.T) {
	e := newExecEnvConfig(t, keysConfig(t, "", `default_annotations = {"io.example/default" = "handler", "io.example/pod" = "handler", "io.example/ctr" = "handler"}`))
	e.usePod(t, podConfig("annotated", func(c *runtimeapi.PodSandboxConfig) {
		c.Annotations = map[string]string{"io.example/pod": "pod"}
	}), "keys")
	st, _ := podStatus(t, e.d, e.pod)
	if st.Annotations["io.example/default"] != "handler" || st.Annotations["io.example/pod"] != "pod" {
		t.Errorf("pod annotations %v; want io.example/default=handler and the pod's own io.example/pod=pod", st.Annotations)
	}
	id := e.container(t, []string{"sleep", "600"}, func(c *runtimeapi.ContainerConfig) {
		c.Annotations = map[string]string{"io.example/ctr": "ctr"}
	})
	var info struct {
		RuntimeSpec struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"runtimeSpec"`
	}
	if err := json.Unmarshal([]byte(ctrStatus(t, e.d, id).Info["info"]), &info); err != nil {
		t.Fatal(err)
	}
	a := info.RuntimeSpec.Annotations
	if a["io.example/default"] != "handler" || a["io.example/pod"] != "pod" || a["io.example/ctr"] != "ctr" {
		t.Errorf("container spec annotations %v; want default=handler, pod=pod (the pod's), ctr=ctr (the container's)", a)
	}
}

func TestDevicesAnnotationGivesAllowedDevicesWhereTheHandlerAllowsIt(t *testing.T) {
	e := newExecEnvConfig(t, keysConfig(t, `allowed_devices = ["/dev/zero"]`, `allowed_annotations = ["io.kubernetes.cri-o.Devices"]`))
	withDevices := func(v string) *runtimeapi.PodSandboxConfig {
		return podConfig("devs", func(c *runtimeapi.PodSandboxConfig) {
			c.Metadata.Name = fmt.Sprintf("devs-%d", time.Now().UnixNano())
			c.Annotations = map[string]string{"io.kubernetes.cri-o.Devices": v}
		})
	}
	e.usePod(t, withDevices("/dev/zero:/dev/pod-zero:rw"), "keys")
	id := e.container(t, []string{"sleep", "600"})
	if r, err := execSync(t, e, id, 10, "sh", "-c", "test -c /dev/pod-zero && head -c 4 /dev/pod-zero | wc -c"); err != nil || strings.TrimSpace(string(r.Stdout)) != "4" {
		t.Errorf("reading /dev/pod-zero: %v %q %q; want 4 bytes", err, r.GetStdout(), r.GetStderr())
	}

	e.usePod(t, withDevices("/dev/kmsg"), "keys")
	err := e.createErr(t, "kmsg")
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "io.kubernetes.cri-o.Devices") || !strings.Contains(err.Error(), "allowed_devices") {
		t.Errorf("/dev/kmsg, not in allowed_devices: %v; want InvalidArgument naming the annotation and allowed_devices", err)
	}
	if n := e.containerCount(t); n != 0 {
		t.Errorf("the refused request left %d containers", n)
	}

	// A handler that does not allow the annotation ignores it.
	e.usePod(t, withDevices("/dev/zero:/dev/pod-zero:rw"), "closed")
	id = e.container(t, []string{"sleep", "600"})
	if r, err := execSync(t, e, id, 10, "test", "-e", "/dev/pod-zero"); err != nil || r.ExitCode == 0 {
		t.Errorf("a handler without the annotation in allowed_annotations gave the device (%v)", err)
	}
}

func TestAdditionalDevicesAreInEveryContainer(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	// /dev/fuse, which the default device cgroup does not allow (unlike
	// /dev/zero), so that "r" alone is what lets it be opened.
	e := newExecEnvConfig(t, "[crio.runtime]\nadditional_devices = [\"/dev/fuse:/dev/extra-fuse:r\"]\n")
	id := e.container(t, []string{"sleep", "600"})
	if r, err := execSync(t, e, id, 10, "sh", "-c", "test -c /dev/extra-fuse && exec 3< /dev/extra-fuse"); err != nil || r.ExitCode != 0 {
		t.Errorf("opening /dev/extra-fuse for reading: %v %q %q", err, r.GetStdout(), r.GetStderr())
	}
	if r, err := execSync(t, e, id, 10, "sh", "-c", "exec 3> /dev/extra-fuse"); err != nil || r.ExitCode == 0 {
		t.Errorf("/dev/extra-fuse given \"r\" opens for writing (%v)", err)
	}
}

func TestDefaultMountsFileCopiesIntoEveryContainer(t *testing.T) {
	host := t.TempDir()
	secrets := filepath.Join(host, "secrets")
	if err := os.MkdirAll(secrets, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(secrets, "token"), []byte("s3cret"), 0o600)
	conf := filepath.Join(host, "mounts.conf")
	os.WriteFile(conf, []byte("# test\n"+secrets+":/run/secrets\n"+filepath.Join(host, "absent")+":/absent\n"), 0o644)
	e := newExecEnvConfig(t, fmt.Sprintf("[crio.runtime]\ndefault_mounts_file = %q\n", conf))
	id := e.container(t, []string{"sleep", "600"})
	r, err := execSync(t, e, id, 10, "cat", "/run/secrets/token")
	if err != nil || string(r.Stdout) != "s3cret" {
		t.Fatalf("cat /run/secrets/token: %v %q %q; want s3cret", err, r.GetStdout(), r.GetStderr())
	}
	// The container writes its copy, never the host's file.
	if r, err := execSync(t, e, id, 10, "sh", "-c", "echo changed > /run/secrets/token"); err != nil || r.ExitCode != 0 {
		t.Errorf("writing the copy: %v %q", err, r.GetStderr())
	}
	if b, _ := os.ReadFile(filepath.Join(secrets, "token")); string(b) != "s3cret" {
		t.Errorf("the host's token became %q", b)
	}
	if r, err := execSync(t, e, id, 10, "test", "-e", "/absent"); err != nil || r.ExitCode == 0 {
		t.Errorf("a host path that does not exist was mounted (%v)", err)
	}
}

func TestCtrStopTimeoutBelow30IsRaisedAndDoesNotDelayTheKill(t *testing.T) {
	e := newExecEnvConfig(t, "[crio.runtime]\nctr_stop_timeout = 5\n")
	if !strings.Contains(e.d.Log(), "ctr_stop_timeout = 5 is below the lowest possible value") {
		t.Errorf("no warning that ctr_stop_timeout was raised to 30 in the daemon's log")
	}
	// A container ignoring SIGTERM, stopped with no grace period, is
	// killed at once: ctr_stop_timeout only bounds the wait after the kill.
	id := e.container(t, []string{"sh", "-c", "trap '' TERM; while :; do sleep 1; done"})
	t0 := time.Now()
	if _, err := e.d.Runtime.StopContainer(framework.Ctx(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 0}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("StopContainer with timeout 0 took %v", d)
	}
	if st := ctrStatus(t, e.d, id).Status; st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Errorf("after StopContainer the container is %s", st.State)
	}
}
