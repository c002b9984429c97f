package kube

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// TestKubeletStatsSummary checks /stats/summary for a pod and its
// containers both ways the kubelet gets them: from the CRI
// (PodAndContainerStatsFromCRI) and, for a runtime on CRI-O's socket with
// the gate off (the default), from cAdvisor with its CRI-O plugin, which
// reads the daemon's inspect API. cAdvisor takes a pod's network only
// from its infra container's cgroup ("POD"); pods here have no infra
// process (CRI-O's drop_infra_ctr, its default, has the same gap), so on
// that path the pod has no network stats.
func TestKubeletStatsSummary(t *testing.T) {
	for _, c := range []struct {
		name       string
		o          NodeOptions
		podNetwork bool
	}{
		{"from the CRI", NodeOptions{FeatureGates: map[string]bool{"PodAndContainerStatsFromCRI": true}}, true},
		{"from cAdvisor on CRI-O's socket", NodeOptions{CRIOSocket: true}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := StartNode(t, c.o)
			n.WriteManifest("stats.yaml", `apiVersion: v1
kind: Pod
metadata: {name: stats, namespace: default}
spec:
  containers:
  - name: writer
    image: `+busybox+`
    command: [sh, -c, "dd if=/dev/zero of=/tmp/blob bs=1M count=4; trap 'exit 0' TERM; while true; do echo tick; sleep 1; done"]
  - name: idle
    image: `+busybox+`
    command: `+sleeper+`
`)
			p := n.WaitPod("stats", 2*time.Minute, "running and ready", running)
			var last *statsapi.PodStats
			var lastErr error
			complete := func() bool {
				s, err := n.Summary()
				if err != nil {
					lastErr = err
					return false
				}
				for i := range s.Pods {
					ps := &s.Pods[i]
					if ps.PodRef.UID != string(p.UID) {
						continue
					}
					last = ps
					// cAdvisor measures a rootfs every so often, not when asked.
					return podStatsComplete(ps, c.podNetwork) == "" && writerUsed(ps) >= 4<<20
				}
				return false
			}
			deadline := time.Now().Add(90 * time.Second)
			for !complete() && time.Now().Before(deadline) {
				time.Sleep(time.Second)
			}
			if last == nil || podStatsComplete(last, c.podNetwork) != "" {
				b, _ := json.MarshalIndent(last, "", "  ")
				why := "pod absent"
				if last != nil {
					why = podStatsComplete(last, c.podNetwork)
				}
				t.Fatalf("summary for pod stats incomplete after 90 s (%s, last error %v):\n%s", why, lastErr, b)
			}
			if used := writerUsed(last); used < 4<<20 {
				t.Errorf("writer's rootfs used %d bytes after 90 s; it wrote 4 MiB", used)
			}
			if c.o.CRIOSocket {
				if log, err := os.ReadFile(n.LogPath); err != nil || !strings.Contains(string(log), "Registering CRI-O factory") {
					t.Errorf("the kubelet's cAdvisor did not register its CRI-O plugin (%v): it never reached the inspect API", err)
				}
			}
			noCRIErrors(t, n)
		})
	}
}

// podStatsComplete names the first thing missing from a pod's stats.
func podStatsComplete(ps *statsapi.PodStats, network bool) string {
	switch {
	case ps.CPU == nil || ps.CPU.UsageNanoCores == nil || ps.CPU.UsageCoreNanoSeconds == nil:
		return "pod cpu"
	case ps.Memory == nil || ps.Memory.WorkingSetBytes == nil:
		return "pod memory"
	case network && (ps.Network == nil || len(ps.Network.Interfaces) == 0 || ps.Network.RxBytes == nil):
		return "pod network"
	case ps.EphemeralStorage == nil || ps.EphemeralStorage.UsedBytes == nil:
		return "pod ephemeral storage"
	case len(ps.Containers) != 2:
		return "two containers"
	}
	for _, c := range ps.Containers {
		switch {
		case c.CPU == nil || c.CPU.UsageNanoCores == nil || c.CPU.UsageCoreNanoSeconds == nil:
			return c.Name + " cpu"
		case c.Memory == nil || c.Memory.WorkingSetBytes == nil:
			return c.Name + " memory"
		case c.Rootfs == nil || c.Rootfs.UsedBytes == nil:
			return c.Name + " rootfs"
		case c.Logs == nil || c.Logs.UsedBytes == nil:
			return c.Name + " logs"
		}
	}
	return ""
}

// writerUsed is the rootfs usage the summary gives the writer container, -1
// when it gives none.
func writerUsed(ps *statsapi.PodStats) int64 {
	for _, cs := range ps.Containers {
		if cs.Name == "writer" && cs.Rootfs != nil && cs.Rootfs.UsedBytes != nil {
			return int64(*cs.Rootfs.UsedBytes)
		}
	}
	return -1
}
