package nri

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/nri/pkg/api"
	nrigen "github.com/containerd/nri/pkg/runtime-tools/generate"
	"github.com/crio/crio/internal/cgroups"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	"k8s.io/utils/cpuset"
)

// ErrAdjustment is a plugin's adjustment or update the daemon refuses.
var ErrAdjustment = errors.New("invalid NRI adjustment")

func badf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrAdjustment, fmt.Sprintf(format, a...))
}

// Limits bound what plugins may do to a container's spec.
type Limits struct {
	// CDIInject injects CDI devices by name; nil refuses CDI adjustments.
	CDIInject func(*rspec.Spec, []string) error
}

// Adjust checks a plugin's adjustment as hostile input, then applies it to
// spec. Kinds of adjustment the daemon cannot honour faithfully (RDT and
// block I/O classes, namespaces, network devices, sysctls) are refused
// rather than dropped, so a plugin never believes in a change that did
// not happen.
func Adjust(spec *rspec.Spec, adj *api.ContainerAdjustment, limits Limits) error {
	if adj == nil {
		return nil
	}
	if err := checkAdjustment(adj, limits); err != nil {
		return err
	}
	if spec.Process == nil {
		spec.Process = &rspec.Process{}
	}
	if spec.Linux == nil {
		spec.Linux = &rspec.Linux{}
	}
	g := generate.NewFromSpec(spec)
	opts := []nrigen.GeneratorOption{nrigen.WithResourceChecker(func(r *rspec.LinuxResources) error { return nil })}
	if limits.CDIInject != nil {
		opts = append(opts, nrigen.WithCDIDeviceInjector(limits.CDIInject))
	}
	if err := nrigen.SpecGenerator(&g, opts...).Adjust(adj); err != nil {
		return fmt.Errorf("%w: %v", ErrAdjustment, err)
	}
	if o := spec.Process.OOMScoreAdj; o != nil && *o < ownOOMScoreAdj {
		// Without CAP_SYS_RESOURCE the daemon cannot give a container less
		// than its own value; clamp as for the kubelet's requests.
		v := ownOOMScoreAdj
		spec.Process.OOMScoreAdj = &v
	}
	return nil
}

// ownOOMScoreAdj is the daemon's oom_score_adj, the floor for containers.
var ownOOMScoreAdj = func() int {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0
	}
	v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return v
}()

func checkAdjustment(a *api.ContainerAdjustment, limits Limits) error {
	for k := range a.GetAnnotations() {
		key, _ := api.IsMarkedForRemoval(k)
		if key == "" || strings.ContainsRune(k, 0) {
			return badf("annotation key %q", k)
		}
	}
	for _, kv := range a.GetEnv() {
		key, _ := kv.IsMarkedForRemoval()
		if key == "" || strings.ContainsAny(key, "=\x00") || strings.ContainsRune(kv.GetValue(), 0) {
			return badf("environment variable %q", kv.GetKey())
		}
	}
	if args := a.GetArgs(); len(args) > 0 && args[0] == "" {
		return badf("empty command")
	}
	for _, m := range a.GetMounts() {
		if err := checkMount(m); err != nil {
			return err
		}
	}
	for _, h := range allHooks(a.GetHooks()) {
		if !cleanAbs(h.GetPath()) {
			return badf("hook path %q is not a clean absolute path", h.GetPath())
		}
		if t := h.GetTimeout(); t != nil && t.GetValue() <= 0 {
			return badf("hook %s timeout %d", h.GetPath(), t.GetValue())
		}
	}
	for _, l := range a.GetRlimits() {
		if !knownRlimits[l.GetType()] {
			return badf("rlimit %q is not a known RLIMIT_* type", l.GetType())
		}
		if l.GetSoft() > l.GetHard() {
			return badf("rlimit %s: soft limit %d above hard limit %d", l.GetType(), l.GetSoft(), l.GetHard())
		}
	}
	if len(a.GetCDIDevices()) > 0 && limits.CDIInject == nil {
		return badf("CDI devices are not available")
	}
	l := a.GetLinux()
	if l == nil {
		return nil
	}
	for _, d := range l.GetDevices() {
		if err := checkDevice(d); err != nil {
			return err
		}
	}
	if r := l.GetResources(); r != nil {
		if r.GetBlockioClass() != nil || r.GetRdtClass() != nil {
			return badf("block I/O and RDT classes are not supported")
		}
		if _, err := checkResources(r); err != nil {
			return err
		}
	}
	if p := l.GetCgroupsPath(); strings.Contains(p, ":") {
		// The systemd driver's "slice:prefix:name".
		if _, err := cgroups.FSPath(p); err != nil {
			return badf("%v", err)
		}
	} else if p != "" && (!cleanAbs(p) || p == "/") {
		return badf("cgroups path %q is not a clean absolute path below the root", p)
	}
	if o := l.GetOomScoreAdj(); o != nil && (o.GetValue() < -1000 || o.GetValue() > 1000) {
		return badf("oom_score_adj %d is outside [-1000, 1000]", o.GetValue())
	}
	if s := l.GetSeccompPolicy(); s != nil {
		if s.GetDefaultAction() == "" {
			return badf("seccomp policy without a default action")
		}
		for _, sc := range s.GetSyscalls() {
			if len(sc.GetNames()) == 0 || sc.GetAction() == "" {
				return badf("seccomp rule without syscall names or action")
			}
		}
	}
	switch {
	case len(l.GetNamespaces()) > 0:
		return badf("namespace adjustments are not supported")
	case len(l.GetNetDevices()) > 0:
		return badf("network device adjustments are not supported")
	case len(l.GetSysctl()) > 0:
		return badf("sysctl adjustments are not supported")
	case setRdt(l.GetRdt()):
		return badf("RDT adjustments are not supported")
	}
	return nil
}

// setRdt says whether an RDT adjustment asks for anything: the adaptation
// hands an empty one along whenever a plugin adjusts anything Linux.
func setRdt(r *api.LinuxRdt) bool {
	return r != nil && (r.GetRemove() || r.GetClosId() != nil || r.GetSchemata() != nil || r.GetEnableMonitoring() != nil)
}

func cleanAbs(p string) bool {
	return p != "" && filepath.IsAbs(p) && filepath.Clean(p) == p && !strings.ContainsRune(p, 0)
}

// checkMount refuses mounts over the root or through relative or unclean
// paths; the runtime resolves the destination inside the rootfs.
func checkMount(m *api.Mount) error {
	dest, removal := m.IsMarkedForRemoval()
	if !cleanAbs(dest) || dest == "/" {
		return badf("mount destination %q is not a clean absolute path below /", m.GetDestination())
	}
	if removal {
		return nil
	}
	switch m.GetType() {
	case "", "bind", "rbind":
		if !cleanAbs(m.GetSource()) {
			return badf("bind mount source %q is not a clean absolute path", m.GetSource())
		}
	case "tmpfs", "proc", "sysfs", "mqueue", "devpts", "cgroup", "cgroup2", "overlay":
	default:
		return badf("mount type %q is not supported", m.GetType())
	}
	for _, o := range m.GetOptions() {
		if o == "" || strings.ContainsRune(o, 0) {
			return badf("mount option %q", o)
		}
	}
	return nil
}

// checkDevice refuses device nodes outside /dev and impossible numbers.
func checkDevice(d *api.LinuxDevice) error {
	path, removal := d.IsMarkedForRemoval()
	if !cleanAbs(path) || !strings.HasPrefix(path, "/dev/") {
		return badf("device path %q is not a clean path under /dev", d.GetPath())
	}
	if removal {
		return nil
	}
	switch d.GetType() {
	case "c", "b", "u", "p":
	default:
		return badf("device %s type %q (want c, b, u or p)", path, d.GetType())
	}
	if d.GetMajor() < 0 || d.GetMinor() < 0 || d.GetMajor() > 0xfff || d.GetMinor() > 0xfffff {
		return badf("device %s numbers %d:%d", path, d.GetMajor(), d.GetMinor())
	}
	if fm := d.GetFileMode(); fm != nil && fm.GetValue()&0o6000 != 0 {
		return badf("device %s file mode %o is setuid or setgid", path, fm.GetValue())
	}
	return nil
}

// checkResources validates resources a plugin sets and returns them in
// OCI form.
func checkResources(r *api.LinuxResources) (*rspec.LinuxResources, error) {
	if m := r.GetMemory(); m != nil {
		if l := m.GetLimit(); l != nil && l.GetValue() < 0 && l.GetValue() != -1 {
			return nil, badf("memory limit %d", l.GetValue())
		}
		if s := m.GetSwap(); s != nil && s.GetValue() < 0 && s.GetValue() != -1 {
			return nil, badf("memory swap limit %d", s.GetValue())
		}
		if s := m.GetSwappiness(); s != nil && s.GetValue() > 100 {
			return nil, badf("memory swappiness %d", s.GetValue())
		}
	}
	if c := r.GetCpu(); c != nil {
		if s := c.GetShares(); s != nil && s.GetValue() != 0 && (s.GetValue() < 2 || s.GetValue() > 262144) {
			return nil, badf("cpu shares %d outside [2, 262144]", s.GetValue())
		}
		if q := c.GetQuota(); q != nil && q.GetValue() != -1 && q.GetValue() != 0 && q.GetValue() < 1000 {
			return nil, badf("cpu quota %d (want -1 or at least 1000)", q.GetValue())
		}
		if p := c.GetPeriod(); p != nil && p.GetValue() != 0 && (p.GetValue() < 1000 || p.GetValue() > 1000000) {
			return nil, badf("cpu period %d outside [1000, 1000000]", p.GetValue())
		}
		for what, set := range map[string]string{"cpus": c.GetCpus(), "mems": c.GetMems()} {
			if set == "" {
				continue
			}
			if _, err := cpuset.Parse(set); err != nil {
				return nil, badf("cpuset %s %q: %v", what, set, err)
			}
		}
	}
	for _, h := range r.GetHugepageLimits() {
		if !strings.HasSuffix(h.GetPageSize(), "B") || strings.ContainsAny(h.GetPageSize(), "/.") {
			return nil, badf("hugepage size %q", h.GetPageSize())
		}
	}
	for k := range r.GetUnified() {
		if k == "" || strings.ContainsAny(k, "/\x00") || strings.HasPrefix(k, ".") {
			return nil, badf("unified cgroup key %q", k)
		}
	}
	if len(r.GetDevices()) > 0 {
		return nil, badf("device cgroup rules in resources (add devices instead)")
	}
	return r.ToOCI(), nil
}

func allHooks(h *api.Hooks) []*api.Hook {
	if h == nil {
		return nil
	}
	var out []*api.Hook
	for _, l := range [][]*api.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop} {
		out = append(out, l...)
	}
	return out
}

var knownRlimits = map[string]bool{
	"RLIMIT_AS": true, "RLIMIT_CORE": true, "RLIMIT_CPU": true, "RLIMIT_DATA": true,
	"RLIMIT_FSIZE": true, "RLIMIT_LOCKS": true, "RLIMIT_MEMLOCK": true, "RLIMIT_MSGQUEUE": true,
	"RLIMIT_NICE": true, "RLIMIT_NOFILE": true, "RLIMIT_NPROC": true, "RLIMIT_RSS": true,
	"RLIMIT_RTPRIO": true, "RLIMIT_RTTIME": true, "RLIMIT_SIGPENDING": true, "RLIMIT_STACK": true,
}
