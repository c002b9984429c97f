package e2e

import (
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestDeviceOwnershipFromSecurityContextOwnsGivenDevicesByRunAsUser(t *testing.T) {
	for _, c := range []struct {
		config, want string
	}{
		{"", "0:0"}, // the host's owner of /dev/zero
		{"[crio.runtime]\ndevice_ownership_from_security_context = true\n", "1000:2000"},
	} {
		e := newExecEnvConfig(t, c.config)
		id := e.container(t, []string{"sleep", "600"}, func(cc *runtimeapi.ContainerConfig) {
			cc.Devices = []*runtimeapi.Device{{HostPath: "/dev/zero", ContainerPath: "/dev/given", Permissions: "rw"}}
			cc.Linux = &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				RunAsUser: &runtimeapi.Int64Value{Value: 1000}, RunAsGroup: &runtimeapi.Int64Value{Value: 2000},
			}}
		})
		r, err := execSync(t, e, id, 10, "stat", "-c", "%u:%g", "/dev/given")
		if err != nil || r.ExitCode != 0 {
			t.Fatalf("stat /dev/given: %v %s %s", err, r.GetStdout(), r.GetStderr())
		}
		if got := strings.TrimSpace(string(r.Stdout)); got != c.want {
			t.Errorf("config %q: /dev/given is owned by %s, want %s", c.config, got, c.want)
		}
	}
}
