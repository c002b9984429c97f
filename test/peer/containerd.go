// Package peer configures the runtimes this one is measured against, for
// the benchmarks that run them side by side on the same machine.
package peer

import (
	"fmt"
	"path/filepath"
	"strings"
)

// MirroredRegistries are the public registries the loopback test registry
// stands in for.
var MirroredRegistries = []string{"registry.k8s.io", "k8s.gcr.io", "gcr.io", "docker.io", "quay.io"}

// ContainerdConfig is a config.toml (version 2, containerd 1.6, Debian's)
// for a containerd whose state is all under dir, serving CRI on socket,
// with its CNI networks in cniDir, runc at runc, and the public registries
// mirrored to the test registry at registryAddr over plain HTTP.
func ContainerdConfig(dir, socket, cniDir, runc, registryAddr string) string {
	var mirrors strings.Builder
	for _, reg := range MirroredRegistries {
		fmt.Fprintf(&mirrors, "  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%q]\n    endpoint = [\"http://%s\"]\n", reg, registryAddr)
	}
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[6]q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %[7]q
        Root = %[8]q
        SystemdCgroup = false
%[9]s`,
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), socket, socket+".ttrpc",
		filepath.Join(dir, "opt"), cniDir, runc, filepath.Join(dir, "runc"), mirrors.String())
}
