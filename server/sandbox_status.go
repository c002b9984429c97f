package server

import (
	"context"
	"encoding/json"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/network"
	"github.com/crio/crio/internal/store"
)

// PodSandboxStatus reports a sandbox from memory.
func (s *Server) PodSandboxStatus(_ context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	sb, err := s.getSandbox(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	st := sandboxStatus(sb)
	// Timestamp is for the evented PLEG; the container statuses it
	// wants with it are the container side's to add.
	resp := &runtimeapi.PodSandboxStatusResponse{Status: st, Timestamp: time.Now().UnixNano()}
	if req.GetVerbose() {
		info := map[string]any{
			"id": sb.ID, "name": sb.Name, "runtimeHandler": sb.RuntimeHandler,
			"netns": sb.NetNS, "ipcns": sb.IPCNS, "utsns": sb.UTSNS,
			"pid": sb.InfraPID, "cgroupParent": sb.CgroupParent, "cgroupPath": sb.CgroupPath,
			"resolvConf": sb.ResolvConfPath, "hosts": sb.HostsPath, "hostname": sb.Hostname,
			"shm": sb.ShmPath, "network": sb.NetworkName, "ips": sb.IPs, "dir": sb.Dir,
		}
		b, _ := json.Marshal(info)
		resp.Info = map[string]string{"info": string(b)}
	}
	return resp, nil
}

// sandboxStatus is the CRI status of sb, from memory.
func sandboxStatus(sb *store.Sandbox) *runtimeapi.PodSandboxStatus {
	st := &runtimeapi.PodSandboxStatus{
		Id:             sb.ID,
		Metadata:       sb.Metadata(),
		State:          sb.State(),
		CreatedAt:      sb.CreatedAt.UnixNano(),
		Labels:         sb.Config.GetLabels(),
		Annotations:    sb.Config.GetAnnotations(),
		RuntimeHandler: sb.RuntimeHandler,
		Network:        &runtimeapi.PodSandboxNetworkStatus{},
		Linux: &runtimeapi.LinuxPodSandboxStatus{
			Namespaces: &runtimeapi.Namespace{
				Options: namespaceOptions(sb),
			},
		},
	}
	if primary, rest := network.SplitIPs(sb.IPs); primary != "" {
		st.Network.Ip = primary
		for _, ip := range rest {
			st.Network.AdditionalIps = append(st.Network.AdditionalIps, &runtimeapi.PodIP{Ip: ip})
		}
	}
	return st
}

// namespaceOptions are the pod's namespace options as the kubelet sent
// them, with the PID mode defaulted as the CRI says (POD when unset).
func namespaceOptions(sb *store.Sandbox) *runtimeapi.NamespaceOption {
	ns := sb.Config.GetLinux().GetSecurityContext().GetNamespaceOptions()
	return &runtimeapi.NamespaceOption{
		Network:       ns.GetNetwork(),
		Pid:           ns.GetPid(),
		Ipc:           ns.GetIpc(),
		TargetId:      ns.GetTargetId(),
		UsernsOptions: ns.GetUsernsOptions(),
	}
}
