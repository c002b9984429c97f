package server

import (
	"context"
	"encoding/json"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/network"
	"github.com/crio/crio/internal/oci"
	"github.com/crio/crio/internal/version"
)

// Condition reasons, as the kubelet shows them.
const (
	reasonRuntimeNotReady = "RuntimeNotReady"
	reasonNetworkNotReady = "NetworkPluginNotReady"
)

// Status reports whether the runtime and the pod network are usable. Both
// conditions are checked against the host as it is now: a runtime binary
// or CNI config removed after start turns its condition false.
func (s *Server) Status(_ context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	cfg := s.cfg.Get()
	runtimeCond := &runtimeapi.RuntimeCondition{Type: runtimeapi.RuntimeReady, Status: true}
	if _, err := oci.ResolveHandler(cfg, ""); err != nil {
		runtimeCond.Status = false
		runtimeCond.Reason = reasonRuntimeNotReady
		runtimeCond.Message = err.Error()
	}
	netCond := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: true}
	if err := s.networkReady(cfg); err != nil {
		netCond.Status = false
		netCond.Reason = reasonNetworkNotReady
		netCond.Message = "Network plugin returns error: " + err.Error()
	}
	resp := &runtimeapi.StatusResponse{
		Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{runtimeCond, netCond}},
	}
	// Features come from each runtime binary's own report, probed once.
	var features map[string]oci.Features
	if s.containers != nil {
		features = s.containers.Runtime().HandlerFeatures()
	}
	handler := func(name, runtime string) *runtimeapi.RuntimeHandler {
		return &runtimeapi.RuntimeHandler{
			Name: name,
			Features: &runtimeapi.RuntimeHandlerFeatures{
				RecursiveReadOnlyMounts: features[runtime].RecursiveReadOnly,
				// The proto: "support for both, user namespaces and idmap
				// mounts"; containers join their pod's user namespace.
				UserNamespaces: features[runtime].SupportsUserNamespaces(),
			},
		}
	}
	// The proto names the default handler "": the kubelet and critest look
	// its features up under that name.
	resp.RuntimeHandlers = append(resp.RuntimeHandlers, handler("", cfg.Runtime.DefaultRuntime))
	for _, name := range cfg.HandlerNames() {
		resp.RuntimeHandlers = append(resp.RuntimeHandlers, handler(name, name))
	}
	// internal/spec applies SupplementalGroupsPolicy Merge and Strict.
	resp.Features = &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: true}
	if req.GetVerbose() {
		v, commit := version.Get()
		info := map[string]any{"version": v, "commit": commit, "defaultRuntime": cfg.Runtime.DefaultRuntime}
		if s.containers != nil {
			// The CRI has no feature field for it; CRI-O's users look
			// for checkpoint support in the verbose info too.
			cr := map[string]any{"available": true}
			if err := s.containers.CheckpointAvailable(); err != nil {
				cr = map[string]any{"available": false, "reason": err.Error()}
			}
			info["checkpointRestore"] = cr
		}
		b, _ := json.Marshal(info)
		resp.Info = map[string]string{"info": string(b), "config": cfg.String()}
	}
	return resp, nil
}

// networkReady answers from the conf-dir watcher's view (kept current by
// inotify), or reads the dir when no watcher is wired in.
func (s *Server) networkReady(cfg *config.Config) error {
	if s.net != nil {
		_, err := s.net.Watcher().Network()
		return err
	}
	_, err := network.FindNetwork(cfg.Network.NetworkDir, cfg.Network.CNIDefaultNetwork)
	return err
}
