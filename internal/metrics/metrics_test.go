package metrics

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/crio/crio/internal/config"
)

func TestEndpointServesCountersAndProfile(t *testing.T) {
	m := New(config.Default().Metrics.MetricsCollectors, func() map[string]int { return map[string]int{"running": 3} })
	done := m.Started("Version")
	done(codes.OK)
	done = m.Started("PullImage")
	done(codes.NotFound)
	m.ImagePulled(1234, time.Second, nil)
	m.ImagePulled(0, time.Millisecond, errors.New("nope"))
	m.OOMKilled()

	s, err := Serve(config.MetricsConfig{MetricsHost: "127.0.0.1", MetricsPort: 0, EnableProfile: true}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := get(t, "http://"+s.Addr+"/metrics")
	for _, want := range []string{
		`crio_operations_total{operation="Version"} 1`,
		`crio_operations_errors_total{code="NotFound",operation="PullImage"} 1`,
		`crio_operations_latency_seconds_count{operation="PullImage"} 1`,
		`crio_operations_in_flight 0`,
		`crio_image_pulls_total{result="success"} 1`,
		`crio_image_pulls_total{result="failure"} 1`,
		`crio_image_pulls_bytes_total 1234`,
		`crio_containers_oom_total 1`,
		`crio_containers{state="running"} 3`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(get(t, "http://"+s.Addr+"/debug/pprof/"), "goroutine") {
		t.Error("pprof index not served with enable_profile")
	}
}

func TestNilMetricsAreNoOps(t *testing.T) {
	var m *Metrics
	m.Started("X")(codes.Internal)
	m.ImagePulled(1, time.Second, nil)
	m.OOMKilled()
}

func get(t *testing.T, url string) string {
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
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func TestOnlyListedCollectorsAreServed(t *testing.T) {
	m := New([]string{"crio_operations_total", "image_pulls_failure_total"}, func() map[string]int { return map[string]int{"running": 1} })
	m.Started("Version")(codes.Internal)
	m.ImagePulled(10, time.Second, nil)
	m.OOMKilled()
	s, err := Serve(config.MetricsConfig{MetricsHost: "127.0.0.1"}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := get(t, "http://"+s.Addr+"/metrics")
	for _, want := range []string{`crio_operations_total{operation="Version"} 1`, `crio_image_pulls_total{result="success"} 1`, `go_goroutines`} {
		if !strings.Contains(body, want) {
			t.Errorf("listed family missing: no %q in\n%s", want, body)
		}
	}
	for _, unwanted := range []string{"crio_operations_errors_total", "crio_operations_latency_seconds", "crio_image_pulls_bytes_total", "crio_containers_oom_total", "crio_containers{", "crio_operations_in_flight"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("unlisted family %q served", unwanted)
		}
	}
}
