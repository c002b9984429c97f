// Package spec turns a CRI ContainerConfig, the pod it runs in and its
// image's configuration into an OCI runtime spec. It reads the container's
// rootfs (for /etc/passwd and /etc/group and to resolve mount
// destinations) but changes nothing on the host except creating absent
// bind-mount sources when the configuration allows it.
package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/apparmor"
	"github.com/crio/crio/internal/cgroups"
)

// ErrInvalid marks an error caused by the request itself (the server maps
// it to InvalidArgument); other errors are the host's.
var ErrInvalid = errors.New("invalid container configuration")

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Sandbox is what a container needs to know about its pod.
type Sandbox struct {
	ID           string
	Hostname     string
	CgroupParent string
	// Pinned namespace paths; empty means the pod uses the host's.
	NetNS, IPCNS, UTSNS string
	// InfraPID is the pid of the pod's infra process, whose PID namespace
	// containers with PID mode POD join; 0 when the pod has none.
	InfraPID int
	// Files of the pod bind-mounted into every container; empty skips one.
	HostsPath, ResolvPath, HostnamePath, ShmPath string
	Sysctls                                      map[string]string
	// SecurityContext of the pod, for supplemental groups and host namespaces.
	SecurityContext *runtimeapi.LinuxSandboxSecurityContext
	// UserNS is the pod's user namespace, joined by its containers.
	UserNS UserNS
}

// Defaults are the daemon's settings that shape every container.
type Defaults struct {
	Capabilities        []string
	AddInheritableCaps  bool
	DefaultEnv          []string
	DefaultUlimits      []string
	AdditionalDevices   []string
	SeccompProfile      string // path of the RuntimeDefault profile; empty = built-in
	ReadOnly            bool
	HostPathMustExist   bool
	AbsentSourcesReject []string
	PidsLimit           int64
	// RecursiveReadOnly says the runtime handler supports "rro" mounts.
	RecursiveReadOnly bool
	// IDMappedMounts says the runtime handler supports idmapped bind
	// mounts (CRI mount uid/gid mappings).
	IDMappedMounts bool
	// CgroupV2 says the host has the unified hierarchy only.
	CgroupV2 bool
	// CgroupDriver is cgroups.Cgroupfs or cgroups.Systemd: the form of
	// the spec's cgroupsPath.
	CgroupDriver string
	// PrivilegedWithoutHostDevices is the runtime handler's
	// privileged_without_host_devices.
	PrivilegedWithoutHostDevices bool
	// DeviceOwnershipFromSecurityContext is CRI-O's key of that name.
	DeviceOwnershipFromSecurityContext bool
	// AnnotationDevices are the devices of the pod's devices annotation,
	// already checked against allowed_devices, in additional_devices'
	// form; added like additional_devices.
	AnnotationDevices []string
	// Annotations are added to the spec before the container's own
	// (which win): the runtime handler's default_annotations, with the
	// pod's value where the pod sets the key.
	Annotations map[string]string
	// DefaultMounts are the mounts of default_mounts_file, their sources
	// already copied for the container; a CRI mount at the same
	// destination wins.
	DefaultMounts []DefaultMount
	// Localtime is the host's zoneinfo file mounted read-only at
	// /etc/localtime ([crio.runtime] timezone); empty mounts none.
	Localtime string
	// AppArmor is the profile of RuntimeDefault containers, settled at
	// daemon start (apparmor.LoadDefault); an empty Name is
	// apparmor.DefaultProfile.
	AppArmor apparmor.Default
}

// DefaultMount is a bind mount of default_mounts_file: Source on the host,
// Destination in the container (resolved in the rootfs by Build).
type DefaultMount struct {
	Source, Destination string
}

// Input is everything Build reads.
type Input struct {
	ID      string
	Config  *runtimeapi.ContainerConfig
	Sandbox Sandbox
	Image   v1.ImageConfig
	// RootFS is the mounted root filesystem of the container.
	RootFS   string
	Defaults Defaults
	// TargetPID is the pid of the target container for PID mode TARGET.
	TargetPID int
	// host lets tests replace what is read from the host.
	host *hostInfo
}

// User is the effective identity of the container's process.
type User struct {
	UID, GID           uint32
	SupplementalGroups []uint32
}

// Result is the built spec and what was resolved on the way.
type Result struct {
	Spec *rspec.Spec
	User User
	// Mounts are the CRI mounts as applied (container paths resolved).
	Mounts []*runtimeapi.Mount
}

// Build makes the OCI spec of a container.
func Build(in Input) (*Result, error) {
	c := in.Config
	if c == nil {
		return nil, invalidf("container config is missing")
	}
	if in.RootFS == "" {
		return nil, fmt.Errorf("rootfs of container %s is not set", in.ID)
	}
	host := in.host
	if host == nil {
		host = realHost()
	}
	g, err := generate.New("linux")
	if err != nil {
		return nil, fmt.Errorf("generating base spec: %w", err)
	}
	g.HostSpecific = false
	// The generator's default hostname ("mrsdalloway") would overwrite the
	// pod's, which is set once in its pinned UTS namespace; and with the
	// host's UTS namespace runc refuses any hostname at all.
	g.SetHostname("")
	// Older runtimes (crun 1.8) refuse an ociVersion they do not know;
	// nothing used here is newer than 1.1.
	g.Config.Version = "1.1.0"
	sc := c.GetLinux().GetSecurityContext()
	if sc == nil {
		sc = &runtimeapi.LinuxContainerSecurityContext{}
	}
	if err := CheckContainerUserNS(in.Sandbox.UserNS, sc); err != nil {
		return nil, err
	}
	res := &Result{}

	g.SetRootPath(in.RootFS)
	g.SetRootReadonly(sc.ReadonlyRootfs || in.Defaults.ReadOnly)

	args, err := processArgs(c, in.Image)
	if err != nil {
		return nil, err
	}
	g.SetProcessArgs(args)
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = in.Image.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, invalidf("working directory %q is not absolute", cwd)
	}
	g.SetProcessCwd(cwd)
	g.SetProcessTerminal(c.Tty)
	g.Config.Process.NoNewPrivileges = sc.NoNewPrivs
	setEnv(&g, in)

	user, err := resolveUser(in.RootFS, sc, in.Sandbox.SecurityContext, in.Image.User)
	if err != nil {
		return nil, err
	}
	g.SetProcessUID(user.UID)
	g.SetProcessGID(user.GID)
	g.ClearProcessAdditionalGids()
	for _, gid := range user.SupplementalGroups {
		g.AddProcessAdditionalGid(gid)
	}
	res.User = user

	if err := setRlimits(&g, in.Defaults.DefaultUlimits); err != nil {
		return nil, err
	}
	if err := setCapabilities(&g, sc, in.Defaults); err != nil {
		return nil, err
	}
	if err := setNamespaces(&g, in, sc); err != nil {
		return nil, err
	}
	if err := setUserNS(&g, in.Sandbox.UserNS, user); err != nil {
		return nil, err
	}
	for k, v := range in.Sandbox.Sysctls {
		g.AddLinuxSysctl(k, v)
	}
	if in.Sandbox.Hostname != "" {
		g.AddProcessEnv("HOSTNAME", in.Sandbox.Hostname)
	}
	setMaskedPaths(&g, sc)
	if err := setSecurityModules(&g, sc, in.Defaults, host); err != nil {
		return nil, err
	}
	mounts, err := setMounts(&g, in, sc, host)
	if err != nil {
		return nil, err
	}
	res.Mounts = mounts
	var deviceOwner *rspec.User
	if in.Defaults.DeviceOwnershipFromSecurityContext {
		// As CRI-O: the security context's RunAsUser and RunAsGroup, root
		// where unset (not the image's USER), so that a non-root
		// container can use the devices it is given.
		deviceOwner = &rspec.User{UID: uint32(sc.GetRunAsUser().GetValue()), GID: uint32(sc.GetRunAsGroup().GetValue())}
	}
	additional := append(slices.Clip(in.Defaults.AdditionalDevices), in.Defaults.AnnotationDevices...)
	if err := setDevices(&g, c.Devices, additional, sc.Privileged, in.Defaults.PrivilegedWithoutHostDevices, deviceOwner, host); err != nil {
		return nil, err
	}
	if err := setResources(&g, c.GetLinux().GetResources(), in, host); err != nil {
		return nil, err
	}
	// Seccomp last: the default profile allows syscalls by the
	// capabilities the process ends up with.
	if err := setSeccomp(&g, sc, in.Defaults.SeccompProfile); err != nil {
		return nil, err
	}
	for k, v := range in.Defaults.Annotations {
		g.AddAnnotation(k, v)
	}
	for k, v := range c.Annotations {
		g.AddAnnotation(k, v)
	}
	res.Spec = g.Config
	return res, nil
}

// processArgs merges the CRI command and args with the image's Entrypoint
// and Cmd the way the kubelet documents it: a command replaces the
// Entrypoint and drops the image's Cmd; args alone replace the Cmd.
func processArgs(c *runtimeapi.ContainerConfig, img v1.ImageConfig) ([]string, error) {
	var cmd, args []string
	if len(c.Command) > 0 {
		cmd, args = c.Command, c.Args
	} else {
		cmd = img.Entrypoint
		args = c.Args
		if len(args) == 0 {
			args = img.Cmd
		}
	}
	all := append(append([]string{}, cmd...), args...)
	if len(all) == 0 || all[0] == "" {
		return nil, invalidf("no command: the container config and the image set neither command nor entrypoint")
	}
	return all, nil
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// setEnv applies, each overriding the previous by name: a default PATH,
// the daemon's default_env, the image's Env, then the container's envs.
func setEnv(g *generate.Generator, in Input) {
	g.ClearProcessEnv()
	g.AddProcessEnv("PATH", defaultPath)
	if in.Config.Tty {
		g.AddProcessEnv("TERM", "xterm")
	}
	g.AddMultipleProcessEnv(in.Defaults.DefaultEnv)
	g.AddMultipleProcessEnv(in.Image.Env)
	for _, kv := range in.Config.Envs {
		g.AddProcessEnv(kv.Key, string(kv.Value))
	}
}

// LogPath joins the kubelet's log directory and the container's relative
// log path, refusing a path that leaves the directory.
func LogPath(dir, rel string) (string, error) {
	if rel == "" {
		return "", nil
	}
	if dir == "" {
		return "", invalidf("log_path %q given but the pod has no log_directory", rel)
	}
	if !filepath.IsLocal(rel) {
		return "", invalidf("log_path %q must be relative and stay inside the pod's log directory", rel)
	}
	return filepath.Join(dir, rel), nil
}

// setMaskedPaths applies the default masked and read-only /proc and /sys
// paths, or the ones the kubelet sends (it sends the defaults or, for an
// Unmasked proc mount, none). Privileged containers get none.
func setMaskedPaths(g *generate.Generator, sc *runtimeapi.LinuxContainerSecurityContext) {
	g.Config.Linux.MaskedPaths = nil
	g.Config.Linux.ReadonlyPaths = nil
	if sc.Privileged {
		return
	}
	masked, ro := defaultMaskedPaths, defaultReadonlyPaths
	if len(sc.MaskedPaths) > 0 {
		masked = sc.MaskedPaths
	}
	if len(sc.ReadonlyPaths) > 0 {
		ro = sc.ReadonlyPaths
	}
	g.Config.Linux.MaskedPaths = append([]string{}, masked...)
	g.Config.Linux.ReadonlyPaths = append([]string{}, ro...)
}

var (
	defaultMaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// setSecurityModules applies the AppArmor profile and refuses SELinux
// settings the host cannot honour.
func setSecurityModules(g *generate.Generator, sc *runtimeapi.LinuxContainerSecurityContext, d Defaults, host *hostInfo) error {
	if err := setAppArmor(g, sc, d, host); err != nil {
		return err
	}
	if o := sc.SelinuxOptions; o != nil && (o.User != "" || o.Role != "" || o.Type != "" || o.Level != "") {
		if !host.selinux {
			return fmt.Errorf("%w: SELinux options %v requested but SELinux is not enabled on this host", ErrUnsupported, o)
		}
		return fmt.Errorf("%w: SELinux labelling is not implemented", ErrUnsupported)
	}
	return nil
}

// ErrUnsupported marks a request this host or daemon cannot honour (the
// server maps it to FailedPrecondition).
var ErrUnsupported = errors.New("unsupported")

// hostInfo is what Build reads from the host, replaceable in tests.
type hostInfo struct {
	apparmor, selinux bool
	memsw             bool
	oomScoreAdj       int
	hugepageSizes     []string
	hugetlb           bool // the runtime can apply hugepage limits
	// stat reads a device node; nil uses the real file system.
	devices func(path string) ([]rspec.LinuxDevice, error)
	// apparmorLoaded tells whether the kernel has an AppArmor profile
	// loaded (apparmor.Loaded).
	apparmorLoaded func(name string) (bool, error)
}

func realHost() *hostInfo {
	h := &hostInfo{}
	h.apparmor, h.apparmorLoaded = apparmor.Enabled(), apparmor.Loaded
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		h.selinux = true
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		h.memsw = true
	}
	if b, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
		fmt.Sscan(strings.TrimSpace(string(b)), &h.oomScoreAdj)
	}
	if ents, err := os.ReadDir("/sys/kernel/mm/hugepages"); err == nil {
		for _, e := range ents {
			h.hugepageSizes = append(h.hugepageSizes, e.Name())
		}
		sort.Strings(h.hugepageSizes)
	}
	h.hugetlb = cgroups.HugetlbUsable()
	h.devices = hostDevices
	return h
}
