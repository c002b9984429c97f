package config

import (
	"slices"
	"strings"
)

// CRIOMetricsCollectors are CRI-O 1.36's metrics collector names, its default
// metrics_collectors. crio serves a family for some of them (see
// metrics.New); the others are accepted so that a CRI-O configuration loads,
// and serve nothing.
var CRIOMetricsCollectors = []string{
	"image_pulls_layer_size", "containers_events_dropped_total", "containers_oom_total",
	"processes_defunct", "operations_total", "operations_latency_seconds",
	"operations_latency_seconds_total", "operations_errors_total", "image_pulls_bytes_total",
	"image_pulls_skipped_bytes_total", "image_pulls_failure_total", "image_pulls_success_total",
	"image_layer_reuse_total", "containers_oom_count_total",
	"containers_seccomp_notifier_count_total", "resources_stalled_at_stage",
	"containers_stopped_monitor_count", "default_runtime",
}

// CrioMetricsCollectors are the collectors of crio's own metric families,
// which CRI-O does not have.
var CrioMetricsCollectors = []string{"operations_in_flight", "image_pulls_duration_seconds", "containers"}

// MetricsCollectorName is a metrics_collectors entry without the "crio_" or
// "container_runtime_" prefix CRI-O allows on it.
func MetricsCollectorName(s string) string {
	return strings.TrimPrefix(strings.TrimPrefix(s, "container_runtime_"), "crio_")
}

// knownMetricsCollector reports whether name (prefix or not) is a collector
// of CRI-O or crio.
func knownMetricsCollector(name string) bool {
	n := MetricsCollectorName(name)
	return slices.Contains(CRIOMetricsCollectors, n) || slices.Contains(CrioMetricsCollectors, n)
}
