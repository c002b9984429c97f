package config

// LimitsConfig is [crio.limits]: bounds on a single request's size and on
// what one pod, container or client can hold at once. The defaults are far
// above what the kubelet asks for (the apiserver already caps a pod's
// annotations at 256 KiB in total), and low enough that a hostile or broken
// client cannot make the daemon hold unbounded state. 0 means no limit.
type LimitsConfig struct {
	MaxLabels           int `toml:"max_labels" doc:"Most labels one pod sandbox or container config may carry."`
	MaxAnnotations      int `toml:"max_annotations" doc:"Most annotations one pod sandbox or container config may carry."`
	MaxMetadataBytes    int `toml:"max_metadata_bytes" doc:"Largest total size, in bytes of keys and values, of one config's labels, and separately of its annotations."`
	MaxContainersPerPod int `toml:"max_containers_per_pod" doc:"Most containers (running or not, until removed) one pod sandbox may hold; CreateContainer past it is refused."`
	MaxExecSessions     int `toml:"max_exec_sessions_per_container" doc:"Most exec, exec-sync and attach sessions one container may have open at once."`
	MaxConcurrentPulls  int `toml:"max_concurrent_pulls" doc:"Most distinct images pulled at once; requests for an image already being pulled join that pull and are not counted."`
}

// DefaultLimits are the limits when no file sets them.
func DefaultLimits() LimitsConfig {
	return LimitsConfig{
		MaxLabels:           1024,
		MaxAnnotations:      1024,
		MaxMetadataBytes:    1 << 20,
		MaxContainersPerPod: 512,
		MaxExecSessions:     128,
		MaxConcurrentPulls:  20,
	}
}

func (l *LimitsConfig) validate(bad func(key, format string, args ...any)) {
	for key, v := range map[string]int{
		"max_labels": l.MaxLabels, "max_annotations": l.MaxAnnotations, "max_metadata_bytes": l.MaxMetadataBytes,
		"max_containers_per_pod": l.MaxContainersPerPod, "max_exec_sessions_per_container": l.MaxExecSessions,
		"max_concurrent_pulls": l.MaxConcurrentPulls,
	} {
		if v < 0 {
			bad("crio.limits."+key, "may not be negative (0 means no limit), got %d", v)
		}
	}
}
