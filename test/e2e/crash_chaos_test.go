package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/failpoint"
	"github.com/crio/crio/test/framework"
)

// envInt reads a positive integer knob of the chaos test.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

// TestCrashAtEveryStepLeavesNothingBehind runs concurrent pod lifecycles
// (pull, run pod, create, start, stop, remove container, stop and remove
// pod) and kills the daemon with SIGKILL at each failpoint in turn, then
// at random times. After each kill it restarts the daemon, removes every
// pod that is left, and asserts that crio check finds nothing and that
// the containers running before the kill still run and are listed.
// CRIO_CHAOS_PODS (20) sets the lifecycles per failpoint,
// CRIO_CHAOS_ITERATIONS (50) the random kills and CRIO_CHAOS_RANDOM_PODS
// (5) their lifecycles; CRIO_CHAOS_FAILPOINTS (all) lists the failpoints.
func TestCrashAtEveryStepLeavesNothingBehind(t *testing.T) {
	requireCgroupfs(t)
	d := containerDaemon(t)
	newBridgeNet(t, d)
	waitNetworkReady(t, d)
	parent := fmt.Sprintf("/crio-chaos-%d", time.Now().UnixNano())
	t.Cleanup(func() { framework.RemoveCgroupTree(parent) })

	// Containers that run through every crash.
	keep := map[string]bool{}
	survivors := map[string]int{} // container ID -> pid
	for i := range 2 {
		podID, pc := pod(t, d, fmt.Sprintf("survivor%d", i), podPID, func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.CgroupParent = fmt.Sprintf("%s/keep%d", parent, i)
		})
		keep[podID] = true
		id := run(t, d, podID, pc, ctrConfig("sleeper", []string{"sleep", "3600"}))
		survivors[id] = verboseInfo(t, d, id).PID
	}

	var seq int
	lifecycles := func(n int) *sync.WaitGroup {
		var wg sync.WaitGroup
		for range n {
			seq++
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_ = podLifecycle(d, i, parent)
			}(seq)
		}
		return &wg
	}
	restartAndCheck := func(what string) {
		t.Helper()
		d.Kill() // closes the client; the process is already gone or goes now
		d.Start()
		removeAllPods(t, d, keep)
		assertNoLeaks(t, d, what, parent)
		ctrs, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]runtimeapi.ContainerState{}
		for _, c := range ctrs.Containers {
			listed[c.Id] = c.State
		}
		for id, pid := range survivors {
			if listed[id] != runtimeapi.ContainerState_CONTAINER_RUNNING || !alive(pid) {
				t.Fatalf("%s: container %s (pid %d, alive %v) is listed as %v; want it still running", what, id, pid, alive(pid), listed[id])
			}
		}
	}

	n := envInt("CRIO_CHAOS_PODS", 20)
	phase := time.Now()
	fps := failpoint.All
	if only := os.Getenv("CRIO_CHAOS_FAILPOINTS"); only != "" {
		fps = strings.Split(only, ",")
	}
	for _, fp := range fps {
		d.Env = []string{failpoint.Env + "=" + fp}
		d.Kill()
		d.Start()
		wg := lifecycles(n)
		if _, err := d.Wait(time.Minute); err != nil {
			t.Errorf("failpoint %s was never reached by %d pod lifecycles", fp, n)
		}
		wg.Wait()
		d.Env = nil
		restartAndCheck("after a crash at " + fp)
		if t.Failed() {
			return
		}
	}

	t.Logf("%d failpoints, %d pod lifecycles each: %s", len(fps), n, time.Since(phase).Round(time.Millisecond))
	phase = time.Now()
	iterations := envInt("CRIO_CHAOS_ITERATIONS", 50)
	pods := envInt("CRIO_CHAOS_RANDOM_PODS", 5)
	for i := range iterations {
		wg := lifecycles(pods)
		time.Sleep(time.Duration(rand.Int64N(int64(700 * time.Millisecond))))
		d.Signal(syscall.SIGKILL)
		_, _ = d.Wait(30 * time.Second)
		wg.Wait()
		restartAndCheck(fmt.Sprintf("after a kill at a random time (%d of %d)", i+1, iterations))
		if t.Failed() {
			return
		}
	}
	t.Logf("%d kills at random times, %d pod lifecycles each: %s", iterations, pods, time.Since(phase).Round(time.Millisecond))
}

// podLifecycle drives one pod through its whole life; it returns the
// first error (the daemon dying under it, usually).
func podLifecycle(d *framework.Daemon, i int, parent string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, img := d.Runtime, d.Image
	if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ctrImage}}); err != nil {
		return err
	}
	opts := []func(*runtimeapi.PodSandboxConfig){func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.CgroupParent = fmt.Sprintf("%s/p%d", parent, i)
		c.LogDirectory = filepath.Join(d.Dir, "podlogs", fmt.Sprintf("chaos%d", i))
	}}
	if i%2 == 0 {
		opts = append(opts, podPID)
	}
	pc := podConfig(fmt.Sprintf("chaos%d", i), opts...)
	p, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pc})
	if err != nil {
		return err
	}
	c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.PodSandboxId, SandboxConfig: pc,
		Config: ctrConfig("c", []string{"sleep", "3600"})})
	if err != nil {
		return err
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		return err
	}
	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.ContainerId}); err != nil {
		return err
	}
	if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.ContainerId}); err != nil {
		return err
	}
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.PodSandboxId}); err != nil {
		return err
	}
	_, err = rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.PodSandboxId})
	return err
}
