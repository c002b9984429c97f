// Package metrics exports the daemon's Prometheus metrics: per-RPC counts,
// errors and latency, in-flight requests, image pulls, containers by state
// and OOM kills.
package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	prometheuscollectors "github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/codes"

	"github.com/crio/crio/internal/config"
)

const namespace = "crio"

// Metrics holds the collectors on the daemon's own registry.
type Metrics struct {
	Registry *prometheus.Registry

	operations  *prometheus.CounterVec
	errors      *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	pulls       *prometheus.CounterVec
	pullBytes   prometheus.Counter
	pullSeconds prometheus.Histogram
	ooms        prometheus.Counter
}

// New registers the collectors that metrics_collectors lists (names as in
// config.MetricsCollectorName, prefix or not). A family is served when any
// of its collector names is listed: CRI-O splits some of crio's families in
// two (pull successes and failures, last and summed latency). The Go runtime
// and process collectors are always served, as in CRI-O. containersByState,
// when set, is asked for the number of containers per state at each scrape
// (answered from memory).
func New(collectors []string, containersByState func() map[string]int) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "operations_total",
			Help: "CRI operations served, by RPC.",
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "operations_errors_total",
			Help: "CRI operations that returned an error, by RPC and gRPC code.",
		}, []string{"operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "operations_latency_seconds",
			Help:    "Latency of CRI operations, by RPC.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "operations_in_flight",
			Help: "CRI operations being served now.",
		}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "image_pulls_total",
			Help: "Image pulls, by result (success or failure).",
		}, []string{"result"}),
		pullBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "image_pulls_bytes_total",
			Help: "Bytes of image layers and configs downloaded.",
		}),
		pullSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "image_pulls_duration_seconds",
			Help:    "Duration of image pulls.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		ooms: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "containers_oom_total",
			Help: "Containers killed by the kernel's OOM killer.",
		}),
	}
	listed := make(map[string]bool, len(collectors))
	for _, c := range collectors {
		listed[config.MetricsCollectorName(c)] = true
	}
	// Unregistered families still count (their methods need no nil
	// checks); they are just not gathered.
	for _, f := range []struct {
		c     prometheus.Collector
		names []string
	}{
		{m.operations, []string{"operations_total"}},
		{m.errors, []string{"operations_errors_total"}},
		{m.latency, []string{"operations_latency_seconds", "operations_latency_seconds_total"}},
		{m.inFlight, []string{"operations_in_flight"}},
		{m.pulls, []string{"image_pulls_success_total", "image_pulls_failure_total"}},
		{m.pullBytes, []string{"image_pulls_bytes_total"}},
		{m.pullSeconds, []string{"image_pulls_duration_seconds"}},
		{m.ooms, []string{"containers_oom_total"}},
	} {
		if slices.ContainsFunc(f.names, func(n string) bool { return listed[n] }) {
			m.Registry.MustRegister(f.c)
		}
	}
	m.Registry.MustRegister(prometheuscollectors.NewGoCollector(), prometheuscollectors.NewProcessCollector(prometheuscollectors.ProcessCollectorOpts{}))
	if containersByState != nil && listed["containers"] {
		m.Registry.MustRegister(&stateCollector{count: containersByState, desc: prometheus.NewDesc(
			namespace+"_containers", "Containers known to the daemon, by state.", []string{"state"}, nil)})
	}
	return m
}

// Started counts an RPC in flight; call the returned func with its code
// when it ends.
func (m *Metrics) Started(operation string) func(codes.Code) {
	if m == nil {
		return func(codes.Code) {}
	}
	start := time.Now()
	m.inFlight.Inc()
	return func(code codes.Code) {
		m.inFlight.Dec()
		m.operations.WithLabelValues(operation).Inc()
		m.latency.WithLabelValues(operation).Observe(time.Since(start).Seconds())
		if code != codes.OK {
			m.errors.WithLabelValues(operation, code.String()).Inc()
		}
	}
}

// ImagePulled records a finished pull.
func (m *Metrics) ImagePulled(bytes int64, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.pulls.WithLabelValues(result).Inc()
	if bytes > 0 {
		m.pullBytes.Add(float64(bytes))
	}
	m.pullSeconds.Observe(d.Seconds())
}

// OOMKilled records a container killed for memory.
func (m *Metrics) OOMKilled() {
	if m != nil {
		m.ooms.Inc()
	}
}

type stateCollector struct {
	count func() map[string]int
	desc  *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for state, n := range c.count() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}
