// Package version reports the daemon's version from the Go build info.
package version

import (
	"runtime/debug"
	"sync"
)

// Version may be set at link time (-X); otherwise it comes from build info.
var Version = ""

// CRIVersion is the CRI API version served.
const CRIVersion = "v1"

var once = sync.OnceValues(func() (string, string) {
	v, commit := Version, ""
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orDev(v), commit
	}
	if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if v == "" && commit != "" {
		short := commit
		if len(short) > 12 {
			short = short[:12]
		}
		v = "0.1.0-dev+" + short
		if dirty {
			v += ".dirty"
		}
	}
	return orDev(v), commit
})

func orDev(v string) string {
	if v == "" {
		return "0.1.0-dev"
	}
	return v
}

// Get returns the version string and the VCS commit (possibly empty).
func Get() (version, commit string) { return once() }
