package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	grpcmem "google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The seven pod-lifecycle operations, in order.
var lifecycleOps = []string{"RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "StopPodSandbox", "RemovePodSandbox"}

const (
	busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	pause   = "registry.k8s.io/pause:3.10"
)

// samples collects durations per operation, safe for concurrent use.
type samples struct {
	mu sync.Mutex
	m  map[string][]time.Duration
}

func newSamples() *samples { return &samples{m: map[string][]time.Duration{}} }

func (s *samples) add(op string, d time.Duration) {
	s.mu.Lock()
	s.m[op] = append(s.m[op], d)
	s.mu.Unlock()
}

func podConfig(prefix string, i int) *runtimeapi.PodSandboxConfig {
	name := fmt.Sprintf("%s-%d", prefix, i)
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "bench", Uid: fmt.Sprintf("uid-%s-%d-%d", prefix, i, time.Now().UnixNano())},
		Hostname: name,
		Labels:   map[string]string{"bench": prefix},
		Linux:    &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: kubeletNamespaces()}},
	}
}

// kubeletNamespaces are the namespace options the kubelet sends for a pod
// without hostNetwork, hostPID or shareProcessNamespace. The proto's
// default (all zero) is a PID namespace shared by the pod, which takes an
// infra process in crio and is not what most pods ask for.
func kubeletNamespaces() *runtimeapi.NamespaceOption {
	return &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
}

// idleCommand is what the benchmark's containers (and the floor's) run.
// It is PID 1 of its own PID namespace, where the kernel drops a SIGTERM
// that has no handler: a bare sleep would sit out StopContainer's whole
// timeout.
var idleCommand = []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}

func containerConfig(name string, cmd ...string) *runtimeapi.ContainerConfig {
	if len(cmd) == 0 {
		cmd = idleCommand
	}
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: busybox},
		Command:  cmd,
		Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: kubeletNamespaces()}},
	}
}

// pull makes sure the images the benchmark uses are present.
func pull(ctx context.Context, d *daemon) error {
	for _, img := range []string{busybox, pause} {
		if _, err := d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: img}}); err != nil {
			return fmt.Errorf("%s: pulling %s: %w", d.name, img, err)
		}
	}
	return nil
}

// lifecycle runs one pod through the seven operations, timing each.
func lifecycle(ctx context.Context, d *daemon, prefix string, i int, s *samples) error {
	timed := func(op string, f func() error) error {
		t := time.Now()
		err := f()
		if err != nil {
			return fmt.Errorf("%s %s-%d: %w", op, prefix, i, err)
		}
		s.add(op, time.Since(t))
		return nil
	}
	pc := podConfig(prefix, i)
	var podID, ctrID string
	if err := timed("RunPodSandbox", func() error {
		r, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pc})
		podID = r.GetPodSandboxId()
		return err
	}); err != nil {
		return err
	}
	if err := timed("CreateContainer", func() error {
		r, err := d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: containerConfig("c"), SandboxConfig: pc})
		ctrID = r.GetContainerId()
		return err
	}); err != nil {
		return err
	}
	steps := []struct {
		op string
		f  func() error
	}{
		{"StartContainer", func() error {
			_, err := d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctrID})
			return err
		}},
		{"StopContainer", func() error {
			_, err := d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ctrID, Timeout: 10})
			return err
		}},
		{"RemoveContainer", func() error {
			_, err := d.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ctrID})
			return err
		}},
		{"StopPodSandbox", func() error {
			_, err := d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
			return err
		}},
		{"RemovePodSandbox", func() error {
			_, err := d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
			return err
		}},
	}
	for _, st := range steps {
		if st.op == "StopContainer" {
			// Untimed: give the shell time to install its SIGTERM trap
			// (see idleCommand), as a pod's container has long before
			// the kubelet stops it; stopping it within a millisecond of
			// its start races the trap and waits out the timeout.
			time.Sleep(100 * time.Millisecond)
		}
		if err := timed(st.op, st.f); err != nil {
			return err
		}
	}
	return nil
}

// lifecycles runs n pods through their lifecycle, par at a time.
func lifecycles(ctx context.Context, d *daemon, prefix string, n, par int) (*samples, error) {
	s := newSamples()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := lifecycle(ctx, d, prefix, i, s); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		return s, err
	}
	return s, nil
}

// runningPods starts n pods with one running container each and returns
// their IDs.
func runningPods(ctx context.Context, d *daemon, prefix string, n, ctrsPerPod int, start bool) ([]string, []string, error) {
	var mu sync.Mutex
	var pods, ctrs []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var firstErr error
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := func() error {
				pc := podConfig(prefix, i)
				r, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pc})
				if err != nil {
					return err
				}
				mu.Lock()
				pods = append(pods, r.PodSandboxId)
				mu.Unlock()
				for j := 0; j < ctrsPerPod; j++ {
					c, err := d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: r.PodSandboxId, Config: containerConfig(fmt.Sprintf("c%d", j)), SandboxConfig: pc})
					if err != nil {
						return err
					}
					mu.Lock()
					ctrs = append(ctrs, c.ContainerId)
					mu.Unlock()
					if start {
						if _, err := d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
							return err
						}
					}
				}
				return nil
			}()
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", d.name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return pods, ctrs, firstErr
}

// removePods stops and removes pods (and so their containers).
func removePods(ctx context.Context, d *daemon, pods []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, id := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
			d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
		}()
	}
	wg.Wait()
}

// listCost times the three list RPCs n times each, one RPC at a time so
// that one's garbage is not collected during another's calls.
func listCost(ctx context.Context, d *daemon, n, want int) (*samples, error) {
	s := newSamples()
	calls := []struct {
		op string
		f  func() error
	}{
		{"ListContainers", func() error {
			r, err := d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
			if err == nil && len(r.Containers) < want {
				err = fmt.Errorf("%d containers, want %d", len(r.Containers), want)
			}
			return err
		}},
		{"ListContainers undecoded", func() error {
			var size int
			err := d.conn.Invoke(ctx, runtimeapi.RuntimeService_ListContainers_FullMethodName, &runtimeapi.ListContainersRequest{}, &size, grpc.ForceCodecV2(undecoded{}))
			if err == nil && size == 0 {
				err = fmt.Errorf("empty answer")
			}
			return err
		}},
		{"ListPodSandbox", func() error {
			_, err := d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
			return err
		}},
		{"ListContainerStats", func() error {
			_, err := d.rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
			return err
		}},
	}
	for _, c := range calls {
		if err := c.f(); err != nil { // warm-up
			return nil, fmt.Errorf("%s: %s: %w", d.name, c.op, err)
		}
		for i := 0; i < n; i++ {
			t := time.Now()
			if err := c.f(); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", d.name, c.op, err)
			}
			s.add(c.op, time.Since(t))
		}
	}
	return s, nil
}

// execCost times ExecSync of `true` in a running container.
func execCost(ctx context.Context, d *daemon, ctr string, n int) (*samples, error) {
	s := newSamples()
	for i := 0; i < n; i++ {
		t := time.Now()
		r, err := d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctr, Cmd: []string{"true"}, Timeout: 10})
		if err != nil {
			return nil, fmt.Errorf("%s: ExecSync: %w", d.name, err)
		}
		if r.ExitCode != 0 {
			return nil, fmt.Errorf("%s: ExecSync true exited %d: %s", d.name, r.ExitCode, r.Stderr)
		}
		s.add("ExecSync", time.Since(t))
	}
	return s, nil
}

// undecoded is a codec that leaves answers undecoded (it records their
// size), to split a list call's time between the daemon with the transport
// and the client's decoding.
type undecoded struct{}

func (undecoded) Marshal(v any) (grpcmem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	return grpcmem.BufferSlice{grpcmem.SliceBuffer(b)}, err
}

func (undecoded) Unmarshal(data grpcmem.BufferSlice, v any) error {
	*v.(*int) = data.Len()
	return nil
}

func (undecoded) Name() string { return "proto" }
