// Package cgroups knows the host's cgroup layout and drivers.
package cgroups

import "os"

// Driver names.
const (
	Cgroupfs = "cgroupfs"
	Systemd  = "systemd"
)

// Driver resolves the configured cgroup driver: an empty setting means
// systemd when systemd is the init system, cgroupfs otherwise.
func Driver(configured string) string {
	if configured != "" {
		return configured
	}
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		return Systemd
	}
	return Cgroupfs
}
