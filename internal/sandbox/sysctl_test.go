package sandbox

import (
	"errors"
	"testing"
)

func TestValidateSysctls(t *testing.T) {
	for _, tc := range []struct {
		name          string
		in            map[string]string
		hostNet, host bool
		wantErr       bool
		wantPath      string
	}{
		{"net sysctl", map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}, false, false, false, "net/ipv4/ip_unprivileged_port_start"},
		{"slash form with dotted interface", map[string]string{"net/ipv4/conf/eth0.100/forwarding": "1"}, false, false, false, "net/ipv4/conf/eth0.100/forwarding"},
		{"ipc sysctl", map[string]string{"kernel.shm_rmid_forced": "1"}, false, false, false, "kernel/shm_rmid_forced"},
		{"mqueue", map[string]string{"fs.mqueue.msg_max": "20"}, false, false, false, "fs/mqueue/msg_max"},
		{"host sysctl refused", map[string]string{"kernel.core_pattern": "|/bin/evil"}, false, false, true, ""},
		{"net on host network refused", map[string]string{"net.ipv4.ip_forward": "1"}, true, false, true, ""},
		{"ipc on host ipc refused", map[string]string{"kernel.msgmax": "1"}, false, true, true, ""},
		{"value smuggling a second key", map[string]string{"net.ipv4.ip_forward": "1\nkernel.core_pattern=x"}, false, false, true, ""},
		{"value with equals", map[string]string{"net.ipv4.ip_forward": "1 kernel.core_pattern=x"}, false, false, true, ""},
		{"traversal", map[string]string{"net/../kernel/core_pattern": "x"}, false, false, true, ""},
		{"dot dot", map[string]string{"net..ipv4": "x"}, false, false, true, ""},
		{"empty value", map[string]string{"net.ipv4.ip_forward": ""}, false, false, true, ""},
		{"port range with space", map[string]string{"net.ipv4.ip_local_port_range": "1024 65000"}, false, false, false, "net/ipv4/ip_local_port_range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidateSysctls(tc.in, tc.hostNet, tc.host)
			if tc.wantErr {
				var se *SysctlError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, %v; want a SysctlError", got, err)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0].Path != tc.wantPath {
				t.Fatalf("got %+v, %v; want path %q", got, err, tc.wantPath)
			}
		})
	}
}
