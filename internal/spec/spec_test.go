package spec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/apparmor"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/:/bin/false
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
`

const group = `root:x:0:
wheel:x:10:alice,bob
users:x:100:alice
alice:x:1000:
bob:x:1001:
`

func rootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte(passwd), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte(group), 0o644)
	return dir
}

func testHost() *hostInfo {
	return &hostInfo{memsw: true, oomScoreAdj: 0, hugepageSizes: []string{"hugepages-2048kB"}, hugetlb: true,
		devices: func(p string) ([]rspec.LinuxDevice, error) {
			if p == "/dev/fuse" || p == "/dev" {
				return []rspec.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}, nil
			}
			return nil, os.ErrNotExist
		}}
}

func input(t *testing.T, c *runtimeapi.ContainerConfig) Input {
	if c.Linux == nil {
		c.Linux = &runtimeapi.LinuxContainerConfig{}
	}
	if c.Linux.SecurityContext == nil {
		c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{}
	}
	if c.Linux.SecurityContext.NamespaceOptions == nil {
		c.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}
	}
	if len(c.Command) == 0 {
		c.Command = []string{"/bin/sh"}
	}
	return Input{
		ID: "abc", Config: c, RootFS: rootfs(t),
		Sandbox: Sandbox{ID: "pod", Hostname: "podhost", CgroupParent: "/kubepods/podX",
			NetNS: "/run/netns/x", IPCNS: "/run/ipcns/x", UTSNS: "/run/utsns/x"},
		Defaults: Defaults{Capabilities: []string{"CHOWN", "NET_RAW", "KILL"}},
		host:     testHost(),
	}
}

func build(t *testing.T, in Input) *Result {
	t.Helper()
	r, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

func TestProcessArgs(t *testing.T) {
	img := v1.ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"c1", "c2"}}
	for _, tc := range []struct {
		name       string
		cmd, args  []string
		img        v1.ImageConfig
		want       []string
		wantErrMsg string
	}{
		{"image only", nil, nil, img, []string{"/ep", "c1", "c2"}, ""},
		{"args replace cmd", nil, []string{"a"}, img, []string{"/ep", "a"}, ""},
		{"command drops image cmd", []string{"/x"}, nil, img, []string{"/x"}, ""},
		{"command and args", []string{"/x"}, []string{"y"}, img, []string{"/x", "y"}, ""},
		{"cmd without entrypoint", nil, nil, v1.ImageConfig{Cmd: []string{"/bin/sh"}}, []string{"/bin/sh"}, ""},
		{"nothing", nil, nil, v1.ImageConfig{}, nil, "no command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := processArgs(&runtimeapi.ContainerConfig{Command: tc.cmd, Args: tc.args}, tc.img)
			if tc.wantErrMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrMsg) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want %q", err, tc.wantErrMsg)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("args = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEnvOrder(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{Envs: []*runtimeapi.KeyValue{{Key: "A", Value: []byte("cfg")}, {Key: "C", Value: []byte("3")}}})
	in.Image.Env = []string{"A=img", "B=img", "PATH=/img/bin"}
	in.Defaults.DefaultEnv = []string{"D=def"}
	env := build(t, in).Spec.Process.Env
	for _, want := range []string{"A=cfg", "B=img", "C=3", "D=def", "PATH=/img/bin", "HOSTNAME=podhost"} {
		if !slices.Contains(env, want) {
			t.Errorf("env %q lacks %q", env, want)
		}
	}
}

func TestUser(t *testing.T) {
	i64 := func(v int64) *runtimeapi.Int64Value { return &runtimeapi.Int64Value{Value: v} }
	for _, tc := range []struct {
		name    string
		sc      *runtimeapi.LinuxContainerSecurityContext
		pod     *runtimeapi.LinuxSandboxSecurityContext
		image   string
		want    User
		wantErr string
	}{
		{"default root", &runtimeapi.LinuxContainerSecurityContext{}, nil, "", User{0, 0, []uint32{0}}, ""},
		{"uid in passwd merges groups", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000)}, nil, "", User{1000, 1000, []uint32{1000, 10, 100}}, ""},
		{"uid not in passwd", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(4242)}, nil, "", User{4242, 0, []uint32{0}}, ""},
		{"username", &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "bob"}, nil, "", User{1001, 1001, []uint32{1001, 10}}, ""},
		{"run_as_group", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000), RunAsGroup: i64(3000)}, nil, "", User{1000, 3000, []uint32{3000, 10, 100}}, ""},
		{"supplemental merge", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000), SupplementalGroups: []int64{5000}}, nil, "", User{1000, 1000, []uint32{1000, 10, 100, 5000}}, ""},
		{"supplemental strict", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000), SupplementalGroups: []int64{5000}, SupplementalGroupsPolicy: runtimeapi.SupplementalGroupsPolicy_Strict}, nil, "", User{1000, 1000, []uint32{1000, 5000}}, ""},
		{"pod strict", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000)}, &runtimeapi.LinuxSandboxSecurityContext{SupplementalGroupsPolicy: runtimeapi.SupplementalGroupsPolicy_Strict, SupplementalGroups: []int64{7}}, "", User{1000, 1000, []uint32{1000, 7}}, ""},
		{"image user name", &runtimeapi.LinuxContainerSecurityContext{}, nil, "alice", User{1000, 1000, []uint32{1000, 10, 100}}, ""},
		{"image user:group names", &runtimeapi.LinuxContainerSecurityContext{}, nil, "alice:users", User{1000, 100, []uint32{100, 10}}, ""},
		{"image numeric", &runtimeapi.LinuxContainerSecurityContext{}, nil, "55:66", User{55, 66, []uint32{66}}, ""},
		{"unknown username", &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "mallory"}, nil, "", User{}, "not found"},
		{"unknown image user", &runtimeapi.LinuxContainerSecurityContext{}, nil, "mallory", User{}, "not found"},
		{"group without user", &runtimeapi.LinuxContainerSecurityContext{RunAsGroup: i64(5)}, nil, "", User{}, "needs run_as_user"},
		{"negative uid", &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(-1)}, nil, "", User{}, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveUser(rootfs(t), tc.sc, tc.pod, tc.image)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.UID != tc.want.UID || got.GID != tc.want.GID || !slices.Equal(got.SupplementalGroups, tc.want.SupplementalGroups) {
				t.Fatalf("user = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// An image whose /etc/passwd is an absolute symlink must be read inside
// its rootfs, never from the host.
func TestUserFilesResolvedInsideRootfs(t *testing.T) {
	dir := rootfs(t)
	os.MkdirAll(filepath.Join(dir, "alt"), 0o755)
	os.WriteFile(filepath.Join(dir, "alt/passwd"), []byte("inside:x:777:777::/:/bin/sh\n"), 0o644)
	os.Remove(filepath.Join(dir, "etc/passwd"))
	// Points to /alt/passwd inside the rootfs; on the host it would be
	// a different (absent) file.
	os.Symlink("../../../../../../alt/passwd", filepath.Join(dir, "etc/passwd"))
	u, err := resolveUser(dir, &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "inside"}, nil, "")
	if err != nil || u.UID != 777 {
		t.Fatalf("user = %+v, %v; want uid 777 from the rootfs", u, err)
	}
	big := rootfs(t)
	os.WriteFile(filepath.Join(big, "etc/group"), make([]byte, maxIDFile+10), 0o644)
	if _, err := resolveUser(big, &runtimeapi.LinuxContainerSecurityContext{}, nil, ""); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("oversized /etc/group: err = %v, want a size error", err)
	}
}

func TestCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name       string
		caps       *runtimeapi.Capability
		privileged bool
		want, not  []string
		n          int
	}{
		{"defaults", nil, false, []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"}, []string{"CAP_SYS_ADMIN"}, 3},
		{"drop net_raw", &runtimeapi.Capability{DropCapabilities: []string{"NET_RAW"}}, false, []string{"CAP_CHOWN"}, []string{"CAP_NET_RAW"}, 2},
		{"add", &runtimeapi.Capability{AddCapabilities: []string{"SYS_ADMIN"}}, false, []string{"CAP_SYS_ADMIN"}, nil, 4},
		{"drop all add one", &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"CAP_KILL"}}, false, []string{"CAP_KILL"}, []string{"CAP_CHOWN"}, 1},
		{"add all drop one", &runtimeapi.Capability{AddCapabilities: []string{"ALL"}, DropCapabilities: []string{"SYS_ADMIN"}}, false, []string{"CAP_SYS_PTRACE"}, []string{"CAP_SYS_ADMIN"}, len(allCaps()) - 1},
		{"privileged", &runtimeapi.Capability{DropCapabilities: []string{"ALL"}}, true, []string{"CAP_SYS_ADMIN"}, nil, len(allCaps())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{Capabilities: tc.caps, Privileged: tc.privileged}}})
			got := build(t, in).Spec.Process.Capabilities
			for _, w := range tc.want {
				if !slices.Contains(got.Bounding, w) || !slices.Contains(got.Effective, w) {
					t.Errorf("caps %v lack %s", got.Bounding, w)
				}
			}
			for _, n := range tc.not {
				if slices.Contains(got.Bounding, n) {
					t.Errorf("caps %v have %s", got.Bounding, n)
				}
			}
			if len(got.Bounding) != tc.n {
				t.Errorf("%d caps, want %d", len(got.Bounding), tc.n)
			}
		})
	}
	in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{Capabilities: &runtimeapi.Capability{AddCapabilities: []string{"NOPE"}}}}})
	if _, err := Build(in); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown capability: err = %v", err)
	}
}

func TestPrivileged(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
		Privileged: true, Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}}}})
	s := build(t, in).Spec
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("privileged has masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if s.Linux.Seccomp != nil {
		t.Error("privileged has a seccomp filter")
	}
	if len(s.Linux.Devices) == 0 || !s.Linux.Resources.Devices[0].Allow || s.Linux.Resources.Devices[0].Access != "rwm" {
		t.Errorf("privileged devices %v / cgroup %v", s.Linux.Devices, s.Linux.Resources.Devices)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && slices.Contains(m.Options, "ro") {
			t.Errorf("privileged /sys is read-only: %v", m.Options)
		}
	}
}

func TestPrivilegedWithoutHostDevicesGetsOnlyTheDevicesAskedFor(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{
		Devices: []*runtimeapi.Device{{HostPath: "/dev/fuse", ContainerPath: "/dev/fuse", Permissions: "rw"}},
		Linux:   &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{Privileged: true}}})
	in.Defaults.PrivilegedWithoutHostDevices = true
	in.Defaults.AdditionalDevices = nil
	in.Config.Devices[0].ContainerPath = "/dev/asked"
	s := build(t, in).Spec
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/asked" {
		t.Errorf("devices = %v; want only the one asked for, at /dev/asked", s.Linux.Devices)
	}
	if len(s.Linux.Resources.Devices) == 0 || !s.Linux.Resources.Devices[0].Allow || s.Linux.Resources.Devices[0].Access != "rwm" {
		t.Errorf("device cgroup %v; want allow-all first, as for any privileged container", s.Linux.Resources.Devices)
	}
}

func TestDeviceOwnershipFromSecurityContext(t *testing.T) {
	cfg := func() *runtimeapi.ContainerConfig {
		return &runtimeapi.ContainerConfig{
			Devices: []*runtimeapi.Device{{HostPath: "/dev/fuse", ContainerPath: "/dev/fuse", Permissions: "rw"}},
			Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				RunAsUser: &runtimeapi.Int64Value{Value: 1000}, RunAsGroup: &runtimeapi.Int64Value{Value: 2000}}}}
	}
	in := input(t, cfg())
	in.Defaults.AdditionalDevices = nil
	if d := build(t, in).Spec.Linux.Devices; len(d) != 1 || d[0].UID != nil || d[0].GID != nil {
		t.Errorf("without the key, devices = %+v; want the host's owner (unset)", d)
	}
	in = input(t, cfg())
	in.Defaults.AdditionalDevices = nil
	in.Defaults.DeviceOwnershipFromSecurityContext = true
	d := build(t, in).Spec.Linux.Devices
	if len(d) != 1 || d[0].UID == nil || *d[0].UID != 1000 || d[0].GID == nil || *d[0].GID != 2000 {
		t.Errorf("with the key, devices = %+v; want owned by 1000:2000", d)
	}
}

func TestMaskedPaths(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{})
	s := build(t, in).Spec
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("defaults: masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	in = input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{MaskedPaths: []string{"/proc/x"}, ReadonlyPaths: []string{"/proc/y"}}}})
	s = build(t, in).Spec
	if !slices.Equal(s.Linux.MaskedPaths, []string{"/proc/x"}) || !slices.Equal(s.Linux.ReadonlyPaths, []string{"/proc/y"}) {
		t.Errorf("override: masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
}

func TestSeccomp(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644)
	for _, tc := range []struct {
		name    string
		p       *runtimeapi.SecurityProfile
		path    string
		want    bool
		wantErr bool
	}{
		{"unset is unconfined", nil, "", false, false},
		{"runtime default", &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, "", true, false},
		{"deprecated runtime/default", nil, "runtime/default", true, false},
		{"unconfined", &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, "", false, false},
		{"localhost", &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: prof}, "", true, false},
		{"localhost relative", &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "p.json"}, "", false, true},
		{"localhost missing", &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/nonexistent.json"}, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{Seccomp: tc.p, SeccompProfilePath: tc.path}}})
			r, err := Build(in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Spec.Linux.Seccomp != nil; got != tc.want {
				t.Fatalf("seccomp set = %v, want %v", got, tc.want)
			}
			if tc.want && len(r.Spec.Linux.Seccomp.Syscalls) == 0 {
				t.Fatal("seccomp profile has no syscall rules")
			}
		})
	}
}

func TestAppArmorRefusedWithoutAppArmor(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
		Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "myprof"}}}})
	if _, err := Build(in); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "AppArmor") {
		t.Fatalf("err = %v, want AppArmor unsupported", err)
	}
	in = input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
		SelinuxOptions: &runtimeapi.SELinuxOption{Type: "spc_t"}}}})
	if _, err := Build(in); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "SELinux") {
		t.Fatalf("err = %v, want SELinux unsupported", err)
	}
}

func TestAppArmorProfileChosenAsCRIODoes(t *testing.T) {
	sp := func(typ runtimeapi.SecurityProfile_ProfileType, ref string) *runtimeapi.SecurityProfile {
		return &runtimeapi.SecurityProfile{ProfileType: typ, LocalhostRef: ref}
	}
	rd, unc, lh := runtimeapi.SecurityProfile_RuntimeDefault, runtimeapi.SecurityProfile_Unconfined, runtimeapi.SecurityProfile_Localhost
	notLoaded := errors.New("find `apparmor_parser` binary: not found")
	for _, tc := range []struct {
		name        string
		sc          *runtimeapi.LinuxContainerSecurityContext
		def         apparmor.Default
		noAppArmor  bool
		want        string // the spec's profile
		wantErr     error
		errContains []string
	}{
		{name: "unset is the default", sc: &runtimeapi.LinuxContainerSecurityContext{}, want: "crio-default"},
		{name: "deprecated runtime/default", sc: &runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "runtime/default"}, want: "crio-default"},
		{name: "RuntimeDefault", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(rd, "")}, want: "crio-default"},
		{name: "configured default", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(rd, "")}, def: apparmor.Default{Name: "mine"}, want: "mine"},
		{name: "configured unconfined default", sc: &runtimeapi.LinuxContainerSecurityContext{}, def: apparmor.Default{Name: "unconfined"}, want: "unconfined"},
		{name: "deprecated unconfined", sc: &runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "unconfined"}, want: "unconfined"},
		{name: "Unconfined", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(unc, "")}, want: "unconfined"},
		{name: "deprecated localhost", sc: &runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "localhost/deny-write"}, want: "deny-write"},
		{name: "Localhost with prefix", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(lh, "localhost/deny-write")}, want: "deny-write"},
		{name: "Localhost bare name", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(lh, "deny-write")}, want: "deny-write"},
		{name: "new field wins over deprecated", sc: &runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "localhost/absent",
			Apparmor: sp(lh, "localhost/deny-write")}, want: "deny-write"},
		{name: "new field unconfined wins over deprecated localhost", sc: &runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "localhost/absent",
			Apparmor: sp(unc, "")}, want: "unconfined"},
		{name: "Localhost not loaded", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(lh, "localhost/absent")},
			wantErr: ErrUnsupported, errContains: []string{`"absent"`, "not loaded"}},
		{name: "deprecated localhost not loaded", sc: &runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "localhost/absent"},
			wantErr: ErrUnsupported, errContains: []string{`"absent"`, "not loaded"}},
		{name: "default not loaded names it and why", sc: &runtimeapi.LinuxContainerSecurityContext{},
			def: apparmor.Default{Name: "crio-default-gone", Err: notLoaded}, wantErr: ErrUnsupported,
			errContains: []string{`"crio-default-gone"`, "apparmor_profile", "apparmor_parser"}},
		{name: "Localhost without a name", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(lh, "localhost/")}, wantErr: ErrInvalid},
		{name: "privileged gets none", sc: &runtimeapi.LinuxContainerSecurityContext{Privileged: true}, want: ""},
		{name: "privileged ignores Localhost", sc: &runtimeapi.LinuxContainerSecurityContext{Privileged: true, Apparmor: sp(lh, "localhost/absent")}, want: ""},
		{name: "no AppArmor: RuntimeDefault is a no-op", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(rd, "")}, noAppArmor: true, want: ""},
		{name: "no AppArmor: Unconfined is a no-op", sc: &runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "unconfined"}, noAppArmor: true, want: ""},
		{name: "no AppArmor: Localhost refused", sc: &runtimeapi.LinuxContainerSecurityContext{Apparmor: sp(lh, "localhost/deny-write")}, noAppArmor: true,
			wantErr: ErrUnsupported, errContains: []string{"not enabled on this host"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: tc.sc}})
			in.Defaults.AppArmor = tc.def
			if !tc.noAppArmor {
				in.host.apparmor = true
				in.host.apparmorLoaded = func(name string) (bool, error) {
					return slices.Contains([]string{"crio-default", "mine", "deny-write"}, name), nil
				}
			}
			r, err := Build(in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, c := range tc.errContains {
					if !strings.Contains(err.Error(), c) {
						t.Errorf("err %q does not say %s", err, c)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Spec.Process.ApparmorProfile; got != tc.want {
				t.Fatalf("profile = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNamespaces(t *testing.T) {
	nsOf := func(s *rspec.Spec, typ rspec.LinuxNamespaceType) (string, bool) {
		for _, n := range s.Linux.Namespaces {
			if n.Type == typ {
				return n.Path, true
			}
		}
		return "", false
	}
	in := input(t, &runtimeapi.ContainerConfig{})
	s := build(t, in).Spec
	if p, _ := nsOf(s, rspec.NetworkNamespace); p != "/run/netns/x" {
		t.Errorf("net ns path %q", p)
	}
	if p, _ := nsOf(s, rspec.IPCNamespace); p != "/run/ipcns/x" {
		t.Errorf("ipc ns path %q", p)
	}
	if p, ok := nsOf(s, rspec.PIDNamespace); !ok || p != "" {
		t.Errorf("pid ns %q %v, want a new one", p, ok)
	}
	in = input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}}})
	in.Sandbox.InfraPID = os.Getpid()
	s = build(t, in).Spec
	if p, _ := nsOf(s, rspec.PIDNamespace); p != filepath.Join("/proc", strconv.Itoa(os.Getpid()), "ns/pid") {
		t.Errorf("POD pid ns path %q", p)
	}
	in = input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_NODE}}}})
	in.Sandbox.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Ipc: runtimeapi.NamespaceMode_NODE}}
	s = build(t, in).Spec
	for _, typ := range []rspec.LinuxNamespaceType{rspec.NetworkNamespace, rspec.IPCNamespace, rspec.UTSNamespace, rspec.PIDNamespace} {
		if _, ok := nsOf(s, typ); ok {
			t.Errorf("host namespaces: %s namespace still set", typ)
		}
	}
	in = input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET, TargetId: "t"}}}})
	if _, err := Build(in); !errors.Is(err, ErrInvalid) {
		t.Errorf("TARGET without a running target: err = %v", err)
	}
	for _, tc := range []struct{ v2, privileged, want bool }{{false, false, false}, {true, false, true}, {true, true, false}} {
		in = input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{Privileged: tc.privileged}}})
		in.Defaults.CgroupV2 = tc.v2
		if tc.privileged {
			in.Sandbox.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{Privileged: true}
		}
		if p, ok := nsOf(build(t, in).Spec, rspec.CgroupNamespace); ok != tc.want || p != "" {
			t.Errorf("cgroup v2 %v, privileged %v: cgroup namespace %v %q; want %v", tc.v2, tc.privileged, ok, p, tc.want)
		}
	}
}

var (
	podMap     = []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 200000, Length: 65536}}
	testUserNS = UserNS{Path: "/run/userns/x", UIDs: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}},
		GIDs: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}}
	idmapOK = func(d *Defaults) { d.IDMappedMounts = true }
)

func TestMounts(t *testing.T) {
	hostDir := t.TempDir()
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		m       *runtimeapi.Mount
		setup   func(rootfs string)
		d       func(*Defaults)
		wantDst string
		opts    []string
		userns  bool // the pod has a user namespace
		idmap   bool
		wantErr error
	}{
		{name: "rw", m: &runtimeapi.Mount{ContainerPath: "/data", HostPath: hostDir}, wantDst: "/data", opts: []string{"rbind", "rw", "rprivate"}},
		{name: "ro", m: &runtimeapi.Mount{ContainerPath: "/data", HostPath: hostDir, Readonly: true}, wantDst: "/data", opts: []string{"ro"}},
		{name: "symlink out of rootfs stays inside", m: &runtimeapi.Mount{ContainerPath: "/link/sub", HostPath: hostDir},
			setup: func(r string) { os.Symlink(outside, filepath.Join(r, "link")) }, wantDst: filepath.Join(outside, "sub")},
		{name: "relative container path", m: &runtimeapi.Mount{ContainerPath: "data", HostPath: hostDir}, wantErr: ErrInvalid},
		{name: "missing host path must exist", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: filepath.Join(hostDir, "nope")},
			d: func(d *Defaults) { d.HostPathMustExist = true }, wantErr: ErrInvalid},
		{name: "missing host path rejected by list", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: filepath.Join(hostDir, "nope2")},
			d: func(d *Defaults) { d.AbsentSourcesReject = []string{filepath.Join(hostDir, "nope2")} }, wantErr: ErrInvalid},
		{name: "missing host path created", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: filepath.Join(hostDir, "made")}, wantDst: "/d"},
		{name: "rro unsupported", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, Readonly: true, RecursiveReadOnly: true}, wantErr: ErrUnsupported},
		{name: "rro supported", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, Readonly: true, RecursiveReadOnly: true},
			d: func(d *Defaults) { d.RecursiveReadOnly = true }, wantDst: "/d", opts: []string{"rro"}},
		{name: "rro needs readonly", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, RecursiveReadOnly: true},
			d: func(d *Defaults) { d.RecursiveReadOnly = true }, wantErr: ErrInvalid},
		{name: "idmap outside a user namespace", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, UidMappings: podMap, GidMappings: podMap}, wantErr: ErrInvalid},
		{name: "idmap", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, UidMappings: podMap, GidMappings: podMap},
			userns: true, d: idmapOK, wantDst: "/d", idmap: true},
		{name: "idmap unsupported by the runtime", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, UidMappings: podMap, GidMappings: podMap},
			userns: true, wantErr: ErrUnsupported},
		{name: "idmap without gid mappings", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, UidMappings: podMap},
			userns: true, d: idmapOK, wantErr: ErrInvalid},
		{name: "idmap empty mapping", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, UidMappings: podMap, GidMappings: []*runtimeapi.IDMapping{{HostId: 5}}},
			userns: true, d: idmapOK, wantErr: ErrInvalid},
		{name: "idmap overflowing mapping", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, UidMappings: []*runtimeapi.IDMapping{{HostId: 1 << 31, Length: 1 << 31}, {HostId: 4294967295, Length: 2}}, GidMappings: podMap},
			userns: true, d: idmapOK, wantErr: ErrInvalid},
		{name: "idmap nil mapping", m: &runtimeapi.Mount{ContainerPath: "/d", HostPath: hostDir, UidMappings: []*runtimeapi.IDMapping{nil}, GidMappings: podMap},
			userns: true, d: idmapOK, wantErr: ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, &runtimeapi.ContainerConfig{Mounts: []*runtimeapi.Mount{tc.m}})
			if tc.userns {
				in.Sandbox.UserNS = testUserNS
			}
			if tc.setup != nil {
				tc.setup(in.RootFS)
			}
			if tc.d != nil {
				tc.d(&in.Defaults)
			}
			r, err := Build(in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got *rspec.Mount
			for i, m := range r.Spec.Mounts {
				if m.Type == "bind" && m.Source != "" && strings.HasPrefix(m.Source, hostDir) {
					got = &r.Spec.Mounts[i]
				}
			}
			if got == nil || got.Destination != tc.wantDst {
				t.Fatalf("mount = %+v, want destination %s", got, tc.wantDst)
			}
			for _, o := range tc.opts {
				if !slices.Contains(got.Options, o) {
					t.Errorf("options %v lack %s", got.Options, o)
				}
			}
			want := []rspec.LinuxIDMapping(nil)
			if tc.idmap {
				want = testUserNS.UIDs
			}
			if !slices.Equal(got.UIDMappings, want) || !slices.Equal(got.GIDMappings, want) {
				t.Errorf("mount mappings uid %v gid %v; want %v", got.UIDMappings, got.GIDMappings, want)
			}
			if r.Mounts[0].ContainerPath != tc.wantDst {
				t.Errorf("reported container path %s", r.Mounts[0].ContainerPath)
			}
		})
	}
}

func TestSandboxFilesAndReadonlyRootfs(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{ReadonlyRootfs: true}}})
	in.Sandbox.HostsPath, in.Sandbox.ResolvPath, in.Sandbox.HostnamePath, in.Sandbox.ShmPath = "/s/hosts", "/s/resolv", "/s/hostname", "/s/shm"
	s := build(t, in).Spec
	if !s.Root.Readonly {
		t.Error("root not read-only")
	}
	want := map[string]string{"/etc/hosts": "/s/hosts", "/etc/resolv.conf": "/s/resolv", "/etc/hostname": "/s/hostname", "/dev/shm": "/s/shm"}
	for _, m := range s.Mounts {
		if src, ok := want[m.Destination]; ok {
			if m.Source != src {
				t.Errorf("%s from %s, want %s", m.Destination, m.Source, src)
			}
			delete(want, m.Destination)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing mounts %v", want)
	}
}

func TestResources(t *testing.T) {
	r := &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000, CpusetCpus: "0",
		MemoryLimitInBytes: 64 << 20, OomScoreAdj: -998, HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 0}}}
	in := input(t, &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{Resources: r}})
	in.host.oomScoreAdj = 0
	s := build(t, in).Spec
	lr := s.Linux.Resources
	if *lr.CPU.Shares != 512 || *lr.CPU.Quota != 50000 || *lr.CPU.Period != 100000 || lr.CPU.Cpus != "0" {
		t.Errorf("cpu %+v", lr.CPU)
	}
	if *lr.Memory.Limit != 64<<20 || *lr.Memory.Swap != 64<<20 {
		t.Errorf("memory limit %d swap %d, want both 64MiB", *lr.Memory.Limit, *lr.Memory.Swap)
	}
	if *s.Process.OOMScoreAdj != 0 {
		t.Errorf("oom_score_adj %d, want clamped to 0", *s.Process.OOMScoreAdj)
	}
	if s.Linux.CgroupsPath != "/kubepods/podX/crio-abc" {
		t.Errorf("cgroups path %s", s.Linux.CgroupsPath)
	}
	for _, bad := range []*runtimeapi.LinuxContainerResources{
		{Unified: map[string]string{"memory.high": "1"}},
		{MemoryLimitInBytes: 100, MemorySwapLimitInBytes: 50},
		{HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "1GB", Limit: 1}}},
	} {
		if _, err := linuxResources(bad, false, testHost()); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: err = %v, want invalid", bad, err)
		}
	}
}

func TestHugepageLimitsDroppedWhereRuntimeCannotApplyThem(t *testing.T) {
	// What the kubelet sends for every container: one limit per page size.
	r := &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20, HugepageLimits: []*runtimeapi.HugepageLimit{
		{PageSize: "2MB", Limit: 0}, {PageSize: "1GB", Limit: 0}}}
	host := testHost()
	host.hugetlb = false
	lr, err := linuxResources(r, false, host)
	if err != nil {
		t.Fatalf("err = %v, want the limits dropped", err)
	}
	if len(lr.HugepageLimits) != 0 || lr.Memory == nil || *lr.Memory.Limit != 64<<20 {
		t.Errorf("resources %+v: want no hugepage limits and the memory limit kept", lr)
	}
	host.hugetlb = true
	r.HugepageLimits = r.HugepageLimits[:1]
	if lr, err = linuxResources(r, false, host); err != nil || len(lr.HugepageLimits) != 1 || lr.HugepageLimits[0].Pagesize != "2MB" {
		t.Errorf("with hugetlb: limits %+v, err %v; want the 2MB limit", lr.HugepageLimits, err)
	}
}

func TestDevices(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{Devices: []*runtimeapi.Device{{HostPath: "/dev/fuse", ContainerPath: "/dev/myfuse", Permissions: "rw"}}})
	s := build(t, in).Spec
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/myfuse" {
		t.Fatalf("devices %+v", s.Linux.Devices)
	}
	last := s.Linux.Resources.Devices[len(s.Linux.Resources.Devices)-1]
	if !last.Allow || last.Access != "rw" || *last.Major != 10 {
		t.Errorf("device rule %+v", last)
	}
	in = input(t, &runtimeapi.ContainerConfig{Devices: []*runtimeapi.Device{{HostPath: "/dev/nope", ContainerPath: "/dev/nope"}}})
	if _, err := Build(in); !errors.Is(err, ErrInvalid) {
		t.Errorf("absent device: err = %v", err)
	}
}

func TestLogPath(t *testing.T) {
	for _, tc := range []struct {
		dir, rel, want string
		bad            bool
	}{
		{"/var/log/pods/x", "c/0.log", "/var/log/pods/x/c/0.log", false},
		{"/var/log/pods/x", "../../etc/passwd", "", true},
		{"/var/log/pods/x", "/etc/passwd", "", true},
		{"", "c.log", "", true},
		{"/d", "", "", false},
	} {
		got, err := LogPath(tc.dir, tc.rel)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("LogPath(%q, %q) = %q, %v", tc.dir, tc.rel, got, err)
		}
	}
}

// The pod's hostname lives in its pinned UTS namespace; the spec must not
// carry one, or runc would overwrite it (and refuse it on the host's).
func TestSpecSetsNoHostname(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{})
	if h := build(t, in).Spec.Hostname; h != "" {
		t.Errorf("private UTS: spec hostname %q, want none", h)
	}
	in.Sandbox.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}
	s := build(t, in).Spec
	if s.Hostname != "" {
		t.Errorf("host network: spec hostname %q, want none", s.Hostname)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == "uts" {
			t.Error("host network pod's container has its own UTS namespace")
		}
	}
}

func TestContainerJoinsPodUserNamespace(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{})
	in.Sandbox.UserNS = testUserNS
	s := build(t, in).Spec
	found := false
	for _, n := range s.Linux.Namespaces {
		if n.Type == rspec.UserNamespace {
			found = n.Path == testUserNS.Path
		}
	}
	if !found {
		t.Errorf("namespaces %v: want the user namespace %s joined", s.Linux.Namespaces, testUserNS.Path)
	}
	if len(s.Linux.UIDMappings) != 0 || len(s.Linux.GIDMappings) != 0 {
		t.Errorf("linux mappings %v %v set next to a userns path (runc reads them from the namespace)", s.Linux.UIDMappings, s.Linux.GIDMappings)
	}
	// Without a pod user namespace the container gets none.
	s = build(t, input(t, &runtimeapi.ContainerConfig{})).Spec
	for _, n := range s.Linux.Namespaces {
		if n.Type == rspec.UserNamespace {
			t.Errorf("host-userns pod: container has a user namespace %+v", n)
		}
	}
}

func TestContainerUserNamespaceRequest(t *testing.T) {
	other := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 300000, Length: 65536}}
	u := func(mode runtimeapi.NamespaceMode, m []*runtimeapi.IDMapping) *runtimeapi.UserNamespace {
		return &runtimeapi.UserNamespace{Mode: mode, Uids: m, Gids: m}
	}
	for _, tc := range []struct {
		name    string
		pod     UserNS
		req     *runtimeapi.UserNamespace
		runAs   int64 // > 0: run as this user; < 0: PID mode NODE
		wantErr bool
	}{
		{"nil joins the pod's", testUserNS, nil, 0, false},
		{"POD with the pod's mappings", testUserNS, u(runtimeapi.NamespaceMode_POD, podMap), 0, false},
		{"POD without mappings", testUserNS, u(runtimeapi.NamespaceMode_POD, nil), 0, false},
		{"POD with other mappings", testUserNS, u(runtimeapi.NamespaceMode_POD, other), 0, true},
		{"POD with uids only differing", testUserNS, &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: podMap, Gids: other}, 0, true},
		{"NODE in a userns pod", testUserNS, u(runtimeapi.NamespaceMode_NODE, nil), 0, true},
		{"NODE in a host pod", UserNS{}, u(runtimeapi.NamespaceMode_NODE, nil), 0, false},
		{"POD mappings in a host pod", UserNS{}, u(runtimeapi.NamespaceMode_POD, podMap), 0, true},
		{"CONTAINER", testUserNS, u(runtimeapi.NamespaceMode_CONTAINER, nil), 0, true},
		{"TARGET", UserNS{}, u(runtimeapi.NamespaceMode_TARGET, nil), 0, true},
		{"host PID in a userns pod", testUserNS, nil, -1, true},
		{"user inside the mapping", testUserNS, nil, 65535, false},
		{"user outside the mapping", testUserNS, nil, 65536, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, &runtimeapi.ContainerConfig{})
			in.Sandbox.UserNS = tc.pod
			sc := in.Config.Linux.SecurityContext
			sc.NamespaceOptions.UsernsOptions = tc.req
			switch {
			case tc.runAs > 0:
				sc.RunAsUser = &runtimeapi.Int64Value{Value: tc.runAs}
			case tc.runAs < 0:
				sc.NamespaceOptions.Pid = runtimeapi.NamespaceMode_NODE
			}
			_, err := Build(in)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("err = %v; want an InvalidArgument error: %v", err, tc.wantErr)
			}
		})
	}
}

func TestLocaltimeMountedReadOnlyUnlessTheKubeletMountsOne(t *testing.T) {
	in := input(t, &runtimeapi.ContainerConfig{})
	in.Defaults.Localtime = "/usr/share/zoneinfo/Europe/Paris"
	var got *rspec.Mount
	for _, m := range build(t, in).Spec.Mounts {
		if m.Destination == "/etc/localtime" {
			got = &m
		}
	}
	if got == nil || got.Source != in.Defaults.Localtime || !slices.Contains(got.Options, "ro") {
		t.Fatalf("/etc/localtime mount = %+v; want a read-only bind of %s", got, in.Defaults.Localtime)
	}
	in = input(t, &runtimeapi.ContainerConfig{})
	if slices.ContainsFunc(build(t, in).Spec.Mounts, func(m rspec.Mount) bool { return m.Destination == "/etc/localtime" }) {
		t.Error("/etc/localtime mounted with no timezone configured")
	}
}
