// Package config holds the daemon's configuration in CRI-O's TOML schema:
// defaults, the main file and its drop-ins, flag overrides and validation.
//
// Every field carries a `doc` tag; the commented TOML that `crio config`
// prints (and crio.conf.example) is generated from these tags and the
// defaults, so the documentation cannot drift from the code.
package config

import (
	"fmt"
	"time"
)

// Default locations, the same as CRI-O's.
const (
	DefaultConfigFile = "/etc/crio/crio.conf"
	DefaultConfigDir  = "/etc/crio/crio.conf.d"
	DefaultListen     = "/var/run/crio/crio.sock"
)

// Config is the whole [crio] table.
type Config struct {
	Root               string        `toml:"root" doc:"Path to the \"root directory\": persistent storage for images, containers and state."`
	RunRoot            string        `toml:"runroot" doc:"Path to the \"run directory\": non-persistent state (namespace pins, sockets, exit files)."`
	StorageDriver      string        `toml:"storage_driver" doc:"Storage driver for images and container layers (overlay)."`
	StorageOptions     []string      `toml:"storage_option" doc:"Options passed to the storage driver, such as \"overlay.mountopt=nodev\"."`
	StorageConf        string        `toml:"storage_conf" doc:"storage.conf honoured for options not set here; empty means the containers/storage default."`
	LogDir             string        `toml:"log_dir" doc:"Default directory for container logs when the kubelet gives none."`
	VersionFile        string        `toml:"version_file" doc:"File recording the daemon version, in the run root (a tmpfs), written at each start: its absence while version_file_persist exists means the node rebooted, and stale runtime state is cleaned up (images are kept)."`
	VersionFilePersist string        `toml:"version_file_persist" doc:"File recording the daemon version, in the persistent root, written at each start; it tells a restart or reboot from a first start."`
	CleanShutdownFile  string        `toml:"clean_shutdown_file" doc:"File written on a clean shutdown and removed at start; its absence at start means the last stop was unclean, and storage is checked and damaged layers, images and containers are removed (never the whole store)."`
	API                APIConfig     `toml:"api" doc:"The CRI gRPC and streaming endpoints."`
	Runtime            RuntimeConfig `toml:"runtime" doc:"Container runtime settings."`
	Image              ImageConfig   `toml:"image" doc:"Image pulling and storage."`
	Network            NetworkConfig `toml:"network" doc:"Pod networking through CNI."`
	Metrics            MetricsConfig `toml:"metrics" doc:"Prometheus metrics."`
	Stats              StatsConfig   `toml:"stats" doc:"Container and pod statistics."`
	NRI                NRIConfig     `toml:"nri" doc:"Node Resource Interface plugins."`
	Limits             LimitsConfig  `toml:"limits" doc:"Limits on what one request may ask for, so that a misbehaving client cannot exhaust the daemon; each refusal names its key. crio's own table (CRI-O has none)."`
}

// APIConfig is [crio.api].
type APIConfig struct {
	Listen              string   `toml:"listen" doc:"Path of the unix socket the CRI gRPC server listens on."`
	StreamAddress       string   `toml:"stream_address" doc:"IP address the streaming server (exec, attach, port-forward) listens on."`
	StreamPort          string   `toml:"stream_port" doc:"Port of the streaming server; \"0\" picks a free one."`
	StreamEnableTLS     bool     `toml:"stream_enable_tls" doc:"Serve the streaming endpoints over TLS."`
	StreamTLSCert       string   `toml:"stream_tls_cert" doc:"TLS certificate of the streaming server."`
	StreamTLSKey        string   `toml:"stream_tls_key" doc:"TLS key of the streaming server."`
	StreamTLSCA         string   `toml:"stream_tls_ca" doc:"CA to verify streaming clients' certificates; empty accepts any client."`
	StreamIdleTimeout   Duration `toml:"stream_idle_timeout" doc:"How long an idle streaming connection stays open."`
	GRPCMaxSendMsgSize  int      `toml:"grpc_max_send_msg_size" doc:"Largest gRPC message the server sends, in bytes."`
	GRPCMaxRecvMsgSize  int      `toml:"grpc_max_recv_msg_size" doc:"Largest gRPC message the server accepts, in bytes."`
	ShutdownGracePeriod Duration `toml:"shutdown_grace_period" doc:"How long in-flight RPCs may run after SIGTERM before they are cut."`
}

// RuntimeConfig is [crio.runtime].
type RuntimeConfig struct {
	DefaultRuntime             string                    `toml:"default_runtime" doc:"Runtime handler used when the kubelet names none."`
	Runtimes                   map[string]RuntimeHandler `toml:"runtimes" doc:"Runtime handlers, by the name the kubelet's RuntimeClass uses."`
	Conmon                     string                    `toml:"conmon" doc:"Path of conmon, the per-container monitor; empty looks it up in PATH. A handler's monitor_path overrides it."`
	ConmonEnv                  []string                  `toml:"conmon_env" doc:"Environment of conmon."`
	DefaultEnv                 []string                  `toml:"default_env" doc:"Environment added to every container."`
	CgroupManager              string                    `toml:"cgroup_manager" doc:"Cgroup driver: \"cgroupfs\" or \"systemd\"; empty detects it (systemd when it runs as PID 1)."`
	DefaultCapabilities        []string                  `toml:"default_capabilities" doc:"Capabilities of a container that asks for none."`
	AddInheritableCaps         bool                      `toml:"add_inheritable_capabilities" doc:"Also put the capabilities in the inheritable set."`
	DefaultSysctls             []string                  `toml:"default_sysctls" doc:"Sysctls applied to every pod, as \"key=value\"."`
	DefaultUlimits             []string                  `toml:"default_ulimits" doc:"Ulimits of every container, as \"nofile=1024:2048\"."`
	AdditionalDevices          []string                  `toml:"additional_devices" doc:"Devices added to every container, as \"/dev/src:/dev/dst:rwm\"."`
	CDISpecDirs                []string                  `toml:"cdi_spec_dirs" doc:"Directories searched for CDI device specifications, read at each CreateContainer that asks for CDI devices."`
	SeccompProfile             string                    `toml:"seccomp_profile" doc:"Path of the default seccomp profile (RuntimeDefault); empty uses the built-in one."`
	ApparmorProfile            string                    `toml:"apparmor_profile" doc:"Default AppArmor profile, where the host has AppArmor."`
	SELinux                    bool                      `toml:"selinux" doc:"Label containers with SELinux (not supported: requests for SELinux labels are refused)."`
	PidsLimit                  int64                     `toml:"pids_limit" doc:"Deprecated in CRI-O; kept for compatibility: -1 leaves the pids cgroup alone."`
	LogSizeMax                 int64                     `toml:"log_size_max" doc:"Largest container log file in bytes before conmon stops writing; -1 is unlimited."`
	ContainerExitsDir          string                    `toml:"container_exits_dir" doc:"Directory where conmon writes containers' exit files."`
	ContainerAttachSocketDir   string                    `toml:"container_attach_socket_dir" doc:"Directory of containers' attach sockets."`
	NamespacesDir              string                    `toml:"namespaces_dir" doc:"Directory where pods' namespaces are pinned."`
	ReadOnly                   bool                      `toml:"read_only" doc:"Run every container with a read-only root filesystem."`
	LogLevel                   string                    `toml:"log_level" doc:"Log level: \"debug\", \"info\", \"warn\" or \"error\"."`
	LogFormat                  string                    `toml:"log_format" doc:"Log format: \"text\" or \"json\"."`
	CtrStopTimeout             int64                     `toml:"ctr_stop_timeout" doc:"Accepted for CRI-O compatibility and not used: StopContainer waits the timeout the kubelet gives."`
	DropInfraCtr               bool                      `toml:"drop_infra_ctr" doc:"Accepted for CRI-O compatibility: crio never runs an infra process unless the pod shares a PID namespace."`
	AbsentMountSourcesToReject []string                  `toml:"absent_mount_sources_to_reject" doc:"Host paths that must exist when mounted; others are created as directories."`
	HostPathMustExist          bool                      `toml:"host_path_must_exist" doc:"Refuse a mount whose host path does not exist, instead of creating it."`
	RestrictOOMScoreAdj        bool                      `toml:"restrict_oom_score_adj" doc:"Clamp oom_score_adj to what the daemon itself may set (crio always does; the key is accepted for compatibility)."`
	HooksDir                   []string                  `toml:"hooks_dir" doc:"Directories of OCI hooks configurations (the hooks.d JSON format of containers-common); a file in a later directory overrides one of the same name in an earlier one. Watched: changes apply to containers created afterwards. Directories that do not exist are skipped."`
}

// RuntimeHandler is one [crio.runtime.runtimes.NAME] table.
type RuntimeHandler struct {
	RuntimePath          string            `toml:"runtime_path" doc:"Path of the OCI runtime binary; empty looks the handler's name up in PATH."`
	RuntimeType          string            `toml:"runtime_type" doc:"Kind of runtime: \"oci\"."`
	RuntimeRoot          string            `toml:"runtime_root" doc:"The runtime's --root directory."`
	MonitorPath          string            `toml:"monitor_path" doc:"Path of conmon for this handler; empty uses [crio.runtime] conmon."`
	MonitorCgroup        string            `toml:"monitor_cgroup" doc:"Cgroup of conmon: \"pod\" puts it in the pod's cgroup."`
	MonitorEnv           []string          `toml:"monitor_env" doc:"Environment of conmon for this handler."`
	AllowedAnnotations   []string          `toml:"allowed_annotations" doc:"Experimental annotations this handler honours (none are implemented yet: the list is accepted and ignored)."`
	PlatformRuntimePaths map[string]string `toml:"platform_runtime_paths" doc:"Runtime binary per platform (os/arch) (not implemented yet: runtime_path is used)."`
}

// ImageConfig is [crio.image].
type ImageConfig struct {
	DefaultTransport     string   `toml:"default_transport" doc:"Transport of image names without one (only \"docker://\" is supported)."`
	GlobalAuthFile       string   `toml:"global_auth_file" doc:"Auth file (containers-auth.json) used for every pull."`
	PauseImage           string   `toml:"pause_image" doc:"Image of the infra process, run only when a pod shares its PID namespace. Reloadable."`
	PauseImageAuthFile   string   `toml:"pause_image_auth_file" doc:"Auth file for pulling the pause image."`
	PauseCommand         string   `toml:"pause_command" doc:"Accepted for CRI-O compatibility and not used: the infra process of a shared PID namespace is crio itself."`
	PinnedImages         []string `toml:"pinned_images" doc:"Images never removed by RemoveImage: exact names, or prefixes ending in \"*\". Reloadable."`
	SignaturePolicy      string   `toml:"signature_policy" doc:"Path of the signature policy (policy.json); empty uses the system's. Reloadable."`
	SignaturePolicyDir   string   `toml:"signature_policy_dir" doc:"Directory of per-namespace signature policies."`
	RegistriesConf       string   `toml:"registries_conf" doc:"Path of registries.conf; empty uses the system's. Reloadable."`
	RegistriesConfDir    string   `toml:"registries_conf_dir" doc:"Directory of registries.conf drop-ins; empty uses the system's."`
	InsecureRegistries   []string `toml:"insecure_registries" doc:"Registries reached without TLS verification (prefer registries.conf)."`
	ImageVolumes         string   `toml:"image_volumes" doc:"What to do with an image's VOLUMEs: \"mkdir\", \"bind\" or \"ignore\"."`
	BigFilesTemporaryDir string   `toml:"big_files_temporary_dir" doc:"Where pulls stage large files; empty uses the storage's temporary directory."`
	PullProgressTimeout  Duration `toml:"pull_progress_timeout" doc:"A pull with no progress for this long is cancelled; 0 disables."`
	ShortNameMode        string   `toml:"short_name_mode" doc:"Short-name resolution: \"enforcing\" or \"disabled\"."`
	MaxParallelDownloads int      `toml:"max_parallel_downloads" doc:"Layers of one pull downloaded at once; 0 uses 6."`
}

// NetworkConfig is [crio.network].
type NetworkConfig struct {
	CNIDefaultNetwork string   `toml:"cni_default_network" doc:"Name of the CNI network used for pods; empty picks the first conflist by file name."`
	NetworkDir        string   `toml:"network_dir" doc:"Directory of CNI network configurations, watched live."`
	PluginDirs        []string `toml:"plugin_dirs" doc:"Directories of CNI plugin binaries."`
}

// MetricsConfig is [crio.metrics].
type MetricsConfig struct {
	EnableMetrics bool   `toml:"enable_metrics" doc:"Serve Prometheus metrics."`
	MetricsHost   string `toml:"metrics_host" doc:"Address of the metrics endpoint."`
	MetricsPort   int    `toml:"metrics_port" doc:"Port of the metrics endpoint."`
	MetricsSocket string `toml:"metrics_socket" doc:"Unix socket of the metrics endpoint, instead of host and port."`
	EnableProfile bool   `toml:"enable_profile" doc:"Also serve /debug/pprof on the metrics endpoint."`
}

// StatsConfig is [crio.stats].
type StatsConfig struct {
	StatsCollectionPeriod int      `toml:"stats_collection_period" doc:"Seconds between background samples of every container's stats, which the stats RPCs then answer from memory; 0 samples on demand."`
	CollectionPeriod      int      `toml:"collection_period" doc:"Accepted for CRI-O compatibility: pod metrics are collected when asked for."`
	IncludedPodMetrics    []string `toml:"included_pod_metrics" doc:"Metric groups the CRI metrics RPCs report: \"cpu\", \"memory\", \"network\", \"oom\", \"process\", \"disk\", \"diskIO\", \"spec\"; empty reports every group."`
}

// NRIConfig is [crio.nri].
type NRIConfig struct {
	Enabled                   bool               `toml:"enable_nri" doc:"Enable NRI: plugins hook into pod and container lifecycles and may adjust containers' OCI specs. With no plugin connected it costs nothing."`
	SocketPath                string             `toml:"nri_listen" doc:"Unix socket externally started NRI plugins connect to."`
	PluginPath                string             `toml:"nri_plugin_dir" doc:"Directory of pre-installed NRI plugins (executables named IDX-NAME) the daemon starts."`
	PluginConfigPath          string             `toml:"nri_plugin_config_dir" doc:"Directory of pre-installed plugins' configurations (IDX-NAME.conf or NAME.conf)."`
	PluginRegistrationTimeout Duration           `toml:"nri_plugin_registration_timeout" doc:"How long a plugin may take to register after it connects."`
	PluginRequestTimeout      Duration           `toml:"nri_plugin_request_timeout" doc:"How long a plugin may take to answer one request (synchronisation included); a plugin that times out is disconnected and the request goes on without it."`
	DisableConnections        bool               `toml:"nri_disable_connections" doc:"Serve no socket: only pre-installed plugins run."`
	DefaultValidator          NRIValidatorConfig `toml:"default_validator" doc:"The built-in validator of plugins' container adjustments."`
}

// NRIValidatorConfig is [crio.nri.default_validator], NRI's built-in
// validator of container adjustments, with CRI-O's key names.
type NRIValidatorConfig struct {
	Enable                                bool     `toml:"nri_enable_default_validator" doc:"Run the default validator on every adjustment plugins make."`
	RejectOCIHookAdjustment               bool     `toml:"nri_validator_reject_oci_hook_adjustment" doc:"Refuse adjustments that add OCI hooks."`
	RejectRuntimeDefaultSeccompAdjustment bool     `toml:"nri_validator_reject_runtime_default_seccomp_adjustment" doc:"Refuse seccomp policy changes to containers running the runtime's default profile."`
	RejectUnconfinedSeccompAdjustment     bool     `toml:"nri_validator_reject_unconfined_seccomp_adjustment" doc:"Refuse seccomp policy changes to unconfined containers."`
	RejectCustomSeccompAdjustment         bool     `toml:"nri_validator_reject_custom_seccomp_adjustment" doc:"Refuse seccomp policy changes to containers with a localhost profile."`
	RejectNamespaceAdjustment             bool     `toml:"nri_validator_reject_namespace_adjustment" doc:"Refuse adjustments of Linux namespaces."`
	RequiredPlugins                       []string `toml:"nri_validator_required_plugins" doc:"Plugins that must have seen every container for it to be created."`
	TolerateMissingAnnotation             string   `toml:"nri_validator_tolerate_missing_plugins_annotation" doc:"Pod annotation that, when \"true\", lets a pod's containers be created without the required plugins."`
}

// Default returns the configuration used when no file sets a value.
func Default() *Config {
	return &Config{
		Root:               "/var/lib/containers/storage",
		RunRoot:            "/run/containers/storage",
		StorageDriver:      "overlay",
		LogDir:             "/var/log/crio/pods",
		VersionFile:        "/var/run/crio/version",
		VersionFilePersist: "/var/lib/crio/version",
		CleanShutdownFile:  "/var/lib/crio/clean.shutdown",
		API: APIConfig{
			Listen:              DefaultListen,
			StreamAddress:       "127.0.0.1",
			StreamPort:          "0",
			StreamIdleTimeout:   Duration(4 * time.Hour),
			GRPCMaxSendMsgSize:  80 * 1024 * 1024,
			GRPCMaxRecvMsgSize:  80 * 1024 * 1024,
			ShutdownGracePeriod: Duration(10 * time.Second),
		},
		Runtime: RuntimeConfig{
			DefaultRuntime: "runc",
			Runtimes: map[string]RuntimeHandler{
				"runc": {RuntimeType: "oci", RuntimeRoot: "/run/runc", MonitorCgroup: "pod"},
				"crun": {RuntimeType: "oci", RuntimeRoot: "/run/crun", MonitorCgroup: "pod"},
			},
			ConmonEnv: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			DefaultCapabilities: []string{
				"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "SETGID", "SETUID",
				"SETPCAP", "NET_BIND_SERVICE", "KILL",
			},
			CDISpecDirs:              []string{"/etc/cdi", "/var/run/cdi"},
			LogSizeMax:               -1,
			PidsLimit:                -1,
			ContainerExitsDir:        "/var/run/crio/exits",
			ContainerAttachSocketDir: "/var/run/crio",
			NamespacesDir:            "/var/run/crio/ns",
			LogLevel:                 "info",
			LogFormat:                "text",
			CtrStopTimeout:           30,
			DropInfraCtr:             true,
			RestrictOOMScoreAdj:      true,
			HooksDir:                 []string{"/usr/share/containers/oci/hooks.d"},
		},
		Image: ImageConfig{
			DefaultTransport:     "docker://",
			PauseImage:           "registry.k8s.io/pause:3.10",
			PauseCommand:         "/pause",
			ImageVolumes:         "mkdir",
			SignaturePolicyDir:   "/etc/crio/policies",
			PullProgressTimeout:  0,
			MaxParallelDownloads: 6,
			ShortNameMode:        "enforcing",
		},
		Network: NetworkConfig{
			NetworkDir: "/etc/cni/net.d/",
			PluginDirs: []string{"/opt/cni/bin/", "/usr/lib/cni/"},
		},
		Metrics: MetricsConfig{
			MetricsHost: "127.0.0.1",
			MetricsPort: 9090,
		},
		Stats: StatsConfig{},
		NRI: NRIConfig{
			Enabled:                   true,
			SocketPath:                "/var/run/nri/nri.sock",
			PluginPath:                "/opt/nri/plugins",
			PluginConfigPath:          "/etc/nri/conf.d",
			PluginRegistrationTimeout: Duration(5 * time.Second),
			PluginRequestTimeout:      Duration(2 * time.Second),
		},
		Limits: DefaultLimits(),
	}
}

// Duration is a time.Duration written in TOML as a Go duration string ("5s").
type Duration time.Duration

// UnmarshalText accepts a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (like \"5s\" or \"1m30s\"): %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
