// Package apparmor tells whether the kernel enforces AppArmor and which
// profiles it has loaded, and loads the daemon's default profile once, at
// start.
//
// Loading a profile spawns apparmor_parser (through
// go.podman.io/common/pkg/apparmor, which generates the containers' default
// profile and is only functional in a binary built with the "apparmor" build
// tag); everything else reads securityfs.
package apparmor

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	caa "go.podman.io/common/pkg/apparmor"
)

const (
	// DefaultProfile is the profile the daemon loads itself, CRI-O's
	// default for [crio.runtime] apparmor_profile.
	DefaultProfile = "crio-default"
	// Unconfined is the name for no confinement, in the configuration, the
	// CRI's deprecated field and the OCI spec alike.
	Unconfined = "unconfined"
)

// The kernel's view, replaceable in tests.
var (
	enabledFile  = "/sys/module/apparmor/parameters/enabled"
	securityDir  = "/sys/kernel/security/apparmor"
	profilesFile = "/sys/kernel/security/apparmor/profiles"
	install      = caa.InstallDefault
)

// parserFound says whether apparmor_parser is where go.podman.io/common
// looks for it (/sbin, then $PATH).
var parserFound = func() bool {
	if _, err := os.Stat("/sbin/apparmor_parser"); err == nil {
		return true
	}
	_, err := exec.LookPath("apparmor_parser")
	return err == nil
}

// Enabled reports whether the kernel enforces AppArmor: the module is
// enabled and its securityfs directory is there (what runc checks before it
// applies a profile).
func Enabled() bool {
	b, err := os.ReadFile(enabledFile)
	if err != nil || !strings.HasPrefix(string(b), "Y") {
		return false
	}
	_, err = os.Stat(securityDir)
	return err == nil
}

// Loaded reports whether the kernel has a profile of that name loaded. It
// reads securityfs and spawns nothing, so it may run per container.
func Loaded(name string) (bool, error) {
	f, err := os.Open(profilesFile)
	if err != nil {
		return false, fmt.Errorf("listing the loaded AppArmor profiles: %w", err)
	}
	defer f.Close()
	// One line a profile: "name (enforce)".
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, _, ok := strings.Cut(sc.Text(), " ("); ok && n == name {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("listing the loaded AppArmor profiles: %w", err)
	}
	return false, nil
}

// Default is the profile of RuntimeDefault containers, settled at start.
type Default struct {
	// Name is the profile's name, or Unconfined; empty when the host has no
	// AppArmor.
	Name string
	// Err says why the profile could not be loaded at start; nil when it
	// was, or needed no loading.
	Err error
}

// LoadDefault settles the default profile at daemon start from
// [crio.runtime] apparmor_profile (empty is DefaultProfile, as in CRI-O).
// DefaultProfile is loaded with apparmor_parser unless the kernel already
// has it (a profile of an earlier daemon stays until reboot); any other name
// must have been loaded by the administrator. A failure is logged and kept
// in Err rather than stopping the daemon (CRI-O refuses to start): pods
// that ask for no profile or Localhost ones still run, and RuntimeDefault
// containers are refused naming the profile until it is loaded.
func LoadDefault(configured string, log *slog.Logger) Default {
	if !Enabled() {
		return Default{}
	}
	d := Default{Name: configured}
	if d.Name == "" {
		d.Name = DefaultProfile
	}
	if d.Name == Unconfined {
		log.Info("AppArmor: RuntimeDefault containers run unconfined (apparmor_profile)")
		return d
	}
	loaded, err := Loaded(d.Name)
	switch {
	case err != nil:
		d.Err = err
	case loaded:
		log.Info("AppArmor: default profile already loaded", "profile", d.Name)
		return d
	case d.Name != DefaultProfile:
		d.Err = fmt.Errorf("apparmor_profile %q is not loaded in the kernel (the daemon loads only %q itself)", d.Name, DefaultProfile)
	case !parserFound():
		// CRI-O's and containerd's AppArmor support both need the parser;
		// without it they run containers unconfined. Refusing every pod
		// of a node whose image lacks one package would be worse.
		log.Warn("AppArmor: apparmor_parser is not installed, so the default profile cannot be loaded; RuntimeDefault containers run unconfined, as with CRI-O and containerd",
			"profile", d.Name)
		return Default{Name: Unconfined}
	default:
		if err := install(d.Name); err != nil {
			if errors.Is(err, caa.ErrApparmorUnsupported) {
				err = errors.New("this crio was built without the apparmor build tag")
			}
			d.Err = fmt.Errorf("loading it failed: %w", err)
		} else {
			log.Info("AppArmor: loaded the default profile", "profile", d.Name)
			return d
		}
	}
	log.Warn("AppArmor: the default profile is not loaded; containers that ask for the runtime default are refused until it is",
		"profile", d.Name, "error", d.Err)
	return d
}
