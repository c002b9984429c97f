package server

import (
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
)

func TestPlanSandboxRefusesBadRequests(t *testing.T) {
	cfg := config.Default()
	s := &Server{cfg: config.NewLive(cfg), log: slog.Default()}
	good := func() *runtimeapi.PodSandboxConfig {
		return &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"},
			Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{},
			}},
		}
	}
	for _, tc := range []struct {
		name    string
		handler string
		mod     func(*runtimeapi.PodSandboxConfig)
		want    codes.Code
	}{
		{"valid", "", func(*runtimeapi.PodSandboxConfig) {}, codes.OK},
		{"no uid", "", func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Uid = "" }, codes.InvalidArgument},
		{"unknown handler", "nope", func(*runtimeapi.PodSandboxConfig) {}, codes.InvalidArgument},
		{"pid TARGET", "", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_TARGET
		}, codes.InvalidArgument},
		{"userns with host network", "", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
			m := []*runtimeapi.IDMapping{{HostId: 1000, Length: 10}}
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
		}, codes.InvalidArgument},
		{"userns without mappings", "", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD}
		}, codes.InvalidArgument},
		{"userns with two mappings", "", func(c *runtimeapi.PodSandboxConfig) {
			m := []*runtimeapi.IDMapping{{HostId: 1000, Length: 100000}, {HostId: 2000, Length: 100000}}
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
		}, codes.InvalidArgument},
		{"userns not mapping root", "", func(c *runtimeapi.PodSandboxConfig) {
			m := []*runtimeapi.IDMapping{{ContainerId: 1, HostId: 1000, Length: 100000}}
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
		}, codes.InvalidArgument},
		{"userns mapping overflows", "", func(c *runtimeapi.PodSandboxConfig) {
			m := []*runtimeapi.IDMapping{{HostId: 4294967000, Length: 65536}}
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
		}, codes.InvalidArgument},
		{"userns nil mapping", "", func(c *runtimeapi.PodSandboxConfig) {
			m := []*runtimeapi.IDMapping{nil}
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
		}, codes.InvalidArgument},
		{"userns CONTAINER", "", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER}
		}, codes.InvalidArgument},
		{"userns NODE with mappings", "", func(c *runtimeapi.PodSandboxConfig) {
			m := []*runtimeapi.IDMapping{{HostId: 1000, Length: 10}}
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE, Uids: m, Gids: m}
		}, codes.InvalidArgument},
		{"userns valid", "", func(c *runtimeapi.PodSandboxConfig) {
			m := []*runtimeapi.IDMapping{{HostId: 1000, Length: 100000}}
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
		}, codes.OK},
		{"host sysctl", "", func(c *runtimeapi.PodSandboxConfig) { c.Linux.Sysctls = map[string]string{"kernel.core_pattern": "x"} }, codes.InvalidArgument},
		{"dns newline", "", func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1\nnameserver 6.6.6.6"}}
		}, codes.InvalidArgument},
		{"relative cgroup parent", "", func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "kubepods" }, codes.InvalidArgument},
		{"port out of range", "", func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 70000, HostPort: 80}}
		}, codes.InvalidArgument},
		{"host IP not an IP", "", func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 80, HostIp: "example.com"}}
		}, codes.InvalidArgument},
		{"relative log dir", "", func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = "../../etc" }, codes.InvalidArgument},
		{"hostname with newline", "", func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "a\nb" }, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mod(c)
			p, err := s.planSandbox(cfg, &runtimeapi.RunPodSandboxRequest{Config: c, RuntimeHandler: tc.handler})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code %s (%v); want %s", got, err, tc.want)
			}
			if err == nil && (p.handler != "runc" || !p.infra) {
				t.Errorf("plan %+v: want the default handler and an infra process for PID mode POD", p)
			}
		})
	}
}
