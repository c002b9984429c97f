package main

import (
	"strconv"

	"github.com/spf13/pflag"

	"github.com/crio/crio/internal/config"
)

// flagKey binds a command-line flag to a configuration key. Flags win over
// every file; a flag the operator did not pass changes nothing.
type flagKey struct {
	name, key, usage string
	list             bool
	set              func(c *config.Config, v string, list []string) error
}

var flagKeys = []flagKey{
	{name: "listen", key: "crio.api.listen", usage: "path of the CRI socket", set: func(c *config.Config, v string, _ []string) error { c.API.Listen = v; return nil }},
	{name: "root", key: "crio.root", usage: "storage root directory", set: func(c *config.Config, v string, _ []string) error { c.Root = v; return nil }},
	{name: "runroot", key: "crio.runroot", usage: "storage run root directory", set: func(c *config.Config, v string, _ []string) error { c.RunRoot = v; return nil }},
	{name: "storage-driver", key: "crio.storage_driver", usage: "storage driver", set: func(c *config.Config, v string, _ []string) error { c.StorageDriver = v; return nil }},
	{name: "storage-opt", key: "crio.storage_option", usage: "storage driver option (repeatable)", list: true, set: func(c *config.Config, _ string, l []string) error { c.StorageOptions = l; return nil }},
	{name: "log-dir", key: "crio.log_dir", usage: "default directory of container logs", set: func(c *config.Config, v string, _ []string) error { c.LogDir = v; return nil }},
	{name: "log-level", key: "crio.runtime.log_level", usage: "log level: debug, info, warn, error", set: func(c *config.Config, v string, _ []string) error { c.Runtime.LogLevel = v; return nil }},
	{name: "log-format", key: "crio.runtime.log_format", usage: "log format: text or json", set: func(c *config.Config, v string, _ []string) error { c.Runtime.LogFormat = v; return nil }},
	{name: "cgroup-manager", key: "crio.runtime.cgroup_manager", usage: "cgroup driver: cgroupfs or systemd", set: func(c *config.Config, v string, _ []string) error { c.Runtime.CgroupManager = v; return nil }},
	{name: "default-runtime", key: "crio.runtime.default_runtime", usage: "default runtime handler", set: func(c *config.Config, v string, _ []string) error { c.Runtime.DefaultRuntime = v; return nil }},
	{name: "conmon", key: "crio.runtime.conmon", usage: "path of conmon", set: func(c *config.Config, v string, _ []string) error { c.Runtime.Conmon = v; return nil }},
	{name: "namespaces-dir", key: "crio.runtime.namespaces_dir", usage: "where pod namespaces are pinned", set: func(c *config.Config, v string, _ []string) error { c.Runtime.NamespacesDir = v; return nil }},
	{name: "exits-dir", key: "crio.runtime.container_exits_dir", usage: "where conmon writes exit files", set: func(c *config.Config, v string, _ []string) error { c.Runtime.ContainerExitsDir = v; return nil }},
	{name: "pause-image", key: "crio.image.pause_image", usage: "image of the infra process", set: func(c *config.Config, v string, _ []string) error { c.Image.PauseImage = v; return nil }},
	{name: "pinned-images", key: "crio.image.pinned_images", usage: "images never removed (repeatable)", list: true, set: func(c *config.Config, _ string, l []string) error { c.Image.PinnedImages = l; return nil }},
	{name: "registries-conf", key: "crio.image.registries_conf", usage: "path of registries.conf", set: func(c *config.Config, v string, _ []string) error { c.Image.RegistriesConf = v; return nil }},
	{name: "signature-policy", key: "crio.image.signature_policy", usage: "path of policy.json", set: func(c *config.Config, v string, _ []string) error { c.Image.SignaturePolicy = v; return nil }},
	{name: "global-auth-file", key: "crio.image.global_auth_file", usage: "auth file for every pull", set: func(c *config.Config, v string, _ []string) error { c.Image.GlobalAuthFile = v; return nil }},
	{name: "cni-config-dir", key: "crio.network.network_dir", usage: "CNI config directory", set: func(c *config.Config, v string, _ []string) error { c.Network.NetworkDir = v; return nil }},
	{name: "cni-plugin-dir", key: "crio.network.plugin_dirs", usage: "CNI plugin directory (repeatable)", list: true, set: func(c *config.Config, _ string, l []string) error { c.Network.PluginDirs = l; return nil }},
	{name: "cni-default-network", key: "crio.network.cni_default_network", usage: "CNI network used for pods", set: func(c *config.Config, v string, _ []string) error { c.Network.CNIDefaultNetwork = v; return nil }},
	{name: "stream-address", key: "crio.api.stream_address", usage: "address of the streaming server", set: func(c *config.Config, v string, _ []string) error { c.API.StreamAddress = v; return nil }},
	{name: "stream-port", key: "crio.api.stream_port", usage: "port of the streaming server", set: func(c *config.Config, v string, _ []string) error { c.API.StreamPort = v; return nil }},
	{name: "enable-metrics", key: "crio.metrics.enable_metrics", usage: "serve Prometheus metrics (true/false)", set: func(c *config.Config, v string, _ []string) error {
		b, err := strconv.ParseBool(v)
		c.Metrics.EnableMetrics = b
		return err
	}},
	{name: "metrics-port", key: "crio.metrics.metrics_port", usage: "port of the metrics endpoint", set: func(c *config.Config, v string, _ []string) error {
		p, err := strconv.Atoi(v)
		c.Metrics.MetricsPort = p
		return err
	}},
	{name: "enable-nri", key: "crio.nri.enable_nri", usage: "enable NRI (true/false)", set: func(c *config.Config, v string, _ []string) error {
		b, err := strconv.ParseBool(v)
		c.NRI.Enabled = b
		return err
	}},
	{name: "nri-listen", key: "crio.nri.nri_listen", usage: "NRI socket", set: func(c *config.Config, v string, _ []string) error { c.NRI.SocketPath = v; return nil }},
	{name: "nri-plugin-dir", key: "crio.nri.nri_plugin_dir", usage: "directory of pre-installed NRI plugins", set: func(c *config.Config, v string, _ []string) error { c.NRI.PluginPath = v; return nil }},
	{name: "nri-plugin-config-dir", key: "crio.nri.nri_plugin_config_dir", usage: "directory of pre-installed NRI plugins' configurations", set: func(c *config.Config, v string, _ []string) error { c.NRI.PluginConfigPath = v; return nil }},
	{name: "nri-plugin-registration-timeout", key: "crio.nri.nri_plugin_registration_timeout", usage: "how long an NRI plugin may take to register", set: func(c *config.Config, v string, _ []string) error {
		return c.NRI.PluginRegistrationTimeout.UnmarshalText([]byte(v))
	}},
	{name: "nri-plugin-request-timeout", key: "crio.nri.nri_plugin_request_timeout", usage: "how long an NRI plugin may take to answer a request", set: func(c *config.Config, v string, _ []string) error {
		return c.NRI.PluginRequestTimeout.UnmarshalText([]byte(v))
	}},
	{name: "nri-disable-connections", key: "crio.nri.nri_disable_connections", usage: "serve no NRI socket (true/false)", set: func(c *config.Config, v string, _ []string) error {
		b, err := strconv.ParseBool(v)
		c.NRI.DisableConnections = b
		return err
	}},
}

// addConfigFlags declares every flagKey on fs.
func addConfigFlags(fs *pflag.FlagSet) {
	for _, f := range flagKeys {
		if f.list {
			fs.StringSlice(f.name, nil, f.usage+" (overrides "+f.key+")")
		} else {
			fs.String(f.name, "", f.usage+" (overrides "+f.key+")")
		}
	}
}

// applyFlags returns the override that sets each flag the operator passed.
func applyFlags(fs *pflag.FlagSet) func(*config.Loaded) error {
	return func(l *config.Loaded) error {
		for _, f := range flagKeys {
			fl := fs.Lookup(f.name)
			if fl == nil || !fl.Changed {
				continue
			}
			var err error
			if f.list {
				vals, _ := fs.GetStringSlice(f.name)
				err = f.set(l.Config, "", vals)
			} else {
				err = f.set(l.Config, fl.Value.String(), nil)
			}
			if err != nil {
				return &config.FieldError{File: "flag --" + f.name, Key: f.key, Reason: err.Error()}
			}
			l.SetOrigin(f.key, "flag --"+f.name)
		}
		return nil
	}
}
