package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// startupBatch is how many pods are created at once: the Kubernetes
// scalability tests' pod startup SLO (p99 at most 5 s, images present) is
// measured on bursts like it.
const startupBatch = 30

// BenchmarkPodStartup creates 30 static pods at once on a kubelet, with
// their images present, and reports the pod startup latency (manifest
// written to the kubelet reporting the pod Running) at p50 and p99, for this
// runtime and for Debian's containerd on the same machine in the same run.
//
//	go test -tags "$TAGS" -run '^$' -bench PodStartup -benchtime 3x ./test/kube/
func BenchmarkPodStartup(b *testing.B) {
	for _, rt := range []string{"crio", "containerd"} {
		b.Run(rt, func(b *testing.B) {
			n := StartNode(b, NodeOptions{Runtime: rt, MaxPods: startupBatch + 10})
			for _, img := range []string{busybox, "registry.k8s.io/pause:3.10"} {
				if _, err := n.Image.PullImage(framework.Ctx(b), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: img}}); err != nil {
					b.Fatalf("pulling %s: %v", img, err)
				}
			}
			var all []time.Duration
			b.ResetTimer()
			for i := range b.N {
				all = append(all, startBurst(b, n, i)...)
			}
			b.StopTimer()
			slices.Sort(all)
			b.ReportMetric(float64(pct(all, 50).Milliseconds()), "p50-ms")
			b.ReportMetric(float64(pct(all, 99).Milliseconds()), "p99-ms")
			b.ReportMetric(float64(all[len(all)-1].Milliseconds()), "max-ms")
			b.Logf("%s: %d pods: p50 %v p99 %v max %v", rt, len(all), pct(all, 50), pct(all, 99), all[len(all)-1])
		})
	}
}

// startBurst writes startupBatch manifests at once, waits for every pod to
// run, returns each one's latency, then deletes them and waits until the
// kubelet has stopped them.
func startBurst(b *testing.B, n *Node, round int) []time.Duration {
	names := make([]string, startupBatch)
	written := make(map[string]time.Time, startupBatch)
	for i := range names {
		names[i] = fmt.Sprintf("burst-%d-%d", round, i)
		tmp := filepath.Join(n.Dir, "."+names[i])
		manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: default}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: %s
    imagePullPolicy: Never
    command: %s
`, names[i], busybox, sleeper)
		if err := os.WriteFile(tmp, []byte(manifest), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range names {
		if err := os.Rename(filepath.Join(n.Dir, "."+name), filepath.Join(n.ManifestDir, name+".yaml")); err != nil {
			b.Fatal(err)
		}
		written[name+"-"+n.Name] = time.Now()
	}
	lat := make(map[string]time.Duration, startupBatch)
	deadline := time.Now().Add(3 * time.Minute)
	for len(lat) < startupBatch {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d pods running after 3 minutes\n%s", len(lat), startupBatch, n.LogTail(30))
		}
		pods, err := n.Pods()
		now := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		for i := range pods {
			p := &pods[i]
			if w, ok := written[p.Name]; ok && p.Status.Phase == corev1.PodRunning {
				if _, seen := lat[p.Name]; !seen {
					lat[p.Name] = now.Sub(w)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range names {
		n.RemoveManifest(name + ".yaml")
	}
	deadline = time.Now().Add(2 * time.Minute)
	for {
		// Until the runtime has stopped them too, so that one round's
		// teardown does not slow the next round's start.
		pods, err := n.Pods()
		if err == nil && len(pods) == 0 && readySandboxes(b, n) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("pods still on the kubelet 2 minutes after their manifests went: %d", len(pods))
		}
		time.Sleep(200 * time.Millisecond)
	}
	out := make([]time.Duration, 0, len(lat))
	for _, d := range lat {
		out = append(out, d)
	}
	return out
}

// pct is the p-th percentile of sorted durations (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

func readySandboxes(b *testing.B, n *Node) int {
	resp, err := n.Runtime.ListPodSandbox(framework.Ctx(b), &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}})
	if err != nil {
		b.Fatal(err)
	}
	return len(resp.Items)
}
