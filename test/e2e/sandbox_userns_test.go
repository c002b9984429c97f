package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func withUserNS(c *runtimeapi.PodSandboxConfig) {
	m := []*runtimeapi.IDMapping{{HostId: 200000, ContainerId: 0, Length: 65536}}
	c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{
		Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m,
	}
}

func TestPodUserNamespaceOwnsItsNamespaces(t *testing.T) {
	requireRoot(t)
	d := framework.NewDaemon(t, framework.Options{})
	id := runPod(t, d, podConfig("userns", podPID, withUserNS, func(c *runtimeapi.PodSandboxConfig) {
		c.Hostname = "userns-host"
		c.Linux.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "70"}
	}))
	_, info := podStatus(t, d, id)
	if info.PID == 0 {
		t.Fatal("no infra process")
	}
	uidMap, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", info.PID))
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(uidMap)); len(f) != 3 || f[0] != "0" || f[1] != "200000" || f[2] != "65536" {
		t.Errorf("infra uid_map %q; want 0 200000 65536", uidMap)
	}
	for _, kind := range []string{"net", "uts", "ipc"} {
		pin := map[string]string{"net": info.NetNS, "uts": info.UTSNS, "ipc": info.IPCNS}[kind]
		if nsInode(t, fmt.Sprintf("/proc/%d/ns/%s", info.PID, kind)) != nsInode(t, pin) {
			t.Errorf("infra %s namespace is not the pinned one", kind)
		}
	}
	out, err := exec.Command("nsenter", "--uts="+info.UTSNS, "hostname").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "userns-host" {
		t.Errorf("hostname in the pod's UTS namespace: %q, %v", out, err)
	}
	var port string
	inNetns(info.NetNS, func() error {
		b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
		port = strings.TrimSpace(string(b))
		return nil
	})
	if port != "70" {
		t.Errorf("sysctl in the userns pod's netns = %q; want 70", port)
	}
	// A pod without an infra process still gets a pinned user namespace.
	id2 := runPod(t, d, podConfig("userns2", withUserNS))
	_, info2 := podStatus(t, d, id2)
	if info2.PID != 0 || info2.NetNS == "" {
		t.Errorf("userns pod without PID POD: infra %d, netns %q", info2.PID, info2.NetNS)
	}
	_, err = d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("userns-bad", withUserNS, hostNetwork)})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("userns with host network: %v; want InvalidArgument", err)
	}
}
