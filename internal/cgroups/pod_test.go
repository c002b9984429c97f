package cgroups

import "testing"

func TestResolveParent(t *testing.T) {
	for _, tc := range []struct {
		driver, in, want string
		bad              bool
	}{
		{Cgroupfs, "/kubepods/besteffort/pod1", "/kubepods/besteffort/pod1", false},
		{Cgroupfs, "", "", false},
		{Cgroupfs, "kubepods/pod1", "", true},
		{Cgroupfs, "/kubepods/../etc", "", true},
		{Systemd, "kubepods-besteffort-pod1.slice", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice", false},
		{Systemd, "kubepods.slice", "/kubepods.slice", false},
		{Systemd, "kubepods", "", true},
		{Systemd, "a--b.slice", "", true},
	} {
		got, err := ResolveParent(tc.driver, tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ResolveParent(%s, %q) = %q, %v; want %q, error %v", tc.driver, tc.in, got, err, tc.want, tc.bad)
		}
	}
}
