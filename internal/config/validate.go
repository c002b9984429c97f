package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
)

var (
	sysctlKey = regexp.MustCompile(`^[a-z0-9_]+([./][a-z0-9_-]+)+$`)
	ulimitRe  = regexp.MustCompile(`^([a-z]+)=(-?[0-9]+)(:(-?[0-9]+))?$`)
)

// ParseLogLevel maps a config log level to slog's.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal", "panic":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}

// IsValidCapability reports whether name ("NET_RAW" or "CAP_NET_RAW") is a
// Linux capability this build knows.
func IsValidCapability(name string) bool {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	if n == "ALL" {
		return true
	}
	for _, c := range capability.ListKnown() {
		if strings.ToUpper(c.String()) == n {
			return true
		}
	}
	return false
}

func validate(c *Config) []*FieldError {
	var errs []*FieldError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	abs := func(key, v string, required bool) {
		if v == "" {
			if required {
				bad(key, "must be set")
			}
			return
		}
		if !filepath.IsAbs(v) {
			bad(key, "%q is not an absolute path", v)
		}
	}

	abs("crio.root", c.Root, true)
	abs("crio.runroot", c.RunRoot, true)
	abs("crio.log_dir", c.LogDir, true)
	switch c.StorageDriver {
	case "overlay", "overlay2", "vfs", "":
	default:
		bad("crio.storage_driver", "%q is not supported (use \"overlay\" or \"vfs\")", c.StorageDriver)
	}

	abs("crio.api.listen", c.API.Listen, true)
	if c.API.StreamAddress != "" && net.ParseIP(c.API.StreamAddress) == nil {
		bad("crio.api.stream_address", "%q is not an IP address", c.API.StreamAddress)
	}
	if p, err := strconv.Atoi(c.API.StreamPort); err != nil || p < 0 || p > 65535 {
		bad("crio.api.stream_port", "%q is not a port number (0-65535)", c.API.StreamPort)
	}
	if c.API.StreamEnableTLS && (c.API.StreamTLSCert == "" || c.API.StreamTLSKey == "") {
		bad("crio.api.stream_enable_tls", "TLS needs both stream_tls_cert and stream_tls_key")
	}
	if c.API.GRPCMaxSendMsgSize <= 0 {
		bad("crio.api.grpc_max_send_msg_size", "must be positive, got %d", c.API.GRPCMaxSendMsgSize)
	}
	if c.API.GRPCMaxRecvMsgSize <= 0 {
		bad("crio.api.grpc_max_recv_msg_size", "must be positive, got %d", c.API.GRPCMaxRecvMsgSize)
	}
	if c.API.StreamIdleTimeout < 0 || c.API.ShutdownGracePeriod < 0 {
		bad("crio.api", "durations may not be negative")
	}

	r := &c.Runtime
	if len(r.Runtimes) == 0 {
		bad("crio.runtime.runtimes", "no runtime handler is configured")
	}
	if _, ok := r.Runtimes[r.DefaultRuntime]; !ok {
		bad("crio.runtime.default_runtime", "%q is not a configured handler (have %s)", r.DefaultRuntime, strings.Join(handlerNames(r.Runtimes), ", "))
	}
	for _, name := range handlerNames(r.Runtimes) {
		h := r.Runtimes[name]
		key := "crio.runtime.runtimes." + name
		if name == "" {
			bad(key, "a handler needs a name")
		}
		switch h.RuntimeType {
		case "", "oci":
		default:
			bad(key+".runtime_type", "%q is not supported (only \"oci\")", h.RuntimeType)
		}
		abs(key+".runtime_path", h.RuntimePath, false)
		abs(key+".runtime_root", h.RuntimeRoot, false)
		abs(key+".monitor_path", h.MonitorPath, false)
		if h.ContainerMinMemory != "" {
			if _, err := ParseMemorySize(h.ContainerMinMemory); err != nil {
				bad(key+".container_min_memory", "%v", err)
			}
		}
		switch h.ExecCPUAffinity {
		case "", "first":
		default:
			bad(key+".exec_cpu_affinity", "%q is not \"\" or \"first\"", h.ExecCPUAffinity)
		}
		switch h.MonitorCgroup {
		case "", "pod", "system.slice":
		default:
			if !strings.HasSuffix(h.MonitorCgroup, ".slice") && !filepath.IsAbs(h.MonitorCgroup) {
				bad(key+".monitor_cgroup", "%q is neither \"pod\", a slice nor an absolute cgroup path", h.MonitorCgroup)
			}
		}
	}
	abs("crio.runtime.conmon", r.Conmon, false)
	for _, d := range r.AdditionalArtifactStores {
		abs("crio.runtime.additional_artifact_stores", d, true)
	}
	switch c.API.TLSMinVersion {
	case "", "VersionTLS12", "VersionTLS13":
	default:
		bad("crio.api.tls_min_version", "%q is not \"VersionTLS12\" or \"VersionTLS13\"", c.API.TLSMinVersion)
	}
	switch r.CgroupManager {
	case "", "cgroupfs", "systemd":
	default:
		bad("crio.runtime.cgroup_manager", "%q is not \"cgroupfs\" or \"systemd\"", r.CgroupManager)
	}
	for _, cp := range r.DefaultCapabilities {
		if !IsValidCapability(cp) {
			bad("crio.runtime.default_capabilities", "%q is not a known capability", cp)
		}
	}
	for _, s := range r.DefaultSysctls {
		// CRI-O trims spaces around the key and value ("k = v").
		k, _, ok := strings.Cut(s, "=")
		if !ok || !sysctlKey.MatchString(strings.TrimSpace(k)) {
			bad("crio.runtime.default_sysctls", "%q is not of the form key=value", s)
		}
	}
	for _, u := range r.DefaultUlimits {
		if !ulimitRe.MatchString(u) {
			bad("crio.runtime.default_ulimits", "%q is not of the form name=soft[:hard]", u)
		}
	}
	for _, e := range append(append([]string{}, r.DefaultEnv...), r.ConmonEnv...) {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			bad("crio.runtime.default_env", "%q is not of the form NAME=value", e)
		}
	}
	for _, d := range r.AdditionalDevices {
		if _, _, _, err := ParseDevice(d); err != nil {
			bad("crio.runtime.additional_devices", "%v", err)
		}
	}
	for _, d := range r.AllowedDevices {
		abs("crio.runtime.allowed_devices", d, true)
	}
	abs("crio.runtime.default_mounts_file", r.DefaultMountsFile, false)
	if _, err := ReadMountsConf(MountsFile(r.DefaultMountsFile)); err != nil {
		bad("crio.runtime.default_mounts_file", "%v", err)
	}
	for _, d := range r.CDISpecDirs {
		abs("crio.runtime.cdi_spec_dirs", d, true)
	}
	abs("crio.runtime.container_exits_dir", r.ContainerExitsDir, true)
	abs("crio.runtime.container_attach_socket_dir", r.ContainerAttachSocketDir, true)
	abs("crio.runtime.namespaces_dir", r.NamespacesDir, true)
	abs("crio.runtime.seccomp_profile", r.SeccompProfile, false)
	for _, d := range r.HooksDir {
		abs("crio.runtime.hooks_dir", d, true)
	}
	if _, err := ParseLogLevel(r.LogLevel); err != nil {
		bad("crio.runtime.log_level", "%v", err)
	}
	switch r.LogFormat {
	case "text", "json", "":
	default:
		bad("crio.runtime.log_format", "%q is not \"text\" or \"json\"", r.LogFormat)
	}
	if r.CtrStopTimeout < 0 {
		bad("crio.runtime.ctr_stop_timeout", "may not be negative, got %d", r.CtrStopTimeout)
	}
	if r.LogSizeMax < -1 || (r.LogSizeMax >= 0 && r.LogSizeMax < 8192) {
		bad("crio.runtime.log_size_max", "must be -1 (unlimited) or at least 8192 bytes, got %d", r.LogSizeMax)
	}

	im := &c.Image
	if im.PauseImage == "" {
		bad("crio.image.pause_image", "must be set")
	}
	switch im.ImageVolumes {
	case "mkdir", "bind", "ignore":
	default:
		bad("crio.image.image_volumes", "%q is not \"mkdir\", \"bind\" or \"ignore\"", im.ImageVolumes)
	}
	switch im.ShortNameMode {
	case "enforcing", "disabled", "permissive", "":
	default:
		bad("crio.image.short_name_mode", "%q is not \"enforcing\" or \"disabled\"", im.ShortNameMode)
	}
	if im.MaxParallelDownloads < 0 {
		bad("crio.image.max_parallel_downloads", "may not be negative")
	}
	if im.PullProgressTimeout < 0 {
		bad("crio.image.pull_progress_timeout", "may not be negative")
	}
	for _, p := range im.PinnedImages {
		if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
			bad("crio.image.pinned_images", "%q: a pattern is an exact name or a prefix ending in a single \"*\"", p)
		}
	}
	abs("crio.image.signature_policy", im.SignaturePolicy, false)
	abs("crio.image.registries_conf", im.RegistriesConf, false)
	abs("crio.image.global_auth_file", im.GlobalAuthFile, false)

	abs("crio.network.network_dir", c.Network.NetworkDir, true)
	if len(c.Network.PluginDirs) == 0 {
		bad("crio.network.plugin_dirs", "at least one plugin directory is needed")
	}
	for _, d := range c.Network.PluginDirs {
		abs("crio.network.plugin_dirs", d, true)
	}

	if c.Metrics.MetricsPort < 0 || c.Metrics.MetricsPort > 65535 {
		bad("crio.metrics.metrics_port", "%d is not a port number (0-65535)", c.Metrics.MetricsPort)
	}
	if c.Metrics.EnableMetrics && c.Metrics.MetricsSocket == "" && net.ParseIP(c.Metrics.MetricsHost) == nil && c.Metrics.MetricsHost != "localhost" {
		bad("crio.metrics.metrics_host", "%q is not an IP address", c.Metrics.MetricsHost)
	}
	for _, n := range c.Metrics.MetricsCollectors {
		if !knownMetricsCollector(n) {
			bad("crio.metrics.metrics_collectors", "%q is not a metrics collector (CRI-O's: %s; crio's: %s)", n,
				strings.Join(CRIOMetricsCollectors, ", "), strings.Join(CrioMetricsCollectors, ", "))
		}
	}
	if c.Stats.StatsCollectionPeriod < 0 {
		bad("crio.stats.stats_collection_period", "may not be negative, got %d", c.Stats.StatsCollectionPeriod)
	}
	if c.Stats.CollectionPeriod < 0 {
		bad("crio.stats.collection_period", "may not be negative, got %d", c.Stats.CollectionPeriod)
	}
	for _, g := range c.Stats.IncludedPodMetrics {
		switch g {
		case "cpu", "memory", "network", "oom", "process", "disk", "diskIO", "spec", "hugetlb", "pressure":
		default:
			bad("crio.stats.included_pod_metrics", "%q is not a metric group (cpu, memory, network, oom, process, disk, diskIO, spec, hugetlb, pressure or all)", g)
		}
	}
	if c.NRI.PluginRegistrationTimeout < 0 || c.NRI.PluginRequestTimeout < 0 {
		bad("crio.nri", "timeouts may not be negative")
	}
	if c.NRI.Enabled && !c.NRI.DisableConnections && !filepath.IsAbs(c.NRI.SocketPath) {
		bad("crio.nri.nri_listen", "must be an absolute path, got %q", c.NRI.SocketPath)
	}
	if c.NRI.Enabled && c.NRI.PluginPath != "" && !filepath.IsAbs(c.NRI.PluginPath) {
		bad("crio.nri.nri_plugin_dir", "must be an absolute path, got %q", c.NRI.PluginPath)
	}
	if tz := c.Runtime.Timezone; tz != "" && tz != "Local" {
		if _, err := os.Stat(ZoneinfoPath(tz)); err != nil || filepath.IsAbs(tz) || slices.Contains(strings.Split(tz, "/"), "..") {
			bad("crio.runtime.timezone", "%q is not a timezone of the host's zoneinfo (like \"Europe/Paris\", or \"Local\")", tz)
		}
	}
	c.Limits.validate(bad)
	return errs
}

// ZoneinfoPath is the host file a container's /etc/localtime is mounted
// from for timezone tz ("" for none).
func ZoneinfoPath(tz string) string {
	switch tz {
	case "":
		return ""
	case "Local":
		return "/etc/localtime"
	}
	return filepath.Join("/usr/share/zoneinfo", tz)
}

func handlerNames(m map[string]RuntimeHandler) []string { return slices.Sorted(maps.Keys(m)) }

// HandlerNames lists the configured runtime handlers, sorted.
func (c *Config) HandlerNames() []string { return handlerNames(c.Runtime.Runtimes) }
