package e2e

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/blockdev"
	"github.com/crio/crio/test/framework"
)

func TestPodSandboxMetricsMatchTheirDescriptors(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "metrics")
	ctrID := run(t, d, podID, pc, ctrConfig("m", []string{"sh", "-c", "echo x > /tmp/f; echo written; sleep 3600"}))
	// The file is in the writable layer once the container says so.
	waitFile(t, filepath.Join(pc.LogDirectory, "m.log"), "written", 30*time.Second)
	ctx := framework.Ctx(t)

	descs, err := d.Runtime.ListMetricDescriptors(ctx, &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]int{}
	for _, desc := range descs.Descriptors {
		if desc.Help == "" || len(desc.LabelKeys) == 0 {
			t.Errorf("descriptor %s lacks help or labels", desc.Name)
		}
		labels[desc.Name] = len(desc.LabelKeys)
	}
	resp, err := d.Runtime.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var pm *runtimeapi.PodSandboxMetrics
	for _, m := range resp.PodMetrics {
		if m.PodSandboxId == podID {
			pm = m
		}
	}
	if pm == nil || len(pm.ContainerMetrics) != 1 || pm.ContainerMetrics[0].ContainerId != ctrID {
		t.Fatalf("pod metrics = %v", pm)
	}
	seen := map[string]uint64{}
	check := func(ms []*runtimeapi.Metric) {
		for _, m := range ms {
			n, ok := labels[m.Name]
			if !ok {
				t.Errorf("metric %s has no descriptor", m.Name)
			} else if n != len(m.LabelValues) {
				t.Errorf("metric %s has %d label values, its descriptor %d keys", m.Name, len(m.LabelValues), n)
			}
			if m.Timestamp == 0 {
				t.Errorf("metric %s has no timestamp", m.Name)
			}
			seen[m.Name] += m.GetValue().GetValue()
		}
	}
	check(pm.Metrics)
	check(pm.ContainerMetrics[0].Metrics)
	// The file system metrics name the device as cAdvisor does
	// ("/dev/vda"), not by a path of the container's.
	wantDev, err := blockdev.OfPath(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range pm.ContainerMetrics[0].Metrics {
		if m.Name == "container_fs_usage_bytes" {
			if dev := m.LabelValues[len(m.LabelValues)-1]; dev != wantDev {
				t.Errorf("container_fs_usage_bytes device = %q, want %q (the storage root's)", dev, wantDev)
			}
		}
	}
	// Block I/O metrics have values only for devices the container used.
	optional := map[string]bool{"container_blkio_device_usage_total": true, "container_fs_reads_bytes_total": true,
		"container_fs_reads_total": true, "container_fs_writes_bytes_total": true, "container_fs_writes_total": true}
	for name := range labels {
		if _, ok := seen[name]; !ok && !optional[name] {
			t.Errorf("descriptor %s has no value", name)
		}
	}
	for _, name := range []string{"container_memory_working_set_bytes", "container_processes", "container_fs_usage_bytes", "container_start_time_seconds"} {
		if seen[name] == 0 {
			t.Errorf("%s is zero for a running container that wrote a file", name)
		}
	}

	// included_pod_metrics narrows what is reported.
	d.WriteDropIn("60-metrics.conf", "[crio.stats]\nincluded_pod_metrics = [\"cpu\"]\n")
	d.Restart(syscall.SIGTERM)
	descs, err = d.Runtime.ListMetricDescriptors(framework.Ctx(t), &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range descs.Descriptors {
		if !strings.HasPrefix(desc.Name, "container_cpu_") {
			t.Errorf("with only cpu included, %s is described", desc.Name)
		}
	}
	if len(descs.Descriptors) == 0 {
		t.Error("no cpu descriptors with cpu included")
	}
}
