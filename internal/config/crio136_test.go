package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

const crio136Conf = "testdata/crio-1.36.conf"

// TestCRIO136ConfigLoadsWithoutWarnings feeds a CRI-O 1.36 configuration,
// with every key crio.conf(5) documents set, through Load: no key may be
// unknown, and the effective values must be the file's (after CRI-O's own
// translations).
func TestCRIO136ConfigLoadsWithoutWarnings(t *testing.T) {
	l, err := Load(crio136Conf, "", true, false)
	if err != nil {
		t.Fatalf("CRI-O 1.36 config does not load: %v", err)
	}
	if len(l.Warnings) != 0 {
		t.Fatalf("CRI-O 1.36 config gives warnings:\n%s", strings.Join(l.Warnings, "\n"))
	}
	c := l.Config
	crun, runc := c.Runtime.Runtimes["crun"], c.Runtime.Runtimes["runc"]
	mgmt := c.Runtime.Workloads["management"]
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		// [crio]
		{"crio.root", c.Root, "/var/lib/containers/storage"},
		{"crio.storage_option", c.StorageOptions, []string{"overlay.mountopt=nodev,metacopy=on"}},
		{"crio.imagestore", c.ImageStore, ""},
		{"crio.internal_wipe", c.InternalWipe, true},
		{"crio.internal_repair", c.InternalRepair, true},
		{"crio.clean_shutdown_file", c.CleanShutdownFile, "/var/lib/crio/clean.shutdown"},
		// [crio.api]
		{"crio.api.listen", c.API.Listen, "/var/run/crio/crio.sock"},
		{"crio.api.stream_idle_timeout", c.API.StreamIdleTimeout, Duration(0)},
		{"crio.api.tls_min_version", c.API.TLSMinVersion, "VersionTLS12"},
		{"crio.api.tls_cipher_suites", c.API.TLSCipherSuites, []string{}},
		{"crio.api.grpc_max_send_msg_size", c.API.GRPCMaxSendMsgSize, 83886080},
		// [crio.runtime]
		{"crio.runtime.default_runtime", c.Runtime.DefaultRuntime, "crun"},
		{"crio.runtime.cgroup_manager", c.Runtime.CgroupManager, "systemd"},
		{"crio.runtime.default_ulimits", c.Runtime.DefaultUlimits, []string{"nofile=1024:2048"}},
		{"crio.runtime.default_env", c.Runtime.DefaultEnv, []string{"NSS_SDB_USE_CACHE=no"}},
		{"crio.runtime.default_sysctls", c.Runtime.DefaultSysctls, []string{"net.ipv4.ping_group_range = 0   2147483647"}},
		{"crio.runtime.apparmor_profile", c.Runtime.ApparmorProfile, "crio-default"},
		{"crio.runtime.namespaces_dir", c.Runtime.NamespacesDir, "/var/run"},
		{"crio.runtime.absent_mount_sources_to_reject", c.Runtime.AbsentMountSourcesToReject, []string{"/etc/hostname"}},
		{"crio.runtime.hooks_dir", c.Runtime.HooksDir, []string{"/usr/share/containers/oci/hooks.d"}},
		{"crio.runtime.no_pivot", c.Runtime.NoPivot, false},
		{"crio.runtime.decryption_keys_path", c.Runtime.DecryptionKeysPath, "/etc/crio/keys/"},
		{"crio.runtime.additional_artifact_stores", c.Runtime.AdditionalArtifactStores, []string{}},
		{"crio.runtime.conmon_cgroup", c.Runtime.ConmonCgroup, ""},
		{"crio.runtime.min_injected_gomaxprocs", c.Runtime.MinInjectedGOMAXPROCS, int64(0)},
		{"crio.runtime.privileged_seccomp_profile", c.Runtime.PrivilegedSeccompProfile, ""},
		{"crio.runtime.blockio_config_file", c.Runtime.BlockIOConfigFile, ""},
		{"crio.runtime.blockio_reload", c.Runtime.BlockIOReload, false},
		{"crio.runtime.irqbalance_config_file", c.Runtime.IrqBalanceConfigFile, "/etc/sysconfig/irqbalance"},
		{"crio.runtime.irqbalance_config_restore_file", c.Runtime.IrqBalanceConfigRestoreFile, "/etc/sysconfig/orig_irq_banned_cpus"},
		{"crio.runtime.rdt_config_file", c.Runtime.RdtConfigFile, ""},
		{"crio.runtime.separate_pull_cgroup", c.Runtime.SeparatePullCgroup, ""},
		{"crio.runtime.allowed_devices", c.Runtime.AllowedDevices, []string{"/dev/fuse", "/dev/net/tun"}},
		{"crio.runtime.device_ownership_from_security_context", c.Runtime.DeviceOwnershipFromSecurityContext, false},
		{"crio.runtime.default_mounts", c.Runtime.DefaultMounts, []string{}},
		{"crio.runtime.default_mounts_file", c.Runtime.DefaultMountsFile, "/etc/containers/mounts.conf"},
		{"crio.runtime.log_filter", c.Runtime.LogFilter, ""},
		{"crio.runtime.log_to_journald", c.Runtime.LogToJournald, false},
		{"crio.runtime.bind_mount_prefix", c.Runtime.BindMountPrefix, ""},
		{"crio.runtime.uid_mappings", c.Runtime.UIDMappings, ""},
		{"crio.runtime.gid_mappings", c.Runtime.GIDMappings, ""},
		{"crio.runtime.minimum_mappable_uid", c.Runtime.MinimumMappableUID, int64(-1)},
		{"crio.runtime.minimum_mappable_gid", c.Runtime.MinimumMappableGID, int64(-1)},
		{"crio.runtime.infra_ctr_cpuset", c.Runtime.InfraCtrCPUSet, ""},
		{"crio.runtime.shared_cpuset", c.Runtime.SharedCPUSet, ""},
		{"crio.runtime.pinns_path", c.Runtime.PinnsPath, "/usr/bin/pinns"},
		{"crio.runtime.enable_criu_support", c.Runtime.EnableCriuSupport, true},
		{"crio.runtime.enable_pod_events", c.Runtime.EnablePodEvents, false},
		{"crio.runtime.hostnetwork_disable_selinux", c.Runtime.HostNetworkDisableSELinux, true},
		{"crio.runtime.disable_hostport_mapping", c.Runtime.DisableHostPortMapping, false},
		{"crio.runtime.timezone", c.Runtime.Timezone, "Local"},
		// [crio.runtime.runtimes.NAME]
		{"crio.runtime.runtimes.crun.runtime_path", crun.RuntimePath, "/usr/bin/crun"},
		{"crio.runtime.runtimes.crun.monitor_path", crun.MonitorPath, "/usr/libexec/crio/conmon"},
		{"crio.runtime.runtimes.crun.monitor_cgroup", crun.MonitorCgroup, "system.slice"},
		{"crio.runtime.runtimes.crun.allowed_annotations", crun.AllowedAnnotations, []string{"io.containers.trace-syscall", "io.kubernetes.cri-o.Devices"}},
		{"crio.runtime.runtimes.crun.platform_runtime_paths", crun.PlatformRuntimePaths, map[string]string{"linux/amd64": "/usr/bin/crun"}},
		{"crio.runtime.runtimes.crun.runtime_config_path", crun.RuntimeConfigPath, ""},
		{"crio.runtime.runtimes.crun.container_min_memory", crun.ContainerMinMemory, "500KiB"},
		{"crio.runtime.runtimes.crun.monitor_exec_cgroup", crun.MonitorExecCgroup, ""},
		{"crio.runtime.runtimes.crun.default_annotations", crun.DefaultAnnotations, map[string]string{"run.oci.keep_original_groups": "1"}},
		{"crio.runtime.runtimes.crun.no_sync_log", crun.NoSyncLog, false},
		{"crio.runtime.runtimes.crun.stream_websockets", crun.StreamWebsockets, false},
		{"crio.runtime.runtimes.crun.seccomp_profile", crun.SeccompProfile, ""},
		{"crio.runtime.runtimes.crun.container_create_timeout", crun.ContainerCreateTimeout, int64(240)},
		{"crio.runtime.runtimes.crun.exec_cpu_affinity", crun.ExecCPUAffinity, ""},
		{"crio.runtime.runtimes.crun.privileged_without_host_devices", crun.PrivilegedWithoutHostDevices, false},
		// inherit_default_runtime takes crun's runtime, as in CRI-O.
		{"crio.runtime.runtimes.runc.inherit_default_runtime", runc.InheritDefaultRuntime, true},
		{"crio.runtime.runtimes.runc.runtime_path (inherited)", runc.RuntimePath, "/usr/bin/crun"},
		{"crio.runtime.runtimes.runc.runtime_root (inherited)", runc.RuntimeRoot, "/run/crun"},
		{"crio.runtime.runtimes.runc.monitor_cgroup", runc.MonitorCgroup, "pod"},
		// [crio.runtime.workloads.NAME]
		{"crio.runtime.workloads.management.activation_annotation", mgmt.ActivationAnnotation, "target.workload.openshift.io/management"},
		{"crio.runtime.workloads.management.annotation_prefix", mgmt.AnnotationPrefix, "resources.workload.openshift.io"},
		{"crio.runtime.workloads.management.allowed_annotations", mgmt.AllowedAnnotations, []string{"io.kubernetes.cri-o.userns-mode"}},
		{"crio.runtime.workloads.management.resources", mgmt.Resources, WorkloadResources{CPUSet: "0-1", CPUShares: 1024}},
		// [crio.image]
		{"crio.image.pause_image", c.Image.PauseImage, "registry.k8s.io/pause:3.10.1"},
		{"crio.image.global_auth_file", c.Image.GlobalAuthFile, "/var/lib/kubelet/config.json"},
		{"crio.image.pinned_images", c.Image.PinnedImages, []string{"registry.k8s.io/pause:3.10.1"}},
		{"crio.image.big_files_temporary_dir", c.Image.BigFilesTemporaryDir, "/var/tmp"},
		{"crio.image.auto_reload_registries", c.Image.AutoReloadRegistries, false},
		{"crio.image.oci_artifact_mount_support", c.Image.OCIArtifactMountSupport, true},
		{"crio.image.separate_pull_cgroup", c.Image.SeparatePullCgroup, ""},
		// [crio.network]
		{"crio.network.cni_default_network", c.Network.CNIDefaultNetwork, "crio"},
		{"crio.network.plugin_dirs", c.Network.PluginDirs, []string{"/opt/cni/bin/"}},
		{"crio.network.cni_status_grace_period", c.Network.CNIStatusGracePeriod, Duration(0)},
		// [crio.metrics]
		{"crio.metrics.metrics_port", c.Metrics.MetricsPort, 9090},
		{"crio.metrics.metrics_collectors", len(c.Metrics.MetricsCollectors), 16},
		{"crio.metrics.metrics_cert", c.Metrics.MetricsCert, ""},
		{"crio.metrics.metrics_key", c.Metrics.MetricsKey, ""},
		// [crio.tracing]
		{"crio.tracing.enable_tracing", c.Tracing.EnableTracing, false},
		{"crio.tracing.tracing_endpoint", c.Tracing.TracingEndpoint, "127.0.0.1:4317"},
		{"crio.tracing.tracing_sampling_rate_per_million", c.Tracing.TracingSamplingRatePerMillion, IntOrEmpty(0)},
		// [crio.nri], [crio.nri.default_validator]
		{"crio.nri.nri_plugin_registration_timeout", c.NRI.PluginRegistrationTimeout, Duration(5 * time.Second)},
		{"crio.nri.default_validator.nri_validator_required_plugins", c.NRI.DefaultValidator.RequiredPlugins, []string{}},
		// [crio.stats]
		{"crio.stats.included_pod_metrics", c.Stats.IncludedPodMetrics, []string{"cpu", "memory", "network"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.key, tc.got, tc.want)
		}
	}
}

// TestCRIO136ConfigRoundTripsThroughCrioConfig checks what `crio config`
// prints for a CRI-O 1.36 configuration: it loads back without a warning to
// the same values, and it still holds every key the CRI-O file set (none is
// dropped on the way).
func TestCRIO136ConfigRoundTripsThroughCrioConfig(t *testing.T) {
	l, err := Load(crio136Conf, "", true, false)
	if err != nil {
		t.Fatal(err)
	}
	printed := l.Config.String()
	again, err := Load(write(t, filepath.Join(t.TempDir(), "printed.conf"), printed), "", true, false)
	if err != nil {
		t.Fatalf("crio config's output does not load: %v", err)
	}
	if len(again.Warnings) != 0 {
		t.Errorf("crio config's output gives warnings: %v", again.Warnings)
	}
	// Every key is printed, so equal texts are equal values (up to nil
	// and empty lists, which both print as []).
	if second := again.Config.String(); second != printed {
		t.Errorf("values changed on a round trip through crio config:\n%s", lineDiff(printed, second))
	}
	if again.Runtime.Runtimes["crun"].ContainerCreateTimeout != 240 || again.Runtime.Workloads["management"].Resources.CPUShares != 1024 ||
		again.Runtime.Timezone != "Local" || again.Runtime.PinnsPath != "/usr/bin/pinns" {
		t.Errorf("values changed on a round trip through crio config: %+v", again.Runtime)
	}

	data, err := os.ReadFile(crio136Conf)
	if err != nil {
		t.Fatal(err)
	}
	in, out := tomlKeys(t, string(data)), tomlKeys(t, printed)
	for _, k := range in {
		if !slices.Contains(out, k) {
			t.Errorf("crio config drops %s, which the CRI-O 1.36 file sets", k)
		}
	}
}

// TestCRIO136DocumentedValueForms loads the value forms crio.conf(5) and
// CRI-O's own decoder allow that differ from what `crio config` writes.
func TestCRIO136DocumentedValueForms(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		check      func(*Config) error
	}{
		{"stream_idle_timeout as a duration", "[crio.api]\nstream_idle_timeout = \"4h\"\n", func(c *Config) error {
			return want(c.API.StreamIdleTimeout, Duration(4*time.Hour))
		}},
		{"tracing_sampling_rate_per_million empty", "[crio.tracing]\ntracing_sampling_rate_per_million = \"\"\n", func(c *Config) error {
			return want(c.Tracing.TracingSamplingRatePerMillion, IntOrEmpty(0))
		}},
		{"tracing_sampling_rate_per_million integer", "[crio.tracing]\ntracing_sampling_rate_per_million = 1000000\n", func(c *Config) error {
			return want(c.Tracing.TracingSamplingRatePerMillion, IntOrEmpty(1000000))
		}},
		{"workload cpushares empty", "[crio.runtime.workloads.w]\nactivation_annotation = \"a\"\n[crio.runtime.workloads.w.resources]\ncpushares = \"\"\ncpuset = \"\"\n", func(c *Config) error {
			return want(c.Runtime.Workloads["w"].Resources, WorkloadResources{})
		}},
		{"separate_pull_cgroup in [crio.image] as crio.conf(5) lists it", "[crio.image]\nseparate_pull_cgroup = \"pod\"\n", func(c *Config) error {
			return want(c.Image.SeparatePullCgroup, "pod")
		}},
		{"included_pod_metrics all is every group", "[crio.stats]\nincluded_pod_metrics = [\"all\"]\n", func(c *Config) error {
			return want(len(c.Stats.IncludedPodMetrics), 0)
		}},
		{"included_pod_metrics hugetlb and pressure", "[crio.stats]\nincluded_pod_metrics = [\"hugetlb\", \"pressure\"]\n", func(c *Config) error {
			return want(c.Stats.IncludedPodMetrics, []string{"hugetlb", "pressure"})
		}},
		{"conmon_cgroup replaces monitor_cgroup", "[crio.runtime]\nconmon_cgroup = \"system.slice\"\n", func(c *Config) error {
			return want(c.Runtime.Runtimes["runc"].MonitorCgroup+" "+c.Runtime.Runtimes["crun"].MonitorCgroup, "system.slice system.slice")
		}},
		{"grpc sizes of 0 or less are 80 MiB", "[crio.api]\ngrpc_max_send_msg_size = 0\ngrpc_max_recv_msg_size = -1\n", func(c *Config) error {
			return want([2]int{c.API.GRPCMaxSendMsgSize, c.API.GRPCMaxRecvMsgSize}, [2]int{83886080, 83886080})
		}},
		{"plugin_dir is appended to plugin_dirs", "[crio.network]\nplugin_dir = \"/usr/libexec/cni\"\nplugin_dirs = [\"/opt/cni/bin/\"]\n", func(c *Config) error {
			return want(c.Network.PluginDirs, []string{"/opt/cni/bin/", "/usr/libexec/cni"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Load(write(t, filepath.Join(t.TempDir(), "c.conf"), tc.toml), "", true, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Warnings) != 0 {
				t.Errorf("warnings: %v", l.Warnings)
			}
			if err := tc.check(l.Config); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCRIO136IgnoredSecurityKeysWarn: a CRI-O key crio accepts but does not
// honour, set to a value whose being ignored weakens security, is named.
func TestCRIO136IgnoredSecurityKeysWarn(t *testing.T) {
	for key, conf := range map[string]string{
		"crio.api.tls_min_version":                   "[crio.api]\ntls_min_version = \"VersionTLS13\"\n",
		"crio.api.tls_cipher_suites":                 "[crio.api]\ntls_cipher_suites = [\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"]\n",
		"crio.metrics.metrics_cert":                  "[crio.metrics]\nmetrics_cert = \"/etc/crio/metrics.crt\"\n",
		"crio.runtime.privileged_seccomp_profile":    "[crio.runtime]\nprivileged_seccomp_profile = \"/etc/crio/priv.json\"\n",
		"crio.runtime.uid_mappings":                  "[crio.runtime]\nuid_mappings = \"0:100000:65536\"\n",
		"crio.runtime.runtimes.runc.seccomp_profile": "[crio.runtime.runtimes.runc]\nseccomp_profile = \"/etc/crio/runc.json\"\n",
	} {
		l, err := Load(write(t, filepath.Join(t.TempDir(), "c.conf"), conf), "", true, false)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], key) {
			t.Errorf("%s set: warnings %q, want one naming it", key, l.Warnings)
		}
	}
}

func want(got, want any) error {
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("got %#v, want %#v", got, want)
	}
	return nil
}

// tomlKeys lists the dotted keys (not tables) a TOML text sets.
func tomlKeys(t *testing.T, text string) []string {
	t.Helper()
	var v map[string]any
	md, err := toml.Decode(text, &v)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range md.Keys() {
		if md.Type(k...) != "Hash" {
			keys = append(keys, k.String())
		}
	}
	return keys
}
