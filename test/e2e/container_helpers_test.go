package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// ctrImage is the image the container tests run: Debian's busybox from
// the test registry.
const ctrImage = "docker.io/library/busybox:latest"

// containerDaemon starts a daemon that pulls from the test registry and
// has pulled ctrImage.
func containerDaemon(t *testing.T) *framework.Daemon {
	t.Helper()
	requireRoot(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: sharedRegistry(t).Addr})
	mustPull(t, d, ctrImage)
	return d
}

// pod runs a pod with its log directory inside the daemon's dir.
func pod(t *testing.T, d *framework.Daemon, name string, opts ...func(*runtimeapi.PodSandboxConfig)) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	cfg := podConfig(name, opts...)
	cfg.LogDirectory = filepath.Join(d.Dir, "podlogs", name)
	return runPod(t, d, cfg), cfg
}

// ctrConfig is a busybox container running cmd; opts adjust it.
func ctrConfig(name string, cmd []string, opts ...func(*runtimeapi.ContainerConfig)) *runtimeapi.ContainerConfig {
	c := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: ctrImage},
		Command:  cmd,
		LogPath:  name + ".log",
		Labels:   map[string]string{"ctr": name},
		Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
			Resources: &runtimeapi.LinuxContainerResources{},
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func create(t *testing.T, d *framework.Daemon, podID string, pc *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) string {
	t.Helper()
	resp, err := d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: c, SandboxConfig: pc})
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", c.Metadata.Name, err)
	}
	return resp.ContainerId
}

func start(t *testing.T, d *framework.Daemon, id string) {
	t.Helper()
	if _, err := d.Runtime.StartContainer(framework.Ctx(t), &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("StartContainer %s: %v", id, err)
	}
}

// run creates and starts a container.
func run(t *testing.T, d *framework.Daemon, podID string, pc *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) string {
	t.Helper()
	id := create(t, d, podID, pc, c)
	start(t, d, id)
	return id
}

func ctrStatus(t testing.TB, d *framework.Daemon, id string) *runtimeapi.ContainerStatusResponse {
	t.Helper()
	resp, err := d.Runtime.ContainerStatus(framework.Ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatalf("ContainerStatus %s: %v", id, err)
	}
	return resp
}

// waitExited waits until the container has exited and returns its status.
func waitExited(t testing.TB, d *framework.Daemon, id string, within time.Duration) *runtimeapi.ContainerStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := ctrStatus(t, d, id).Status
		if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still %s after %v", id, st.State, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFile waits until path contains want.
func waitFile(t testing.TB, path, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q; it holds %q", path, want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logText returns the message parts of a CRI log file's lines.
func logText(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.SplitN(l, " ", 4)
		if len(f) == 4 {
			out = append(out, f[3])
		}
	}
	return out
}

type ctrInfo struct {
	PID         int `json:"pid"`
	RuntimeSpec struct {
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	} `json:"runtimeSpec"`
}

func verboseInfo(t testing.TB, d *framework.Daemon, id string) ctrInfo {
	t.Helper()
	var info ctrInfo
	if err := json.Unmarshal([]byte(ctrStatus(t, d, id).Info["info"]), &info); err != nil {
		t.Fatal(err)
	}
	return info
}
