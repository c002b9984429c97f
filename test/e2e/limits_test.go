package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// wantRefusal fails unless err has code and names the limit key.
func wantRefusal(t *testing.T, err error, code codes.Code, key, what string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(err.Error(), key) {
		t.Errorf("%s: got %v (code %s); want code %s naming %q", what, err, status.Code(err), code, key)
	}
}

func entries(n, valueLen int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = strings.Repeat("v", valueLen)
	}
	return m
}

func TestRequestLimitsRefuseWhatCrossesThemNamingTheLimit(t *testing.T) {
	requireRoot(t)
	reg := sharedRegistry(t)
	px := startProxy(t, reg.Addr, 0)
	d := newImageDaemon(t, imageDaemonOptions{registry: px.Addr, config: `
[crio.api]
grpc_max_recv_msg_size = 65536

[crio.limits]
max_labels = 4
max_annotations = 4
max_metadata_bytes = 4096
max_containers_per_pod = 2
max_exec_sessions_per_container = 1
max_concurrent_pulls = 1
`})
	mustPull(t, d, ctrImage)
	ctx := framework.Ctx(t)

	// Labels and annotations of a pod: count and size.
	for _, c := range []struct {
		key  string
		edit func(*runtimeapi.PodSandboxConfig)
	}{
		{"max_labels = 4", func(c *runtimeapi.PodSandboxConfig) { c.Labels = entries(5, 1) }},
		{"max_annotations = 4", func(c *runtimeapi.PodSandboxConfig) { c.Annotations = entries(5, 1) }},
		{"max_metadata_bytes = 4096", func(c *runtimeapi.PodSandboxConfig) { c.Annotations = entries(2, 3000) }},
	} {
		_, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig("limits", c.edit)})
		wantRefusal(t, err, codes.InvalidArgument, c.key, "RunPodSandbox past "+c.key)
	}
	// A message past grpc_max_recv_msg_size is refused by gRPC itself,
	// which names the size it allows.
	_, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig("limits", func(c *runtimeapi.PodSandboxConfig) { c.Annotations = entries(1, 70000) })})
	wantRefusal(t, err, codes.ResourceExhausted, "65536", "RunPodSandbox past grpc_max_recv_msg_size")
	if pods, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err != nil || len(pods.Items) != 0 {
		t.Fatalf("refused pods left %v (%v)", pods.GetItems(), err)
	}

	podID, pc := pod(t, d, "limits")
	_, err = d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("labelled", []string{"true"}, func(c *runtimeapi.ContainerConfig) { c.Labels = entries(5, 1) })})
	wantRefusal(t, err, codes.InvalidArgument, "max_labels = 4", "CreateContainer past max_labels")

	// Containers per pod; the kubelet retrying a create that succeeded
	// still gets its answer at the limit.
	sleeper := ctrConfig("sleeper", []string{"sleep", "600"})
	first := run(t, d, podID, pc, sleeper)
	second := create(t, d, podID, pc, ctrConfig("second", []string{"true"}))
	_, err = d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc, Config: ctrConfig("third", []string{"true"})})
	wantRefusal(t, err, codes.ResourceExhausted, "max_containers_per_pod = 2", "a third container")
	if again := create(t, d, podID, pc, ctrConfig("second", []string{"true"})); again != second {
		t.Errorf("a retried create at the limit got %s, want the first answer %s", again, second)
	}

	// Exec sessions of one container: a second ExecSync while one runs.
	// The second is sent once the first's process is seen running (its
	// session is counted before it starts): probing earlier could take
	// the one session itself, first, on a slow machine.
	const marker = "2.71828"
	done := make(chan error, 1)
	go func() {
		_, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: first, Cmd: []string{"sleep", marker}, Timeout: 30})
		done <- err
	}()
	waitProcess(t, "sleep\x00"+marker+"\x00", 30*time.Second)
	_, refused := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: first, Cmd: []string{"true"}, Timeout: 10})
	wantRefusal(t, refused, codes.ResourceExhausted, "max_exec_sessions_per_container = 1", "a second exec session")
	if err := <-done; err != nil {
		t.Fatalf("the first exec session: %v", err)
	}
	if _, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: first, Cmd: []string{"true"}, Timeout: 10}); err != nil {
		t.Errorf("an exec session after the first ended: %v", err)
	}

	// Concurrent pulls: a second image while one is in flight is refused,
	// the same image joins the pull in flight.
	px.delay.Store(int64(2 * time.Second))
	pulls := make(chan error, 2)
	pullOf := func(ref string) {
		_, err := d.Image.PullImage(context.Background(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		pulls <- err
	}
	go pullOf("quay.io/" + multilayer)
	time.Sleep(500 * time.Millisecond)
	go pullOf("quay.io/" + multilayer)
	_, err = d.Image.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "quay.io/crio-test/busybox-zstd:latest"}})
	wantRefusal(t, err, codes.ResourceExhausted, "max_concurrent_pulls = 1", "a second image pulled at once")
	for range 2 {
		if err := <-pulls; err != nil {
			t.Errorf("a pull of the image in flight: %v", err)
		}
	}
	px.delay.Store(0)
	mustPull(t, d, "quay.io/crio-test/busybox-zstd:latest")
}

// waitProcess waits until some process's command line is cmdline (its
// NUL-separated arguments).
func waitProcess(t *testing.T, cmdline string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && string(b) == cmdline {
				return
			}
		}
	}
	t.Fatalf("no process %q within %s", cmdline, within)
}
