package cgroups

import "testing"

func TestContainerPath(t *testing.T) {
	for _, tc := range []struct {
		driver, pod, spec, fs string
	}{
		{Cgroupfs, "/kubepods/besteffort/pod1", "/kubepods/besteffort/pod1/crio-c1", "/kubepods/besteffort/pod1/crio-c1"},
		{Cgroupfs, "", "/crio/crio-c1", "/crio/crio-c1"},
		{Systemd, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice",
			"kubepods-burstable-pod1.slice:crio:c1", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crio-c1.scope"},
		{Systemd, "", "system.slice:crio:c1", "/system.slice/crio-c1.scope"},
	} {
		spec, fs := ContainerPath(tc.driver, tc.pod, "c1")
		if spec != tc.spec || fs != tc.fs {
			t.Errorf("ContainerPath(%s, %q) = %q, %q; want %q, %q", tc.driver, tc.pod, spec, fs, tc.spec, tc.fs)
		}
	}
}

func TestFSPathOfRuncsSystemdForm(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"/a/b", "/a/b", false},
		{"kubepods-pod1.slice:crio:x", "/kubepods.slice/kubepods-pod1.slice/crio-x.scope", false},
		{":crio:x", "/system.slice/crio-x.scope", false},
		{"system.slice::x", "/system.slice/x.scope", false},
		{"system.slice:crio:kubepods-a.slice", "/kubepods.slice/kubepods-a.slice", false},
		{"a:b", "", true},
		{"a:b:c:d", "", true},
		{"notaslice:crio:x", "", true},
		{"system.slice:crio:", "", true},
		{"system.slice:crio:../x", "", true},
	} {
		got, err := FSPath(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("FSPath(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
