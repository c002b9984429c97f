package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// injector is a small NRI plugin: it adds an environment variable and an
// annotation to every container, records the events it hears, and makes a
// hostile adjustment for containers labelled "hostile".
type injector struct {
	mu     sync.Mutex
	events []string
	ready  chan struct{}
	once   sync.Once
}

func (p *injector) record(ev string, ctr *api.Container) {
	p.mu.Lock()
	p.events = append(p.events, ev+" "+ctr.GetName())
	p.mu.Unlock()
}

func (p *injector) Synchronize(context.Context, []*api.PodSandbox, []*api.Container) ([]*api.ContainerUpdate, error) {
	p.once.Do(func() { close(p.ready) })
	return nil, nil
}

func (p *injector) CreateContainer(_ context.Context, pod *api.PodSandbox, ctr *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	p.record("CreateContainer", ctr)
	adj := &api.ContainerAdjustment{}
	adj.AddEnv("NRI_INJECTED", "from-plugin")
	adj.AddAnnotation("nri.test/injected", pod.GetName())
	adj.SetLinuxMemoryLimit(nriMemoryLimit)
	if ctr.GetLabels()["hostile"] == "mount" {
		adj.AddMount(&api.Mount{Destination: "../../etc", Source: "/etc", Type: "bind", Options: []string{"rbind"}})
	}
	if ctr.GetLabels()["hostile"] == "device" {
		adj.AddDevice(&api.LinuxDevice{Path: "/etc/shadow", Type: "c", Major: 1, Minor: 3})
	}
	return adj, nil, nil
}

// UpdateContainer halves the CPU shares the kubelet asks for.
func (p *injector) UpdateContainer(_ context.Context, _ *api.PodSandbox, ctr *api.Container, r *api.LinuxResources) ([]*api.ContainerUpdate, error) {
	p.record("UpdateContainer", ctr)
	u := &api.ContainerUpdate{}
	u.SetContainerId(ctr.GetId())
	u.SetLinuxCPUShares(r.GetCpu().GetShares().GetValue() / 2)
	return []*api.ContainerUpdate{u}, nil
}

func (p *injector) StartContainer(_ context.Context, _ *api.PodSandbox, ctr *api.Container) error {
	p.record("StartContainer", ctr)
	return nil
}

func (p *injector) StopContainer(_ context.Context, _ *api.PodSandbox, ctr *api.Container) ([]*api.ContainerUpdate, error) {
	p.record("StopContainer", ctr)
	return nil, nil
}

func (p *injector) RemoveContainer(_ context.Context, _ *api.PodSandbox, ctr *api.Container) error {
	p.record("RemoveContainer", ctr)
	return nil
}

func (p *injector) eventsOf(name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.events {
		if strings.HasSuffix(e, " "+name) {
			out = append(out, strings.TrimSuffix(e, " "+name))
		}
	}
	return out
}

// nriMemoryLimit is the memory limit the injector gives every container.
const nriMemoryLimit = 200 << 20

// startPlugin connects p, a stub plugin, to the daemon's NRI socket and
// waits until it is synchronised (ready closed).
func startPlugin(t testing.TB, socket, name string, p any, ready <-chan struct{}) stub.Stub {
	t.Helper()
	s, err := stub.New(p, stub.WithPluginName(name), stub.WithPluginIdx("10"), stub.WithSocketPath(socket))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("NRI plugin stopped before it was synchronised: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("NRI plugin not synchronised within 15s")
	}
	return s
}

// TestNRIPluginInjectsEnvAndAnnotation runs a plugin built on the NRI stub
// against a real daemon: every container gets the plugin's variable (the
// process sees it), annotation and memory limit (in its OCI spec); the
// plugin hears the lifecycle in order, its unsolicited update and its
// change to UpdateContainerResources reach the container's record, and
// hostile adjustments fail the creation and leave nothing behind.
func TestNRIPluginInjectsEnvAndAnnotation(t *testing.T) {
	d := containerDaemon(t)
	p := &injector{ready: make(chan struct{})}
	s := startPlugin(t, d.NRISocket, "e2e-injector", p, p.ready)

	podID, pc := pod(t, d, "nri-inject")
	id := run(t, d, podID, pc, ctrConfig("env", []string{"sh", "-c", `echo "NRI_INJECTED=$NRI_INJECTED"; sleep 300`}))
	logPath := filepath.Join(pc.LogDirectory, "env.log")
	waitFile(t, logPath, "NRI_INJECTED=from-plugin", 10*time.Second)

	var info struct {
		RuntimeSpec struct {
			Annotations map[string]string `json:"annotations"`
			Linux       struct {
				Resources struct {
					Memory struct {
						Limit int64 `json:"limit"`
					} `json:"memory"`
				} `json:"resources"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if err := json.Unmarshal([]byte(ctrStatus(t, d, id).Info["info"]), &info); err != nil {
		t.Fatal(err)
	}
	if got := info.RuntimeSpec.Annotations["nri.test/injected"]; got != "nri-inject" {
		t.Errorf("annotation nri.test/injected in the container's spec = %q, want the pod name %q", got, "nri-inject")
	}
	if got := info.RuntimeSpec.Linux.Resources.Memory.Limit; got != nriMemoryLimit {
		t.Errorf("memory limit in the container's spec = %d, want the plugin's %d", got, nriMemoryLimit)
	}

	// An update the plugin sends on its own reaches the runtime and the
	// status record.
	u := &api.ContainerUpdate{}
	u.SetContainerId(id)
	u.SetLinuxCPUShares(512)
	if failed, err := s.UpdateContainers([]*api.ContainerUpdate{u}); err != nil || len(failed) > 0 {
		t.Fatalf("UpdateContainers: failed %v, error %v", failed, err)
	}
	if got := ctrStatus(t, d, id).Status.GetResources().GetLinux().GetCpuShares(); got != 512 {
		t.Errorf("cpu shares after the plugin's update = %d, want 512", got)
	}

	// The plugin changes what UpdateContainerResources asks for.
	ctx := framework.Ctx(t)
	if _, err := d.Runtime.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: id, Linux: &runtimeapi.LinuxContainerResources{CpuShares: 1024},
	}); err != nil {
		t.Fatal(err)
	}
	if got := ctrStatus(t, d, id).Status.GetResources().GetLinux().GetCpuShares(); got != 512 {
		t.Errorf("cpu shares after UpdateContainerResources(1024) and the plugin's halving = %d, want 512", got)
	}

	if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	want := []string{"CreateContainer", "StartContainer", "UpdateContainer", "StopContainer", "RemoveContainer"}
	if got := p.eventsOf("env"); !slices.Equal(got, want) {
		t.Errorf("plugin heard %v for the container, want %v", got, want)
	}

	for _, hostile := range []string{"mount", "device"} {
		cfg := ctrConfig("hostile-"+hostile, []string{"true"}, func(c *runtimeapi.ContainerConfig) { c.Labels["hostile"] = hostile })
		_, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: pc})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "NRI") {
			t.Errorf("CreateContainer with a hostile %s adjustment: %v, want FailedPrecondition naming NRI", hostile, err)
		}
	}
	list, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Containers {
		if strings.HasPrefix(c.GetMetadata().GetName(), "hostile") {
			t.Errorf("container left after a refused adjustment: %v", c)
		}
	}
}

// TestNRIPreinstalledPluginStartsWithDaemon installs a plugin in
// nri_plugin_dir with a configuration in nri_plugin_config_dir: the
// restarted daemon starts it, synchronises it with the container that
// survived the restart, and the plugin's adjustment reaches new
// containers.
func TestNRIPreinstalledPluginStartsWithDaemon(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "nri-preinstalled")
	before := run(t, d, podID, pc, ctrConfig("before", []string{"sleep", "300"}))

	if err := os.MkdirAll(d.NRIPluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(d.NRIPluginDir, "10-preinstalled"), "./test/e2e/testdata/nriplugin")
	build.Dir = framework.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	syncFile := filepath.Join(d.Dir, "plugin-sync")
	if err := os.MkdirAll(d.NRIConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "value=from-plugin-config\nsyncfile=" + syncFile + "\n"
	if err := os.WriteFile(filepath.Join(d.NRIConfigDir, "10-preinstalled.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Restart(syscall.SIGTERM)

	waitFile(t, syncFile, before+" before", 15*time.Second)
	run(t, d, podID, pc, ctrConfig("after", []string{"sh", "-c", `echo "PREINSTALLED=$PREINSTALLED"; sleep 300`}))
	waitFile(t, filepath.Join(pc.LogDirectory, "after.log"), "PREINSTALLED=from-plugin-config", 10*time.Second)
}

// podRecorder records pod events with the metadata plugins get.
type podRecorder struct {
	mu     sync.Mutex
	events []string
	ready  chan struct{}
	once   sync.Once
}

func (p *podRecorder) add(ev string, pod *api.PodSandbox) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, fmt.Sprintf("%s %s/%s uid=%s app=%s note=%s", ev,
		pod.GetNamespace(), pod.GetName(), pod.GetUid(), pod.GetLabels()["app"], pod.GetAnnotations()["note"]))
}

func (p *podRecorder) Synchronize(context.Context, []*api.PodSandbox, []*api.Container) ([]*api.ContainerUpdate, error) {
	p.once.Do(func() { close(p.ready) })
	return nil, nil
}

func (p *podRecorder) RunPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.add("RunPodSandbox", pod)
	return nil
}

func (p *podRecorder) UpdatePodSandbox(_ context.Context, pod *api.PodSandbox, overhead, res *api.LinuxResources) error {
	p.add(fmt.Sprintf("UpdatePodSandbox memory=%d", res.GetMemory().GetLimit().GetValue()), pod)
	return nil
}

func (p *podRecorder) PostUpdatePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.add("PostUpdatePodSandbox", pod)
	return nil
}

func (p *podRecorder) StopPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.add("StopPodSandbox", pod)
	return nil
}

func (p *podRecorder) RemovePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.add("RemovePodSandbox", pod)
	return nil
}

// TestNRIPodEventsCarryMetadata: a plugin hears a pod's run, resource
// update, stop (once, though stopped twice) and removal in order, each
// with the pod's namespace, name, uid, labels and annotations.
func TestNRIPodEventsCarryMetadata(t *testing.T) {
	requireCgroupfs(t)
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	p := &podRecorder{ready: make(chan struct{})}
	startPlugin(t, d.NRISocket, "pods", p, p.ready)

	parent := fmt.Sprintf("/crio-e2e-nri-%d/pod", subnetSeq.Add(1))
	cfg := podConfig("nri-pod", func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.CgroupParent = parent
		c.Annotations = map[string]string{"note": "hello"}
	})
	id := runPod(t, d, cfg)
	rpc := framework.Ctx(t)
	if _, err := d.Runtime.UpdatePodSandboxResources(rpc, &runtimeapi.UpdatePodSandboxResourcesRequest{
		PodSandboxId: id, Resources: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20},
	}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := d.Runtime.StopPodSandbox(rpc, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Runtime.RemovePodSandbox(rpc, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatal(err)
	}
	meta := fmt.Sprintf(" e2e/nri-pod uid=%s app=nri-pod note=hello", cfg.Metadata.Uid)
	want := []string{
		"RunPodSandbox" + meta, fmt.Sprintf("UpdatePodSandbox memory=%d", 64<<20) + meta, "PostUpdatePodSandbox" + meta,
		"StopPodSandbox" + meta, "RemovePodSandbox" + meta,
	}
	p.mu.Lock()
	got := slices.Clone(p.events)
	p.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("plugin heard\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
