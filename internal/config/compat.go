package config

import (
	"fmt"
	"os/exec"
	"slices"
)

// normalize applies, once every file is merged, the translations CRI-O
// makes of its deprecated or derived keys, so that the effective values
// (and `crio config`) are CRI-O's. It is idempotent: a configuration that
// WriteTOML printed loads back to the same values.
func (c *Config) normalize() {
	// A gRPC message size of 0 or less is 80 MiB.
	if c.API.GRPCMaxSendMsgSize <= 0 {
		c.API.GRPCMaxSendMsgSize = 80 * 1024 * 1024
	}
	if c.API.GRPCMaxRecvMsgSize <= 0 {
		c.API.GRPCMaxRecvMsgSize = 80 * 1024 * 1024
	}
	r := &c.Runtime
	// conmon_cgroup replaces every handler's monitor_cgroup.
	if r.ConmonCgroup != "" {
		for name, h := range r.Runtimes {
			h.MonitorCgroup = r.ConmonCgroup
			r.Runtimes[name] = h
		}
	}
	// inherit_default_runtime copies the default handler's runtime; an
	// empty runtime_path there means the default runtime's name in PATH.
	if def, ok := r.Runtimes[r.DefaultRuntime]; ok {
		for name, h := range r.Runtimes {
			if !h.InheritDefaultRuntime || name == r.DefaultRuntime {
				continue
			}
			h.RuntimePath, h.RuntimeType, h.RuntimeConfigPath, h.RuntimeRoot = def.RuntimePath, def.RuntimeType, def.RuntimeConfigPath, def.RuntimeRoot
			if h.RuntimePath == "" {
				if p, err := exec.LookPath(r.DefaultRuntime); err == nil {
					h.RuntimePath = p
				}
			}
			r.Runtimes[name] = h
		}
	}
	// plugin_dir is appended to plugin_dirs.
	if d := c.Network.PluginDir; d != "" {
		if !slices.Contains(c.Network.PluginDirs, d) {
			c.Network.PluginDirs = append(c.Network.PluginDirs, d)
		}
		c.Network.PluginDir = ""
	}
	// "all" pod metrics is crio's empty list.
	if slices.Contains(c.Stats.IncludedPodMetrics, "all") {
		c.Stats.IncludedPodMetrics = nil
	}
}

// compatWarnings names the CRI-O keys that are set to a value crio does
// not honour and whose being ignored weakens security, so that nobody
// believes they are in force.
func (c *Config) compatWarnings() []string {
	var w []string
	ignored := func(key, instead string) {
		w = append(w, fmt.Sprintf("%s is set but not supported by crio: %s", key, instead))
	}
	if c.API.TLSMinVersion == "VersionTLS13" {
		ignored("crio.api.tls_min_version", "the streaming server also accepts TLS 1.2")
	}
	if len(c.API.TLSCipherSuites) != 0 {
		ignored("crio.api.tls_cipher_suites", "TLS 1.2 uses Go's default cipher suites")
	}
	if c.Metrics.MetricsCert != "" || c.Metrics.MetricsKey != "" {
		ignored("crio.metrics.metrics_cert/metrics_key", "the metrics endpoint serves plain HTTP")
	}
	if c.Runtime.PrivilegedSeccompProfile != "" {
		ignored("crio.runtime.privileged_seccomp_profile", "privileged containers run without a seccomp filter")
	}
	if c.Runtime.UIDMappings != "" || c.Runtime.GIDMappings != "" {
		ignored("crio.runtime.uid_mappings/gid_mappings", "pods get a user namespace only when the kubelet asks for one")
	}
	for _, name := range handlerNames(c.Runtime.Runtimes) {
		h := c.Runtime.Runtimes[name]
		if h.SeccompProfile != "" {
			ignored("crio.runtime.runtimes."+name+".seccomp_profile", "[crio.runtime] seccomp_profile applies")
		}
	}
	return w
}

// MinCtrStopTimeout is the lowest ctr_stop_timeout, in seconds, as in CRI-O.
const MinCtrStopTimeout = 30

// raiseToMinimums raises the keys CRI-O raises to a floor, with CRI-O's
// warning. A negative value is left for validate to refuse.
func (c *Config) raiseToMinimums() []string {
	var w []string
	if t := c.Runtime.CtrStopTimeout; t >= 0 && t < MinCtrStopTimeout {
		c.Runtime.CtrStopTimeout = MinCtrStopTimeout
		w = append(w, fmt.Sprintf("crio.runtime.ctr_stop_timeout = %d is below the lowest possible value: forced to %ds, as CRI-O does", t, MinCtrStopTimeout))
	}
	return w
}
