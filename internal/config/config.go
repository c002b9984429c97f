// Package config holds the daemon's configuration in CRI-O's TOML schema:
// defaults, the main file and its drop-ins, flag overrides and validation.
//
// Every field carries a `doc` tag; the commented TOML that `crio config`
// prints (and crio.conf.example) is generated from these tags and the
// defaults, so the documentation cannot drift from the code.
package config

import (
	"fmt"
	"slices"
	"strconv"
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
	ImageStore         string        `toml:"imagestore" doc:"Accepted for CRI-O compatibility and not used: images are stored under root."`
	InternalWipe       bool          `toml:"internal_wipe" doc:"Accepted for CRI-O compatibility (deprecated there) and not used: after a reboot crio always cleans up stale runtime state itself, as version_file describes, and never wipes images; there is no \"crio wipe\"."`
	InternalRepair     bool          `toml:"internal_repair" doc:"Accepted for CRI-O compatibility and not used: storage is always checked after an unclean shutdown, as clean_shutdown_file describes."`
	API                APIConfig     `toml:"api" doc:"The CRI gRPC and streaming endpoints."`
	Runtime            RuntimeConfig `toml:"runtime" doc:"Container runtime settings."`
	Image              ImageConfig   `toml:"image" doc:"Image pulling and storage."`
	Network            NetworkConfig `toml:"network" doc:"Pod networking through CNI."`
	Metrics            MetricsConfig `toml:"metrics" doc:"Prometheus metrics."`
	Tracing            TracingConfig `toml:"tracing" doc:"OpenTelemetry tracing. Accepted for CRI-O compatibility and not used: crio exports no traces."`
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
	StreamIdleTimeout   Duration `toml:"stream_idle_timeout" doc:"How long an idle streaming connection stays open; \"\" (CRI-O's default) or 0 uses the streaming server's default of 4h."`
	TLSMinVersion       string   `toml:"tls_min_version" doc:"Accepted for CRI-O compatibility and not used: the streaming server accepts TLS 1.2 and 1.3 whatever this says (a warning says so for \"VersionTLS13\"), and the metrics endpoint has no TLS."`
	TLSCipherSuites     []string `toml:"tls_cipher_suites" doc:"Accepted for CRI-O compatibility and not used: TLS 1.2 uses Go's default cipher suites (a warning says so when the list is set)."`
	GRPCMaxSendMsgSize  int      `toml:"grpc_max_send_msg_size" doc:"Largest gRPC message the server sends, in bytes; 0 or less is 80 MiB, as in CRI-O."`
	GRPCMaxRecvMsgSize  int      `toml:"grpc_max_recv_msg_size" doc:"Largest gRPC message the server accepts, in bytes; 0 or less is 80 MiB, as in CRI-O."`
	ShutdownGracePeriod Duration `toml:"shutdown_grace_period" doc:"How long in-flight RPCs may run after SIGTERM before they are cut."`
}

// RuntimeConfig is [crio.runtime].
type RuntimeConfig struct {
	DefaultRuntime                     string                    `toml:"default_runtime" doc:"Runtime handler used when the kubelet names none."`
	Runtimes                           map[string]RuntimeHandler `toml:"runtimes" doc:"Runtime handlers, by the name the kubelet's RuntimeClass uses."`
	Conmon                             string                    `toml:"conmon" doc:"Path of conmon, the per-container monitor; empty looks it up in PATH. A handler's monitor_path overrides it."`
	ConmonEnv                          []string                  `toml:"conmon_env" doc:"Environment of conmon."`
	DefaultEnv                         []string                  `toml:"default_env" doc:"Environment added to every container."`
	CgroupManager                      string                    `toml:"cgroup_manager" doc:"Cgroup driver: \"cgroupfs\" or \"systemd\"; empty detects it (systemd when it runs as PID 1)."`
	DefaultCapabilities                []string                  `toml:"default_capabilities" doc:"Capabilities of a container that asks for none."`
	AddInheritableCaps                 bool                      `toml:"add_inheritable_capabilities" doc:"Also put the capabilities in the inheritable set."`
	DefaultSysctls                     []string                  `toml:"default_sysctls" doc:"Sysctls applied to every pod, as \"key=value\"."`
	DefaultUlimits                     []string                  `toml:"default_ulimits" doc:"Ulimits of every container, as \"nofile=1024:2048\"."`
	AdditionalDevices                  []string                  `toml:"additional_devices" doc:"Devices added to every container, as \"/dev/src[:/dev/dst][:rwm]\" (CRI-O's form; a malformed entry is refused when the configuration loads)."`
	CDISpecDirs                        []string                  `toml:"cdi_spec_dirs" doc:"Directories searched for CDI device specifications, read at each CreateContainer that asks for CDI devices."`
	SeccompProfile                     string                    `toml:"seccomp_profile" doc:"Path of the default seccomp profile (RuntimeDefault); empty uses the built-in one."`
	ApparmorProfile                    string                    `toml:"apparmor_profile" doc:"AppArmor profile of containers that ask for the runtime default (or for nothing), where the host has AppArmor; privileged containers get none. \"crio-default\" (or empty) is the containers' default profile, loaded with apparmor_parser at start unless the kernel has it already; \"unconfined\" confines nothing; any other name must be loaded already. When the profile cannot be loaded the daemon warns and refuses those containers (FailedPrecondition) until it is loaded. Read at start only."`
	SELinux                            bool                      `toml:"selinux" doc:"Label containers with SELinux (not supported: requests for SELinux labels are refused)."`
	PidsLimit                          int64                     `toml:"pids_limit" doc:"Deprecated in CRI-O; kept for compatibility: -1 leaves the pids cgroup alone."`
	LogSizeMax                         int64                     `toml:"log_size_max" doc:"Largest container log file in bytes before conmon stops writing; -1 is unlimited."`
	ContainerExitsDir                  string                    `toml:"container_exits_dir" doc:"Directory where conmon writes containers' exit files."`
	ContainerAttachSocketDir           string                    `toml:"container_attach_socket_dir" doc:"Directory of containers' attach sockets."`
	NamespacesDir                      string                    `toml:"namespaces_dir" doc:"Directory where pods' namespaces are pinned."`
	ReadOnly                           bool                      `toml:"read_only" doc:"Run every container with a read-only root filesystem."`
	LogLevel                           string                    `toml:"log_level" doc:"Log level: \"debug\", \"info\", \"warn\" or \"error\"."`
	LogFormat                          string                    `toml:"log_format" doc:"Log format: \"text\" or \"json\"."`
	CtrStopTimeout                     int64                     `toml:"ctr_stop_timeout" doc:"Seconds StopContainer waits for a container to exit once it has been killed (SIGKILL, after the kubelet's grace period) before it gives up with an error, as CRI-O's \"minimal amount of time to wait before issuing a timeout regarding the proper termination of the container\". As in CRI-O the lowest value is 30: a lower one is raised to 30 with a warning. The grace period itself is always the kubelet's."`
	DropInfraCtr                       bool                      `toml:"drop_infra_ctr" doc:"Accepted for CRI-O compatibility: crio never runs an infra process unless the pod shares a PID namespace."`
	AbsentMountSourcesToReject         []string                  `toml:"absent_mount_sources_to_reject" doc:"Host paths that must exist when mounted; others are created as directories."`
	HostPathMustExist                  bool                      `toml:"host_path_must_exist" doc:"Refuse a mount whose host path does not exist, instead of creating it."`
	RestrictOOMScoreAdj                bool                      `toml:"restrict_oom_score_adj" doc:"Clamp oom_score_adj to what the daemon itself may set (crio always does; the key is accepted for compatibility)."`
	NoPivot                            bool                      `toml:"no_pivot" doc:"Accepted for CRI-O compatibility and not used: the OCI runtime always uses pivot_root."`
	DecryptionKeysPath                 string                    `toml:"decryption_keys_path" doc:"Directory of the private keys (JWE/PKCS#8, PKCS#7, GPG) that decrypt encrypted image layers (ocicrypt) at pull; read at each pull of an encrypted image. Symbolic links in it are refused; a missing directory means no keys."`
	AdditionalArtifactStores           []string                  `toml:"additional_artifact_stores" doc:"Accepted for CRI-O compatibility and not used: OCI artifacts are not supported."`
	ConmonCgroup                       string                    `toml:"conmon_cgroup" doc:"Deprecated in CRI-O in favour of a handler's monitor_cgroup. As in CRI-O, when set it replaces every handler's monitor_cgroup when the configuration loads."`
	MinInjectedGOMAXPROCS              int64                     `toml:"min_injected_gomaxprocs" doc:"Accepted for CRI-O compatibility and not used: GOMAXPROCS is never injected into containers."`
	PrivilegedSeccompProfile           string                    `toml:"privileged_seccomp_profile" doc:"Accepted for CRI-O compatibility and not used: privileged containers run without a seccomp filter (a warning says so when set)."`
	BlockIOConfigFile                  string                    `toml:"blockio_config_file" doc:"Accepted for CRI-O compatibility and not used: blockio classes are not supported."`
	BlockIOReload                      bool                      `toml:"blockio_reload" doc:"Accepted for CRI-O compatibility and not used: blockio classes are not supported."`
	IrqBalanceConfigFile               string                    `toml:"irqbalance_config_file" doc:"Accepted for CRI-O compatibility and not used: crio never changes irqbalance's banned CPUs."`
	IrqBalanceConfigRestoreFile        string                    `toml:"irqbalance_config_restore_file" doc:"Accepted for CRI-O compatibility and not used: crio never changes irqbalance's banned CPUs, so it restores nothing."`
	RdtConfigFile                      string                    `toml:"rdt_config_file" doc:"Accepted for CRI-O compatibility and not used: RDT classes are not supported and resctrl is left alone."`
	SeparatePullCgroup                 string                    `toml:"separate_pull_cgroup" doc:"Accepted for CRI-O compatibility and not used: images are pulled in the daemon's own cgroup. (CRI-O reads this key here; crio.conf(5) lists it under [crio.image], where it is accepted too.)"`
	AllowedDevices                     []string                  `toml:"allowed_devices" doc:"Host devices a pod may give its containers with the devices annotation (\"devices.crio.io\", or the deprecated \"io.kubernetes.cri-o.Devices\"), where its runtime handler's allowed_annotations allows it: a comma-separated list of \"/dev/host[:/dev/container][:rwm]\". CreateContainer refuses (InvalidArgument) a device not listed here."`
	DeviceOwnershipFromSecurityContext bool                      `toml:"device_ownership_from_security_context" doc:"Devices given to a container (not a privileged container's host devices) are owned by its security context's RunAsUser and RunAsGroup (root where unset) instead of their owner on the host."`
	DefaultMounts                      []string                  `toml:"default_mounts" doc:"Accepted for CRI-O compatibility and not used (deprecated in CRI-O, whose code no longer reads it): no default mounts are added."`
	DefaultMountsFile                  string                    `toml:"default_mounts_file" doc:"mounts.conf of the mounts added to every container, read at each CreateContainer, as CRI-O (containers-common) does: one \"/host/path[:/container/path]\" a line (blank lines and # comments are skipped; any other line is refused, CRI-O skips it). The host file or directory is copied into the container's run directory and that copy is bind-mounted, writable, at the container path, so a container cannot change the host's; a host path that does not exist is skipped. Empty reads /etc/containers/mounts.conf, else /usr/share/containers/mounts.conf; a file that does not exist adds nothing."`
	LogFilter                          string                    `toml:"log_filter" doc:"Accepted for CRI-O compatibility and not used: every log record at log_level or above is written."`
	LogToJournald                      bool                      `toml:"log_to_journald" doc:"Whether container output is also written to journald (conmon's journald log driver), besides the log file the kubelet names. Without journald (no /run/systemd/journal/socket) containers log to the file only, with a warning."`
	BindMountPrefix                    string                    `toml:"bind_mount_prefix" doc:"Accepted for CRI-O compatibility and not used: mount sources are used as given."`
	UIDMappings                        string                    `toml:"uid_mappings" doc:"Accepted for CRI-O compatibility (deprecated there) and not used: a pod gets a user namespace only when the kubelet asks for one (a warning says so when set)."`
	GIDMappings                        string                    `toml:"gid_mappings" doc:"Accepted for CRI-O compatibility (deprecated there) and not used: a pod gets a user namespace only when the kubelet asks for one (a warning says so when set)."`
	MinimumMappableUID                 int64                     `toml:"minimum_mappable_uid" doc:"Accepted for CRI-O compatibility (deprecated there) and not used: the kubelet's user namespace mappings are not checked against a lowest host UID."`
	MinimumMappableGID                 int64                     `toml:"minimum_mappable_gid" doc:"Accepted for CRI-O compatibility (deprecated there) and not used: the kubelet's user namespace mappings are not checked against a lowest host GID."`
	InfraCtrCPUSet                     string                    `toml:"infra_ctr_cpuset" doc:"Accepted for CRI-O compatibility and not used: the infra process (only a pod sharing its PID namespace has one) is not pinned to CPUs."`
	SharedCPUSet                       string                    `toml:"shared_cpuset" doc:"Accepted for CRI-O compatibility and not used: a container runs on the cpuset the kubelet gives it and no other."`
	PinnsPath                          string                    `toml:"pinns_path" doc:"Accepted for CRI-O compatibility and not used: crio pins namespaces itself, without pinns."`
	EnableCriuSupport                  bool                      `toml:"enable_criu_support" doc:"Allows checkpoint/restore with CRIU (CheckpointContainer, CheckpointPod, RestorePod, CreateContainer from a checkpoint archive) when criu check passes on this host."`
	EnablePodEvents                    bool                      `toml:"enable_pod_events" doc:"Accepted for CRI-O compatibility and not used: GetContainerEvents always streams events."`
	HostNetworkDisableSELinux          bool                      `toml:"hostnetwork_disable_selinux" doc:"Accepted for CRI-O compatibility and not used: SELinux is not supported (see selinux)."`
	DisableHostPortMapping             bool                      `toml:"disable_hostport_mapping" doc:"Accepted for CRI-O compatibility and not used: crio programs no host port rules itself; a pod's port mappings always go to CNI plugins that declare the portMappings capability (such as portmap)."`
	Timezone                           string                    `toml:"timezone" doc:"Timezone of every container: a zoneinfo name such as \"Europe/Paris\" mounts /usr/share/zoneinfo/NAME read-only at /etc/localtime, \"Local\" mounts the host's /etc/localtime; empty leaves the image's."`
	Workloads                          map[string]WorkloadConfig `toml:"workloads" doc:"Workloads, [crio.runtime.workloads.NAME]. A pod carrying a workload's activation_annotation is allowed that workload's allowed_annotations; the rest (annotation_prefix, resources) is accepted for CRI-O compatibility and not used."`
	HooksDir                           []string                  `toml:"hooks_dir" doc:"Directories of OCI hooks configurations (the hooks.d JSON format of containers-common); a file in a later directory overrides one of the same name in an earlier one. Watched: changes apply to containers created afterwards. Directories that do not exist are skipped, and so is a file whose hook binary does not exist (as containers-common does); a malformed file stops the start."`
}

// RuntimeHandler is one [crio.runtime.runtimes.NAME] table.
type RuntimeHandler struct {
	RuntimePath                  string            `toml:"runtime_path" doc:"Path of the OCI runtime binary; empty looks the handler's name up in PATH."`
	RuntimeType                  string            `toml:"runtime_type" doc:"Kind of runtime: \"oci\"."`
	RuntimeRoot                  string            `toml:"runtime_root" doc:"The runtime's --root directory."`
	MonitorPath                  string            `toml:"monitor_path" doc:"Path of conmon for this handler; empty uses [crio.runtime] conmon."`
	MonitorCgroup                string            `toml:"monitor_cgroup" doc:"Cgroup of conmon: \"pod\" puts it in the pod's cgroup."`
	MonitorEnv                   []string          `toml:"monitor_env" doc:"Environment of conmon for this handler."`
	AllowedAnnotations           []string          `toml:"allowed_annotations" doc:"Experimental pod annotations this handler honours; a pod's annotation not listed (here or in an active workload) is ignored, as in CRI-O. crio implements one: the devices annotation (\"devices.crio.io\", or the deprecated \"io.kubernetes.cri-o.Devices\"; list the name the pods use), see allowed_devices. Other names are accepted and have no effect."`
	PlatformRuntimePaths         map[string]string `toml:"platform_runtime_paths" doc:"Runtime binary per platform (os/arch) (not implemented yet: runtime_path is used)."`
	RuntimeConfigPath            string            `toml:"runtime_config_path" doc:"Accepted for CRI-O compatibility and not used: it is for VM runtimes, which crio does not support."`
	InheritDefaultRuntime        bool              `toml:"inherit_default_runtime" doc:"Take runtime_path, runtime_type, runtime_config_path and runtime_root from default_runtime's handler when the configuration loads, as CRI-O does."`
	PrivilegedWithoutHostDevices bool              `toml:"privileged_without_host_devices" doc:"Privileged containers of this handler get no host devices, only the ones they ask for (the device cgroup still allows all, as CRI-O does)."`
	MonitorExecCgroup            string            `toml:"monitor_exec_cgroup" doc:"Accepted for CRI-O compatibility and not used: the cgroup of exec's helper processes is not configurable."`
	RuntimePullImage             bool              `toml:"runtime_pull_image" doc:"Accepted for CRI-O compatibility and not used: crio always pulls images itself."`
	ContainerMinMemory           string            `toml:"container_min_memory" doc:"Lowest memory limit a container of this handler may have, such as \"12MiB\" or \"500KiB\" (binary units, as in CRI-O); empty is 12MiB, CRI-O's default. CreateContainer refuses a non-zero memory limit below it (InvalidArgument); 0, no limit, is always allowed. A value that is not a size is refused when the configuration loads (CRI-O logs it and uses 12MiB)."`
	NoSyncLog                    bool              `toml:"no_sync_log" doc:"Accepted for CRI-O compatibility and not used: conmon syncs the log file as it does by default."`
	DefaultAnnotations           map[string]string `toml:"default_annotations" doc:"Annotations added to every pod of this handler, where the pod sets none of the same key, as in CRI-O: PodSandboxStatus reports them and every container's OCI spec carries them (a container's own annotation of the same key wins), so the OCI runtime and hooks see them (crun reads run.oci.* ones)."`
	StreamWebsockets             bool              `toml:"stream_websockets" doc:"Accepted for CRI-O compatibility and not used: the streaming server's protocols do not depend on the handler."`
	ExecCPUAffinity              string            `toml:"exec_cpu_affinity" doc:"Accepted for CRI-O compatibility (\"\" or \"first\") and not used: exec'd processes may run on any of the container's CPUs."`
	SeccompProfile               string            `toml:"seccomp_profile" doc:"Accepted for CRI-O compatibility and not used: [crio.runtime] seccomp_profile applies to every handler (a warning says so when set)."`
	ContainerCreateTimeout       int64             `toml:"container_create_timeout" doc:"Accepted for CRI-O compatibility (CRI-O's default is 240 seconds) and not used: CreateContainer runs under the kubelet's deadline."`
}

// WorkloadConfig is one [crio.runtime.workloads.NAME] table. crio acts only
// on its allowed annotations; the rest is accepted for CRI-O compatibility.
type WorkloadConfig struct {
	ActivationAnnotation string            `toml:"activation_annotation" doc:"Pod annotation (its key, whatever its value) that activates the workload for the pod: only its allowed_annotations take effect."`
	AnnotationPrefix     string            `toml:"annotation_prefix" doc:"Prefix of per-container resource override annotations (not used)."`
	AllowedAnnotations   []string          `toml:"allowed_annotations" doc:"Experimental annotations allowed, as a handler's allowed_annotations, to a pod that carries activation_annotation."`
	Resources            WorkloadResources `toml:"resources" doc:"Default resources of the workload's containers (not used)."`
}

// WorkloadResources is [crio.runtime.workloads.NAME.resources].
type WorkloadResources struct {
	CPUShares IntOrEmpty `toml:"cpushares" doc:"CPU shares (not used)."`
	CPUQuota  IntOrEmpty `toml:"cpuquota" doc:"CPU quota in microseconds (not used)."`
	CPUPeriod IntOrEmpty `toml:"cpuperiod" doc:"CPU period in microseconds (not used)."`
	CPUSet    string     `toml:"cpuset" doc:"CPU set (not used)."`
	CPULimit  IntOrEmpty `toml:"cpulimit" doc:"CPU limit in millicores (not used)."`
}

// ImageConfig is [crio.image].
type ImageConfig struct {
	DefaultTransport        string   `toml:"default_transport" doc:"Transport of image names without one (only \"docker://\" is supported)."`
	GlobalAuthFile          string   `toml:"global_auth_file" doc:"Auth file (containers-auth.json) used for every pull."`
	PauseImage              string   `toml:"pause_image" doc:"Image of the infra process, run only when a pod shares its PID namespace. Reloadable."`
	PauseImageAuthFile      string   `toml:"pause_image_auth_file" doc:"Auth file for pulling the pause image."`
	PauseCommand            string   `toml:"pause_command" doc:"Accepted for CRI-O compatibility and not used: the infra process of a shared PID namespace is crio itself."`
	PinnedImages            []string `toml:"pinned_images" doc:"Images never removed by RemoveImage: exact names, or prefixes ending in \"*\". Reloadable."`
	SignaturePolicy         string   `toml:"signature_policy" doc:"Path of the signature policy (policy.json); empty uses the system's. Reloadable."`
	SignaturePolicyDir      string   `toml:"signature_policy_dir" doc:"Directory of per-namespace signature policies."`
	RegistriesConf          string   `toml:"registries_conf" doc:"Path of registries.conf; empty uses the system's. Reloadable."`
	RegistriesConfDir       string   `toml:"registries_conf_dir" doc:"Directory of registries.conf drop-ins; empty uses the system's."`
	InsecureRegistries      []string `toml:"insecure_registries" doc:"Registries reached without TLS verification (prefer registries.conf)."`
	ImageVolumes            string   `toml:"image_volumes" doc:"What to do with an image's VOLUMEs: \"mkdir\", \"bind\" or \"ignore\"."`
	BigFilesTemporaryDir    string   `toml:"big_files_temporary_dir" doc:"Where pulls stage large files; empty uses the storage's temporary directory."`
	PullProgressTimeout     Duration `toml:"pull_progress_timeout" doc:"A pull with no progress for this long is cancelled; 0 disables."`
	ShortNameMode           string   `toml:"short_name_mode" doc:"Short-name resolution: \"enforcing\" or \"disabled\"."`
	MaxParallelDownloads    int      `toml:"max_parallel_downloads" doc:"Layers of one pull downloaded at once; 0 uses 6."`
	NamespacedAuthDir       string   `toml:"namespaced_auth_dir" doc:"Accepted for CRI-O compatibility and not used: no per-namespace auth files are read; global_auth_file and the pull request's credentials are used."`
	AutoReloadRegistries    bool     `toml:"auto_reload_registries" doc:"Accepted for CRI-O compatibility and not used: registries.conf.d is not watched; SIGHUP re-reads the registries configuration."`
	OCIArtifactMountSupport bool     `toml:"oci_artifact_mount_support" doc:"Accepted for CRI-O compatibility and not used: OCI artifacts are not supported, so none is mounted."`
	SeparatePullCgroup      string   `toml:"separate_pull_cgroup" doc:"Accepted for CRI-O compatibility and not used: images are pulled in the daemon's own cgroup. crio.conf(5) lists the key here but CRI-O reads it from [crio.runtime]; crio accepts it in both."`
}

// NetworkConfig is [crio.network].
type NetworkConfig struct {
	CNIDefaultNetwork    string   `toml:"cni_default_network" doc:"Name of the CNI network used for pods; empty picks the first conflist by file name."`
	NetworkDir           string   `toml:"network_dir" doc:"Directory of CNI network configurations, watched live."`
	PluginDirs           []string `toml:"plugin_dirs" doc:"Directories of CNI plugin binaries."`
	PluginDir            string   `toml:"plugin_dir" doc:"Deprecated in CRI-O (use plugin_dirs): as in CRI-O, appended to plugin_dirs when the configuration loads."`
	CNIStatusGracePeriod Duration `toml:"cni_status_grace_period" doc:"Accepted for CRI-O compatibility and not used: the network is ready while a CNI configuration is loaded (the conf dir is watched); plugins are not polled with CNI STATUS."`
}

// MetricsConfig is [crio.metrics].
type MetricsConfig struct {
	EnableMetrics     bool     `toml:"enable_metrics" doc:"Serve Prometheus metrics."`
	MetricsHost       string   `toml:"metrics_host" doc:"Address of the metrics endpoint."`
	MetricsPort       int      `toml:"metrics_port" doc:"Port of the metrics endpoint."`
	MetricsSocket     string   `toml:"metrics_socket" doc:"Unix socket of the metrics endpoint, instead of host and port."`
	EnableProfile     bool     `toml:"enable_profile" doc:"Also serve /debug/pprof on the metrics endpoint."`
	MetricsCollectors []string `toml:"metrics_collectors" doc:"The metric families served, by CRI-O collector name (with or without the crio_ prefix) or crio's own (operations_in_flight, image_pulls_duration_seconds, containers); the Go runtime and process metrics are always served. A CRI-O collector crio has no family for serves nothing; an unknown name is refused."`
	MetricsCert       string   `toml:"metrics_cert" doc:"Accepted for CRI-O compatibility and not used: the metrics endpoint serves plain HTTP (a warning says so when set)."`
	MetricsKey        string   `toml:"metrics_key" doc:"Accepted for CRI-O compatibility and not used: the metrics endpoint serves plain HTTP (a warning says so when set)."`
}

// TracingConfig is [crio.tracing], accepted for CRI-O compatibility: crio
// exports no traces.
type TracingConfig struct {
	EnableTracing                 bool       `toml:"enable_tracing" doc:"Accepted for CRI-O compatibility and not used: no traces are exported."`
	TracingEndpoint               string     `toml:"tracing_endpoint" doc:"Accepted for CRI-O compatibility and not used: no traces are exported."`
	TracingSamplingRatePerMillion IntOrEmpty `toml:"tracing_sampling_rate_per_million" doc:"Accepted for CRI-O compatibility and not used: no traces are exported."`
}

// StatsConfig is [crio.stats].
type StatsConfig struct {
	StatsCollectionPeriod int      `toml:"stats_collection_period" doc:"Seconds between background samples of every container's stats, which the stats RPCs then answer from memory; 0 samples on demand."`
	CollectionPeriod      int      `toml:"collection_period" doc:"Accepted for CRI-O compatibility: pod metrics are collected when asked for."`
	IncludedPodMetrics    []string `toml:"included_pod_metrics" doc:"Metric groups the CRI metrics RPCs report: \"cpu\", \"memory\", \"network\", \"oom\", \"process\", \"disk\", \"diskIO\", \"spec\"; empty reports every group (CRI-O then reports only its always-on metrics), and so does \"all\", which the configuration turns into empty when it loads. \"hugetlb\" and \"pressure\" are accepted and report nothing: crio has no metrics in those groups."`
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
		InternalWipe:       true,
		InternalRepair:     true,
		API: APIConfig{
			Listen:              DefaultListen,
			StreamAddress:       "127.0.0.1",
			StreamPort:          "0",
			StreamIdleTimeout:   Duration(4 * time.Hour),
			GRPCMaxSendMsgSize:  80 * 1024 * 1024,
			GRPCMaxRecvMsgSize:  80 * 1024 * 1024,
			ShutdownGracePeriod: Duration(10 * time.Second),
			TLSMinVersion:       "VersionTLS12",
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
			ApparmorProfile:          "crio-default",
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
			// CRI-O's defaults of keys accepted for compatibility.
			DecryptionKeysPath:          "/etc/crio/keys/",
			IrqBalanceConfigFile:        "/etc/sysconfig/irqbalance",
			IrqBalanceConfigRestoreFile: "/etc/sysconfig/orig_irq_banned_cpus",
			AllowedDevices:              []string{"/dev/fuse", "/dev/net/tun"},
			MinimumMappableUID:          -1,
			MinimumMappableGID:          -1,
			EnableCriuSupport:           true,
			HostNetworkDisableSELinux:   true,
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
			// CRI-O's defaults of keys accepted for compatibility.
			NamespacedAuthDir:       "/etc/crio/auth",
			OCIArtifactMountSupport: true,
		},
		Network: NetworkConfig{
			NetworkDir: "/etc/cni/net.d/",
			PluginDirs: []string{"/opt/cni/bin/", "/usr/lib/cni/"},
		},
		Metrics: MetricsConfig{
			MetricsHost: "127.0.0.1",
			MetricsPort: 9090,
			// CRI-O's collectors, then crio's own: every family is served.
			MetricsCollectors: append(slices.Clone(CRIOMetricsCollectors), CrioMetricsCollectors...),
		},
		Tracing: TracingConfig{
			TracingEndpoint: "127.0.0.1:4317",
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

// UnmarshalText accepts a Go duration string, or "" for 0 (CRI-O writes
// stream_idle_timeout = "" by default).
func (d *Duration) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = 0
		return nil
	}
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

// IntOrEmpty is an integer that may also be written as "" (0), as
// crio.conf(5) shows some of CRI-O's integer keys (cpushares,
// tracing_sampling_rate_per_million). It is written back as an integer.
type IntOrEmpty int64

// UnmarshalTOML accepts a TOML integer, "" or a decimal string.
func (n *IntOrEmpty) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		*n = IntOrEmpty(x)
		return nil
	case string:
		if x == "" {
			*n = 0
			return nil
		}
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", x)
		}
		*n = IntOrEmpty(i)
		return nil
	}
	return fmt.Errorf("not an integer: %v", v)
}
