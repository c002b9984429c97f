package spec

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/apparmor"
)

// allCaps lists every capability this build knows, as CAP_X names.
func allCaps() []string { return slices.Clone(hostCaps()) }

// hostCaps is every capability in the daemon's own bounding set: "all
// capabilities" for a privileged container or "add ALL" means those the
// host can grant (this host, for one, has no CAP_SYS_RESOURCE), as in
// containerd and CRI-O; asking runc for more fails the container.
var hostCaps = sync.OnceValue(func() []string {
	pc, err := capability.NewPid2(0)
	if err == nil {
		err = pc.Load()
	}
	var out []string
	for _, c := range capability.ListKnown() {
		if err == nil && !pc.Get(capability.BOUNDING, c) {
			continue
		}
		out = append(out, capName(c))
	}
	return out
})

func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// knownCap reports whether n ("CAP_X") is a capability this build knows.
func knownCap(n string) bool {
	for _, c := range capability.ListKnown() {
		if capName(c) == n {
			return true
		}
	}
	return false
}

// normCap turns "net_raw", "NET_RAW" or "CAP_NET_RAW" into "CAP_NET_RAW",
// refusing unknown names.
func normCap(c string) (string, error) {
	n := strings.ToUpper(c)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if !knownCap(n) {
		return "", invalidf("unknown capability %q", c)
	}
	return n, nil
}

// setCapabilities computes the capability sets: the configured defaults,
// then add_capabilities, then drop_capabilities ("ALL" works in both;
// dropping ALL keeps only what is added). Privileged gets every one.
func setCapabilities(g *generate.Generator, sc *runtimeapi.LinuxContainerSecurityContext, d Defaults) error {
	var caps []string
	add := func(list []string) error {
		for _, c := range list {
			if strings.EqualFold(c, "ALL") {
				caps = allCaps()
				continue
			}
			n, err := normCap(c)
			if err != nil {
				return err
			}
			if !slices.Contains(caps, n) {
				caps = append(caps, n)
			}
		}
		return nil
	}
	if sc.Privileged {
		caps = allCaps()
	} else {
		if err := add(d.Capabilities); err != nil {
			return fmt.Errorf("default_capabilities: %w", err)
		}
		if c := sc.Capabilities; c != nil {
			if slices.ContainsFunc(c.DropCapabilities, func(s string) bool { return strings.EqualFold(s, "ALL") }) {
				caps = nil
			}
			if err := add(c.AddCapabilities); err != nil {
				return err
			}
			for _, dc := range c.DropCapabilities {
				if strings.EqualFold(dc, "ALL") {
					continue
				}
				n, err := normCap(dc)
				if err != nil {
					return err
				}
				caps = slices.DeleteFunc(caps, func(s string) bool { return s == n })
			}
		}
	}
	var ambient []string
	for _, c := range sc.GetCapabilities().GetAddAmbientCapabilities() {
		n, err := normCap(c)
		if err != nil {
			return err
		}
		if !slices.Contains(caps, n) {
			return invalidf("ambient capability %s is not in the container's capabilities", n)
		}
		ambient = append(ambient, n)
	}
	slices.Sort(caps)
	pc := &rspec.LinuxCapabilities{
		Bounding:  caps,
		Effective: caps,
		Permitted: caps,
		Ambient:   ambient,
	}
	if d.AddInheritableCaps || len(ambient) > 0 {
		pc.Inheritable = caps
	}
	g.Config.Process.Capabilities = pc
	return nil
}

// setRlimits applies default_ulimits ("nofile=1024:2048"); without them
// the container inherits the runtime's limits.
func setRlimits(g *generate.Generator, ulimits []string) error {
	g.ClearProcessRlimits()
	for _, u := range ulimits {
		name, val, ok := strings.Cut(u, "=")
		soft, hard, ok2 := strings.Cut(val, ":")
		if !ok || !ok2 {
			return fmt.Errorf("default_ulimits: %q is not name=soft:hard", u)
		}
		s, err1 := parseLimit(soft)
		h, err2 := parseLimit(hard)
		if err1 != nil || err2 != nil || s > h {
			return fmt.Errorf("default_ulimits: %q has bad limits", u)
		}
		g.AddProcessRlimits("RLIMIT_"+strings.ToUpper(name), h, s)
	}
	return nil
}

func parseLimit(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// setNamespaces joins the pod's pinned namespaces and picks the PID
// namespace from the container's PID mode.
func setNamespaces(g *generate.Generator, in Input, sc *runtimeapi.LinuxContainerSecurityContext) error {
	podNS := in.Sandbox.SecurityContext.GetNamespaceOptions()
	set := func(t rspec.LinuxNamespaceType, path string, host bool) error {
		if host {
			return g.RemoveLinuxNamespace(string(t))
		}
		return g.AddOrReplaceLinuxNamespace(string(t), path)
	}
	hostNet := podNS.GetNetwork() == runtimeapi.NamespaceMode_NODE
	if err := set(rspec.NetworkNamespace, in.Sandbox.NetNS, hostNet); err != nil {
		return err
	}
	if err := set(rspec.IPCNamespace, in.Sandbox.IPCNS, podNS.GetIpc() == runtimeapi.NamespaceMode_NODE); err != nil {
		return err
	}
	// A pod on the host network also has the host's hostname.
	if err := set(rspec.UTSNamespace, in.Sandbox.UTSNS, hostNet); err != nil {
		return err
	}
	// On v2 a container sees its own cgroup as the root of the tree (and
	// cannot read the node's layout), as with CRI-O and containerd; a
	// privileged one keeps the host's view, as with containerd.
	if in.Defaults.CgroupV2 && !sc.GetPrivileged() {
		if err := g.AddOrReplaceLinuxNamespace(string(rspec.CgroupNamespace), ""); err != nil {
			return err
		}
	}
	mode := podNS.GetPid()
	if o := sc.GetNamespaceOptions(); o != nil {
		mode = o.GetPid()
	}
	switch mode {
	case runtimeapi.NamespaceMode_NODE:
		return g.RemoveLinuxNamespace(string(rspec.PIDNamespace))
	case runtimeapi.NamespaceMode_CONTAINER:
		return g.AddOrReplaceLinuxNamespace(string(rspec.PIDNamespace), "")
	case runtimeapi.NamespaceMode_POD:
		if in.Sandbox.InfraPID <= 0 {
			return fmt.Errorf("%w: PID mode POD but the pod has no infra process", ErrUnsupported)
		}
		return joinPID(g, in.Sandbox.InfraPID)
	case runtimeapi.NamespaceMode_TARGET:
		if in.TargetPID <= 0 {
			return invalidf("PID mode TARGET: target container %q is not running", sc.GetNamespaceOptions().GetTargetId())
		}
		return joinPID(g, in.TargetPID)
	}
	return invalidf("unknown PID namespace mode %v", mode)
}

func joinPID(g *generate.Generator, pid int) error {
	p := fmt.Sprintf("/proc/%d/ns/pid", pid)
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("PID namespace of process %d: %w", pid, err)
	}
	return g.AddOrReplaceLinuxNamespace(string(rspec.PIDNamespace), p)
}

// setSeccomp applies the container's seccomp profile. An unset profile is
// Unconfined, as the CRI's deprecated empty seccomp_profile_path was;
// privileged containers are never filtered.
func setSeccomp(g *generate.Generator, sc *runtimeapi.LinuxContainerSecurityContext, defaultPath string) error {
	g.Config.Linux.Seccomp = nil
	if sc.Privileged {
		return nil
	}
	typ, ref := runtimeapi.SecurityProfile_Unconfined, ""
	if p := sc.Seccomp; p != nil {
		typ, ref = p.ProfileType, p.LocalhostRef
	} else {
		switch pp := sc.SeccompProfilePath; {
		case pp == "runtime/default" || pp == "docker/default":
			typ = runtimeapi.SecurityProfile_RuntimeDefault
		case strings.HasPrefix(pp, "localhost/"):
			typ, ref = runtimeapi.SecurityProfile_Localhost, strings.TrimPrefix(pp, "localhost/")
		}
	}
	var (
		prof *rspec.LinuxSeccomp
		err  error
	)
	switch typ {
	case runtimeapi.SecurityProfile_Unconfined:
		return nil
	case runtimeapi.SecurityProfile_RuntimeDefault:
		if defaultPath != "" {
			prof, err = loadSeccomp(defaultPath, g.Config)
		} else {
			prof, err = seccomp.GetDefaultProfile(g.Config)
		}
	case runtimeapi.SecurityProfile_Localhost:
		if ref == "" || !strings.HasPrefix(ref, "/") {
			return invalidf("seccomp Localhost profile path %q must be absolute", ref)
		}
		prof, err = loadSeccomp(ref, g.Config)
	default:
		return invalidf("unknown seccomp profile type %v", typ)
	}
	if err != nil {
		return err
	}
	g.Config.Linux.Seccomp = prof
	return nil
}

func loadSeccomp(path string, s *rspec.Spec) (*rspec.LinuxSeccomp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, invalidf("seccomp profile: %v", err)
	}
	p, err := seccomp.LoadProfile(string(b), s)
	if err != nil {
		return nil, invalidf("seccomp profile %s: %v", path, err)
	}
	return p, nil
}

// setAppArmor applies the container's AppArmor profile as CRI-O does. The
// structured field wins over the deprecated string (the kubelet sends
// both); unset is RuntimeDefault, the daemon's default profile; privileged
// containers get no profile. Named profiles must be loaded in the kernel:
// the daemon checks (reading securityfs, no process) instead of leaving
// runc to fail on them. Without AppArmor on the host only a Localhost
// profile is refused; the rest means no confinement there anyway.
func setAppArmor(g *generate.Generator, sc *runtimeapi.LinuxContainerSecurityContext, d Defaults, host *hostInfo) error {
	typ, ref := runtimeapi.SecurityProfile_RuntimeDefault, ""
	if p := sc.Apparmor; p != nil {
		typ, ref = p.ProfileType, p.LocalhostRef
	} else {
		switch pp := sc.ApparmorProfile; pp {
		case "", "runtime/default":
		case apparmor.Unconfined:
			typ = runtimeapi.SecurityProfile_Unconfined
		default:
			typ, ref = runtimeapi.SecurityProfile_Localhost, pp
		}
	}
	profile := ""
	switch typ {
	case runtimeapi.SecurityProfile_RuntimeDefault:
		if !host.apparmor || sc.Privileged {
			return nil
		}
		profile = cmp.Or(d.AppArmor.Name, apparmor.DefaultProfile)
	case runtimeapi.SecurityProfile_Unconfined:
		if !host.apparmor || sc.Privileged {
			return nil
		}
		profile = apparmor.Unconfined
	case runtimeapi.SecurityProfile_Localhost:
		profile = strings.TrimPrefix(ref, "localhost/")
		if profile == "" {
			return invalidf("AppArmor Localhost profile without a name")
		}
		if sc.Privileged {
			return nil
		}
		if !host.apparmor {
			return fmt.Errorf("%w: AppArmor profile %q requested but AppArmor is not enabled on this host", ErrUnsupported, profile)
		}
	default:
		return invalidf("unknown AppArmor profile type %v", typ)
	}
	if profile != apparmor.Unconfined {
		loaded, err := host.apparmorLoaded(profile)
		if err != nil {
			return fmt.Errorf("%w: AppArmor profile %q: %v", ErrUnsupported, profile, err)
		}
		if !loaded {
			if typ == runtimeapi.SecurityProfile_RuntimeDefault {
				why := ""
				if d.AppArmor.Err != nil {
					why = ": " + d.AppArmor.Err.Error()
				}
				return fmt.Errorf("%w: AppArmor profile %q, the runtime default ([crio.runtime] apparmor_profile), is not loaded in the kernel%s", ErrUnsupported, profile, why)
			}
			return fmt.Errorf("%w: AppArmor profile %q is not loaded in the kernel (load it with apparmor_parser)", ErrUnsupported, profile)
		}
	}
	g.SetProcessApparmorProfile(profile)
	return nil
}
