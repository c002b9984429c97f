package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/mountinfo"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-tools/generate"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
)

// setMounts adds the pod's files, /dev/shm and the CRI mounts. It returns
// the CRI mounts with their container paths as resolved in the rootfs.
func setMounts(g *generate.Generator, in Input, sc *runtimeapi.LinuxContainerSecurityContext, host *hostInfo) ([]*runtimeapi.Mount, error) {
	c := in.Config
	taken := map[string]bool{}
	var applied []*runtimeapi.Mount
	rootProp := ""
	for _, m := range c.Mounts {
		if m == nil {
			continue
		}
		spec, resolved, prop, err := criMount(in, m, host)
		if err != nil {
			return nil, err
		}
		g.RemoveMount(spec.Destination)
		g.AddMount(spec)
		taken[spec.Destination] = true
		applied = append(applied, resolved)
		if prop == "rshared" || (prop == "rslave" && rootProp == "") {
			rootProp = prop
		}
	}
	if rootProp != "" {
		if err := g.SetLinuxRootPropagation(rootProp); err != nil {
			return nil, err
		}
	}
	ro := sc.ReadonlyRootfs || in.Defaults.ReadOnly
	sb := in.Sandbox
	for _, f := range []struct{ dst, src string }{
		{"/etc/hosts", sb.HostsPath},
		{"/etc/resolv.conf", sb.ResolvPath},
		{"/etc/hostname", sb.HostnamePath},
	} {
		if f.src == "" || taken[f.dst] {
			continue
		}
		opts := []string{"rbind", "rprivate", "nosuid", "nodev", "noexec"}
		if ro {
			opts = append(opts, "ro")
		}
		g.AddMount(rspec.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: opts})
	}
	for _, m := range in.Defaults.DefaultMounts {
		// As for a CRI mount: a symlink in the image cannot point the
		// mount outside the container.
		dst, err := resolveInRootfs(in.RootFS, m.Destination)
		if err != nil {
			return nil, fmt.Errorf("default_mounts_file: %w", err)
		}
		if taken[dst] {
			continue
		}
		taken[dst] = true
		g.RemoveMount(dst)
		g.AddMount(rspec.Mount{Destination: dst, Type: "bind", Source: m.Source, Options: []string{"rbind", "rprivate", "nosuid", "nodev"}})
	}
	if in.Defaults.Localtime != "" && !taken["/etc/localtime"] {
		g.AddMount(rspec.Mount{Destination: "/etc/localtime", Type: "bind", Source: in.Defaults.Localtime,
			Options: []string{"rbind", "rprivate", "nosuid", "nodev", "noexec", "ro"}})
	}
	shm := sb.ShmPath
	if sb.SecurityContext.GetNamespaceOptions().GetIpc() == runtimeapi.NamespaceMode_NODE {
		shm = "/dev/shm"
	}
	if shm != "" && !taken["/dev/shm"] {
		g.RemoveMount("/dev/shm")
		g.AddMount(rspec.Mount{Destination: "/dev/shm", Type: "bind", Source: shm,
			Options: []string{"rbind", "rprivate", "nosuid", "noexec", "nodev"}})
	}
	if sc.Privileged {
		// Privileged containers get a writable /sys and cgroup tree.
		ms := g.Mounts()
		g.ClearMounts()
		for _, m := range ms {
			if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				m.Options = slices.DeleteFunc(m.Options, func(o string) bool { return o == "ro" })
				m.Options = append(m.Options, "rw")
			}
			g.AddMount(m)
		}
	}
	sortMounts(g)
	return applied, nil
}

// sortMounts orders mounts so that a parent is mounted before what is
// mounted under it.
func sortMounts(g *generate.Generator) {
	ms := g.Mounts()
	sort.SliceStable(ms, func(i, j int) bool {
		return depth(ms[i].Destination) < depth(ms[j].Destination)
	})
	g.ClearMounts()
	for _, m := range ms {
		g.AddMount(m)
	}
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// criMount validates one CRI mount and turns it into an OCI bind mount.
func criMount(in Input, m *runtimeapi.Mount, host *hostInfo) (rspec.Mount, *runtimeapi.Mount, string, error) {
	if !filepath.IsAbs(m.ContainerPath) {
		return rspec.Mount{}, nil, "", invalidf("mount container_path %q is not absolute", m.ContainerPath)
	}
	if !filepath.IsAbs(m.HostPath) {
		return rspec.Mount{}, nil, "", invalidf("mount host_path %q is not absolute", m.HostPath)
	}
	uids, gids, err := mountIDMappings(in, m)
	if err != nil {
		return rspec.Mount{}, nil, "", err
	}
	src, err := hostSource(m.HostPath, in.Defaults)
	if err != nil {
		return rspec.Mount{}, nil, "", err
	}
	// Resolve the destination inside the rootfs so that a symlink in the
	// image cannot point the mount outside the container.
	dst, err := resolveInRootfs(in.RootFS, m.ContainerPath)
	if err != nil {
		return rspec.Mount{}, nil, "", err
	}

	opts := []string{"rbind"}
	if m.Readonly {
		opts = append(opts, "ro")
	} else {
		opts = append(opts, "rw")
	}
	prop := "rprivate"
	switch m.Propagation {
	case runtimeapi.MountPropagation_PROPAGATION_PRIVATE:
	case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
		prop = "rslave"
		if err := checkPropagation(src, false); err != nil {
			return rspec.Mount{}, nil, "", err
		}
	case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
		prop = "rshared"
		if err := checkPropagation(src, true); err != nil {
			return rspec.Mount{}, nil, "", err
		}
	default:
		return rspec.Mount{}, nil, "", invalidf("mount %s: unknown propagation %v", m.ContainerPath, m.Propagation)
	}
	opts = append(opts, prop)
	if m.RecursiveReadOnly {
		if !m.Readonly {
			return rspec.Mount{}, nil, "", invalidf("mount %s: recursive_read_only needs readonly", m.ContainerPath)
		}
		if m.Propagation != runtimeapi.MountPropagation_PROPAGATION_PRIVATE {
			return rspec.Mount{}, nil, "", invalidf("mount %s: recursive_read_only needs private propagation", m.ContainerPath)
		}
		if !in.Defaults.RecursiveReadOnly {
			return rspec.Mount{}, nil, "", fmt.Errorf("%w: mount %s: recursive read-only mounts are not supported by this runtime handler", ErrUnsupported, m.ContainerPath)
		}
		opts = append(opts, "rro")
	}
	resolved := &runtimeapi.Mount{
		ContainerPath: dst, HostPath: m.HostPath, Readonly: m.Readonly,
		SelinuxRelabel: m.SelinuxRelabel, Propagation: m.Propagation,
		RecursiveReadOnly: m.RecursiveReadOnly,
		UidMappings:       m.UidMappings,
		GidMappings:       m.GidMappings,
	}
	return rspec.Mount{Destination: dst, Type: "bind", Source: src, Options: opts, UIDMappings: uids, GIDMappings: gids}, resolved, prop, nil
}

// maxMountMappings is the kernel's limit of lines in a uid_map.
const maxMountMappings = 340

// mountIDMappings validates a mount's uid and gid mappings, which make it
// an idmapped mount: the runtime shifts the owners of the files it shows
// through a user namespace with these mappings (a file owned by host ID
// H appears owned by the container ID mapped to H).
func mountIDMappings(in Input, m *runtimeapi.Mount) (uids, gids []rspec.LinuxIDMapping, err error) {
	if len(m.UidMappings) == 0 && len(m.GidMappings) == 0 {
		return nil, nil, nil
	}
	if in.Sandbox.UserNS.Path == "" {
		return nil, nil, invalidf("mount %s: uid/gid mappings (an idmapped mount) need a pod with its own user namespace", m.ContainerPath)
	}
	if len(m.UidMappings) == 0 || len(m.GidMappings) == 0 {
		return nil, nil, invalidf("mount %s: an idmapped mount needs both uid and gid mappings", m.ContainerPath)
	}
	if !in.Defaults.IDMappedMounts {
		return nil, nil, fmt.Errorf("%w: mount %s: idmapped mounts are not supported by this runtime handler", ErrUnsupported, m.ContainerPath)
	}
	conv := func(what string, ms []*runtimeapi.IDMapping) ([]rspec.LinuxIDMapping, error) {
		if len(ms) > maxMountMappings {
			return nil, invalidf("mount %s: %d %s mappings; at most %d", m.ContainerPath, len(ms), what, maxMountMappings)
		}
		out := make([]rspec.LinuxIDMapping, 0, len(ms))
		for _, im := range ms {
			if im.GetLength() == 0 || uint64(im.GetHostId())+uint64(im.GetLength()) > 1<<32 || uint64(im.GetContainerId())+uint64(im.GetLength()) > 1<<32 {
				return nil, invalidf("mount %s: %s mapping %d:%d:%d (container:host:length) is empty or overflows", m.ContainerPath, what, im.GetContainerId(), im.GetHostId(), im.GetLength())
			}
			out = append(out, rspec.LinuxIDMapping{ContainerID: im.GetContainerId(), HostID: im.GetHostId(), Size: im.GetLength()})
		}
		return out, nil
	}
	if uids, err = conv("uid", m.UidMappings); err != nil {
		return nil, nil, err
	}
	if gids, err = conv("gid", m.GidMappings); err != nil {
		return nil, nil, err
	}
	return uids, gids, nil
}

// hostSource resolves a mount's host path; an absent one is refused or
// created as a directory, as configured.
func hostSource(p string, d Defaults) (string, error) {
	if _, err := os.Stat(p); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("mount host_path %s: %w", p, err)
		}
		if d.HostPathMustExist || slices.Contains(d.AbsentSourcesReject, filepath.Clean(p)) {
			return "", invalidf("mount host_path %s does not exist", p)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", fmt.Errorf("creating mount host_path %s: %w", p, err)
		}
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("mount host_path %s: %w", p, err)
	}
	return r, nil
}

// checkPropagation makes sure the mount holding path propagates as asked:
// shared for bidirectional, shared or slave for host-to-container.
func checkPropagation(path string, needShared bool) error {
	infos, err := mountinfo.GetMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return fmt.Errorf("reading mount info for %s: %w", path, err)
	}
	var best *mountinfo.Info
	for _, i := range infos {
		if best == nil || len(i.Mountpoint) > len(best.Mountpoint) {
			best = i
		}
	}
	if best == nil {
		return fmt.Errorf("no mount holds %s", path)
	}
	shared := strings.Contains(best.Optional, "shared:")
	slave := strings.Contains(best.Optional, "master:")
	if shared || (!needShared && slave) {
		return nil
	}
	want := "shared"
	if !needShared {
		want = "shared or slave"
	}
	return fmt.Errorf("%w: mount propagation of %s needs its host mount %s to be %s", ErrUnsupported, path, best.Mountpoint, want)
}

// setDevices adds the CRI devices, the configured additional devices, and
// for privileged containers every host device.
func setDevices(g *generate.Generator, devs []*runtimeapi.Device, additional []string, privileged, withoutHostDevices bool, owner *rspec.User, host *hostInfo) error {
	if privileged && withoutHostDevices {
		// CRI-O's privileged_without_host_devices (for VM-based handlers
		// and for nodes whose devices must stay out of privileged pods):
		// the device cgroup still allows everything, as for any
		// privileged container, but only the devices asked for are made.
		g.Config.Linux.Resources.Devices = []rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else if privileged {
		all, err := host.devices("/dev")
		if err != nil {
			return fmt.Errorf("listing host devices: %w", err)
		}
		for _, d := range all {
			g.AddDevice(d)
		}
		g.Config.Linux.Resources.Devices = []rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	for _, a := range additional {
		src, dst, perms, err := config.ParseDevice(a)
		if err != nil {
			return invalidf("%v", err)
		}
		devs = append(devs, &runtimeapi.Device{HostPath: src, ContainerPath: dst, Permissions: perms})
	}
	for _, d := range devs {
		if d == nil {
			continue
		}
		perms := d.Permissions
		if perms == "" {
			perms = "rwm"
		}
		if strings.Trim(perms, "rwm") != "" {
			return invalidf("device %s: permissions %q are not a subset of rwm", d.HostPath, perms)
		}
		if !filepath.IsAbs(d.ContainerPath) || !filepath.IsAbs(d.HostPath) {
			return invalidf("device %s -> %s: paths must be absolute", d.HostPath, d.ContainerPath)
		}
		found, err := host.devices(d.HostPath)
		if err != nil {
			return invalidf("device %s: %v", d.HostPath, err)
		}
		for _, hd := range found {
			rel, _ := filepath.Rel(d.HostPath, hd.Path)
			hd.Path = filepath.Join(d.ContainerPath, rel)
			if owner != nil {
				uid, gid := owner.UID, owner.GID
				hd.UID, hd.GID = &uid, &gid
			}
			g.AddDevice(hd)
			maj, mnr := hd.Major, hd.Minor
			g.AddLinuxResourcesDevice(true, hd.Type, &maj, &mnr, perms)
		}
	}
	return nil
}

// hostDevices returns the device node at path, or every device node under
// it when it is a directory (skipping pseudo-terminals and shm).
func hostDevices(path string) ([]rspec.LinuxDevice, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		d, err := deviceFromPath(path)
		if err != nil {
			return nil, err
		}
		return []rspec.LinuxDevice{d}, nil
	}
	var out []rspec.LinuxDevice
	err = filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				return fs.SkipDir
			}
			return nil
		}
		if e.Type()&fs.ModeDevice == 0 || e.Name() == "console" {
			return nil
		}
		if d, err := deviceFromPath(p); err == nil {
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

func deviceFromPath(p string) (rspec.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return rspec.LinuxDevice{}, err
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return rspec.LinuxDevice{}, fmt.Errorf("%s is not a device node", p)
	}
	mode := fs.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	return rspec.LinuxDevice{
		Path: p, Type: typ,
		Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, nil
}

// resolveInRootfs resolves a container path in the rootfs, following the
// image's symlinks without leaving it, and returns it as the container
// sees it.
func resolveInRootfs(rootfs, p string) (string, error) {
	full, err := securejoin.SecureJoin(rootfs, p)
	if err != nil {
		return "", fmt.Errorf("resolving mount destination %s in the rootfs: %w", p, err)
	}
	rel, err := filepath.Rel(rootfs, full)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", invalidf("mount destination %s resolves outside the rootfs", p)
	}
	return filepath.Join("/", rel), nil
}
