package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func counter(t *testing.T, body, series string) int {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(series) + ` (\d+)`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestMetricsEndpointCountsRPCs(t *testing.T) {
	port := freePort(t)
	d := framework.NewDaemon(t, framework.Options{Config: fmt.Sprintf("[crio.metrics]\nenable_metrics = true\nmetrics_host = \"127.0.0.1\"\nmetrics_port = %d\n", port)})
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	ctx := framework.Ctx(t)
	if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatal(err)
	}
	before := counter(t, scrape(t, url), `crio_operations_total{operation="Version"}`)
	for i := 0; i < 3; i++ {
		if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = d.Runtime.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{})
	body := scrape(t, url)
	if after := counter(t, body, `crio_operations_total{operation="Version"}`); after != before+3 {
		t.Errorf("Version counter went from %d to %d, want +3", before, after)
	}
	// An empty request names no pod: InvalidArgument.
	if n := counter(t, body, `crio_operations_errors_total{code="InvalidArgument",operation="CheckpointPod"}`); n != 1 {
		t.Errorf("InvalidArgument CheckpointPod error counter = %d, want 1", n)
	}
	if counter(t, body, `crio_operations_latency_seconds_count{operation="Version"}`) < 4 {
		t.Error("latency histogram does not count Version")
	}
}

func TestMetricsCountContainersByState(t *testing.T) {
	d := containerDaemon(t)
	port := freePort(t)
	d.WriteDropIn("60-metrics.conf", fmt.Sprintf("[crio.metrics]\nenable_metrics = true\nmetrics_port = %d\n", port))
	d.Stop()
	d.Start()
	podID, pc := pod(t, d, "counted")
	run(t, d, podID, pc, ctrConfig("a", []string{"sleep", "3600"}))
	create(t, d, podID, pc, ctrConfig("b", []string{"sleep", "3600"}))
	body := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if n := counter(t, body, `crio_containers{state="running"}`); n != 1 {
		t.Errorf("running containers gauge = %d, want 1", n)
	}
	if n := counter(t, body, `crio_containers{state="created"}`); n != 1 {
		t.Errorf("created containers gauge = %d, want 1", n)
	}

	// Pulls and OOM kills are counted.
	mustPull(t, d, ctrImage)
	if _, err := pull(t, d, sharedRegistry(t).Addr+"/no/such/image:1", nil); err == nil {
		t.Fatal("pull of a missing image succeeded")
	}
	oom := run(t, d, podID, pc, ctrConfig("oom", []string{"sh", "-c", "a=xxxxxxxxxxxxxxxx; while true; do a=$a$a; done"},
		func(c *runtimeapi.ContainerConfig) { c.Linux.Resources.MemoryLimitInBytes = 16 << 20 }))
	if st := waitExited(t, d, oom, 60*time.Second); st.Reason != "OOMKilled" {
		t.Fatalf("container did not die of OOM: %v", st)
	}
	body = scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	for series, want := range map[string]int{
		`crio_image_pulls_total{result="success"}`: 1,
		`crio_image_pulls_total{result="failure"}`: 1,
		`crio_containers_oom_total`:                1,
	} {
		if n := counter(t, body, series); n != want {
			t.Errorf("%s = %d, want %d", series, n, want)
		}
	}
	if counter(t, body, `crio_image_pulls_bytes_total`) == 0 {
		t.Error("pulled bytes not counted")
	}
}

func TestMetricsCollectorsRestrictServedFamilies(t *testing.T) {
	port := freePort(t)
	d := framework.NewDaemon(t, framework.Options{Config: fmt.Sprintf(
		"[crio.metrics]\nenable_metrics = true\nmetrics_host = \"127.0.0.1\"\nmetrics_port = %d\nmetrics_collectors = [\"crio_operations_total\"]\n", port)})
	ctx := framework.Ctx(t)
	if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = d.Runtime.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{})
	body := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if counter(t, body, `crio_operations_total{operation="Version"}`) < 1 {
		t.Errorf("listed collector operations_total not served:\n%s", body)
	}
	// The failed CheckpointPod would be counted here if the family were served.
	if strings.Contains(body, "crio_operations_errors_total") || strings.Contains(body, "crio_operations_latency_seconds") {
		t.Errorf("unlisted collectors served:\n%s", body)
	}
}

func TestMetricsCollectorsUnknownNameIsRefused(t *testing.T) {
	d := framework.NewDaemon(t, framework.Options{NoStart: true, Config: "[crio.metrics]\nenable_metrics = true\nmetrics_collectors = [\"operations_total\", \"crio_warp_drive\"]\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, framework.Binary(t), d.Args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatal("daemon started with an unknown metrics collector")
	}
	if err == nil {
		t.Fatalf("exit status 0 with an unknown metrics collector:\n%s", out)
	}
	if !strings.Contains(string(out), "crio_warp_drive") || !strings.Contains(string(out), "metrics_collectors") {
		t.Errorf("error does not name the collector and key:\n%s", out)
	}
}
