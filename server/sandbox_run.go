package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/failpoint"
	"github.com/crio/crio/internal/limits"
	"github.com/crio/crio/internal/network"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/stages"
	"github.com/crio/crio/internal/store"
	"github.com/crio/crio/internal/systemd"
)

// infraOOMScoreAdj is the infra process's oom_score_adj, as in CRI-O: the
// pod's PID 1 should be the last thing the OOM killer takes.
const infraOOMScoreAdj = -998

// cniTimeout bounds one CNI ADD.
const cniTimeout = 2 * time.Minute

// networkFile is the CNI attachment saved in the sandbox directory.
const networkFile = "network.json"

// setupFile records what a sandbox being set up holds outside its
// directory (cgroups, namespace pins, the infra process), so that a
// daemon restarted after a crash mid-set-up can free it, or one that
// finds the state file unreadable.
const setupFile = "setup.json"

// partialSetup is the content of setupFile.
type partialSetup struct {
	CgroupsCreated []string        `json:"cgroupsCreated,omitempty"`
	Pins           *sandbox.Pinned `json:"pins,omitempty"`
}

// RunPodSandbox creates and starts a pod sandbox. A repeated request for
// the same metadata (the kubelet retrying after a timeout) gets the first
// request's sandbox ID, waiting for it when it is still in flight.
func (s *Server) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	cfg := s.cfg.Get()
	plan, err := s.planSandbox(cfg, req)
	if err != nil {
		return nil, err
	}
	id, owner, err := s.sandboxes.Names.Reserve(ctx, plan.name, store.GenerateID())
	if err != nil {
		return nil, sandboxError("waiting for the pod's earlier RunPodSandbox", err)
	}
	if !owner {
		s.log.Info("RunPodSandbox for a pod that exists: returning its ID", "name", plan.name, "id", id)
		return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
	}
	plan.id = id
	if err := s.runSandbox(ctx, cfg, plan); err != nil {
		return nil, err
	}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
}

// sandboxPlan is a validated request: everything decided before anything
// is made.
type sandboxPlan struct {
	id, name                 string
	config                   *runtimeapi.PodSandboxConfig
	handler                  string
	hostNet, hostIPC, infra  bool
	sysctls                  []sandbox.Sysctl
	hostname                 string
	cgroupParent, cgroupPath string
	cgroupDriver             string                 // cgroups.Cgroupfs or cgroups.Systemd
	uids, gids               []syscall.SysProcIDMap // pod user namespace; nil for none
}

// planSandbox validates the request; every refusal is InvalidArgument and
// happens before anything is made.
func (s *Server) planSandbox(cfg *config.Config, req *runtimeapi.RunPodSandboxRequest) (*sandboxPlan, error) {
	c := req.GetConfig()
	m := c.GetMetadata()
	if err := sandbox.ValidateMetadata(m); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := limits.Metadata("pod sandbox config", c.GetLabels(), c.GetAnnotations(), cfg.Limits); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	p := &sandboxPlan{name: store.SandboxName(m), config: c, handler: req.GetRuntimeHandler()}
	if p.handler == "" {
		p.handler = cfg.Runtime.DefaultRuntime
	}
	h, ok := cfg.Runtime.Runtimes[p.handler]
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "runtime handler %q is not configured (have %v)", p.handler, cfg.HandlerNames())
	}
	// The handler's default_annotations are the pod's where it sets none
	// of the same key, as in CRI-O: PodSandboxStatus reports them, and
	// the containers' specs and hooks see them.
	if len(h.DefaultAnnotations) > 0 {
		merged := maps.Clone(h.DefaultAnnotations)
		maps.Copy(merged, c.GetAnnotations())
		c.Annotations = merged
	}
	ns := c.GetLinux().GetSecurityContext().GetNamespaceOptions()
	p.hostNet = ns.GetNetwork() == runtimeapi.NamespaceMode_NODE
	p.hostIPC = ns.GetIpc() == runtimeapi.NamespaceMode_NODE
	switch ns.GetPid() {
	case runtimeapi.NamespaceMode_POD:
		p.infra = true
	case runtimeapi.NamespaceMode_NODE, runtimeapi.NamespaceMode_CONTAINER:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "PID namespace mode %s is not valid for a pod", ns.GetPid())
	}
	var err error
	if p.uids, p.gids, err = sandbox.ValidateUserNS(ns.GetUsernsOptions(), p.hostNet, p.hostIPC, ns.GetPid() == runtimeapi.NamespaceMode_NODE); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if p.uids != nil && s.containers != nil {
		// Refuse now rather than make a pod none of whose containers
		// could run.
		if _, f, err := s.containers.Runtime().Handler(p.handler); err == nil && !f.SupportsUserNamespaces() {
			return nil, status.Errorf(codes.FailedPrecondition, "runtime handler %q does not support user namespaces with idmapped mounts", p.handler)
		}
	}
	sysctls, err := sandbox.ValidateSysctls(c.GetLinux().GetSysctls(), p.hostNet, p.hostIPC)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	p.sysctls = append(s.defaultSysctls(cfg, c.GetLinux().GetSysctls(), p.hostNet, p.hostIPC), sysctls...)
	if err := sandbox.ValidateDNS(c.GetDnsConfig()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if p.hostname, err = sandbox.Hostname(c, p.hostNet); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	p.cgroupParent = c.GetLinux().GetCgroupParent()
	p.cgroupDriver = cgroups.Driver(cfg.Runtime.CgroupManager)
	if p.cgroupPath, err = cgroups.ResolveParent(p.cgroupDriver, p.cgroupParent); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	for _, pm := range c.GetPortMappings() {
		if pm.GetContainerPort() <= 0 || pm.GetContainerPort() > 65535 || pm.GetHostPort() < 0 || pm.GetHostPort() > 65535 {
			return nil, status.Errorf(codes.InvalidArgument, "port mapping %d->%d: ports must be 1-65535", pm.GetHostPort(), pm.GetContainerPort())
		}
		if ip := pm.GetHostIp(); ip != "" && net.ParseIP(ip) == nil {
			return nil, status.Errorf(codes.InvalidArgument, "port mapping %d->%d: host IP %q is not an IP address", pm.GetHostPort(), pm.GetContainerPort(), ip)
		}
	}
	if d := c.GetLogDirectory(); d != "" && (!filepath.IsAbs(d) || filepath.Clean(d) != d) {
		return nil, status.Errorf(codes.InvalidArgument, "log directory %q is not a clean absolute path", d)
	}
	return p, nil
}

// defaultSysctls are [crio.runtime] default_sysctls the pod does not set
// itself and that apply to its namespaces; the others are skipped.
func (s *Server) defaultSysctls(cfg *config.Config, pod map[string]string, hostNet, hostIPC bool) []sandbox.Sysctl {
	var out []sandbox.Sysctl
	for k, v := range sandbox.ParseDefaultSysctls(cfg.Runtime.DefaultSysctls, nil) {
		if _, set := pod[k]; set {
			continue
		}
		ss, err := sandbox.ValidateSysctls(map[string]string{k: v}, hostNet, hostIPC)
		if err != nil {
			s.log.Debug("default sysctl not applied to this pod", "sysctl", k, "reason", err)
			continue
		}
		out = append(out, ss...)
	}
	return out
}

// runSandbox makes the sandbox p describes. Each step registers its undo
// right after it succeeds; on failure they run in reverse and nothing is
// left: no namespace pin, mount, IP lease, cgroup or state file.
func (s *Server) runSandbox(ctx context.Context, cfg *config.Config, p *sandboxPlan) (retErr error) {
	log := s.log.With("sandbox", p.id, "pod", p.name)
	start := time.Now()
	var undo sandbox.Undo
	// The step in progress names the error; the steps' times are logged
	// at the end.
	st := stages.Start("validate")
	defer func() {
		if retErr == nil {
			return
		}
		log.Warn("RunPodSandbox failed; rolling back", "stage", st.Step(), "error", retErr)
		if err := undo.Run(ctx, log); err != nil {
			log.Error("rollback incomplete", "error", err)
		}
		retErr = sandboxError("RunPodSandbox "+p.name+" (at "+st.Step()+")", retErr)
	}()
	undo.Add("release name", func(context.Context) error {
		s.sandboxes.Names.Release(p.name, p.id)
		return nil
	})

	sb := &store.Sandbox{
		ID: p.id, Name: p.name, Config: p.config, RuntimeHandler: p.handler,
		CgroupParent: p.cgroupParent, CgroupPath: p.cgroupPath,
		Dir:      sandbox.Dir(s.sandboxRoot, p.id),
		Hostname: p.hostname, LogDirectory: p.config.GetLogDirectory(),
		CreatedAt: start,
	}

	st.Next("state dir")
	if err := os.MkdirAll(s.sandboxRoot, 0o711); err != nil {
		return err
	}
	if err := os.Mkdir(sb.Dir, 0o700); err != nil {
		return fmt.Errorf("creating sandbox dir: %w", err)
	}
	undo.Add("remove state dir", func(context.Context) error { return os.RemoveAll(sb.Dir) })

	if dir := sb.LogDirectory; dir != "" {
		st.Next("log dir")
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("creating log directory: %w", err)
			}
			undo.Add("remove log dir", func(context.Context) error { return os.Remove(dir) })
		}
	}

	var setup partialSetup
	// Under systemd the pod's slice is the kubelet's, or made by systemd
	// with the first scope started in it: a directory made here would be
	// one systemd does not know.
	systemdDriver := p.cgroupDriver == cgroups.Systemd
	if !systemdDriver {
		st.Next("cgroup")
		// What is about to be made is recorded first: a crash inside
		// Create must not leave a cgroup nothing records.
		planned, err := cgroups.Missing(p.cgroupPath)
		if err != nil {
			return err
		}
		setup.CgroupsCreated = planned
		if err := saveJSON(filepath.Join(sb.Dir, setupFile), &setup); err != nil {
			return err
		}
		created, err := cgroups.Create(p.cgroupPath)
		if err != nil {
			return err
		}
		undo.Add("remove cgroup", func(context.Context) error { return cgroups.Remove(created) })
		sb.CgroupsCreated = created
		setup.CgroupsCreated = created
		if err := saveJSON(filepath.Join(sb.Dir, setupFile), &setup); err != nil {
			return err
		}
		failpoint.Hit(failpoint.SandboxAfterCgroup)
	}

	st.Next("namespaces")
	pins, err := sandbox.Pin(sandbox.PinOptions{
		Dir: cfg.Runtime.NamespacesDir, ID: p.id,
		Net: !p.hostNet, IPC: !p.hostIPC, UTS: !p.hostNet,
		Hostname: p.hostname, Sysctls: p.sysctls, Infra: p.infra,
		UIDMappings: p.uids, GIDMappings: p.gids,
	})
	if err != nil {
		return err
	}
	undo.Add("release namespaces", func(context.Context) error { return pins.Release() })
	sb.NetNS, sb.IPCNS, sb.UTSNS, sb.UserNS = pins.Net, pins.IPC, pins.UTS, pins.User
	sb.InfraPID, sb.InfraStartTime = pins.InfraPID, pins.InfraStartTime
	setup.Pins = pins
	if err := saveJSON(filepath.Join(sb.Dir, setupFile), &setup); err != nil {
		return err
	}
	failpoint.Hit(failpoint.SandboxAfterNetnsPin)
	if sb.InfraPID != 0 {
		st.Next("infra process")
		if systemdDriver {
			// Its scope goes when the process does.
			if err := systemd.StartScope(ctx, systemd.ScopeName("crio", p.id), cgroups.PodSlice(p.cgroupPath), sb.InfraPID, "crio infra of pod "+p.id); err != nil {
				return err
			}
		} else if err := cgroups.AddProcess(p.cgroupPath, sb.InfraPID); err != nil {
			return err
		}
		if err := sandbox.SetOOMScoreAdj(sb.InfraPID, infraOOMScoreAdj); err != nil {
			log.Warn("infra process oom_score_adj not set", "error", err)
		}
	}

	// CNI ADD runs while the files are written; its result is awaited
	// below.
	st.Next("network")
	netDone := make(chan error, 1)
	var att *network.Attachment
	if !p.hostNet {
		if att, err = s.net.Prepare(network.Pod{
			ID: p.id, NetNS: sb.NetNS, Name: p.config.GetMetadata().GetName(),
			Namespace: p.config.GetMetadata().GetNamespace(), UID: p.config.GetMetadata().GetUid(),
			PortMappings: p.config.GetPortMappings(), Annotations: p.config.GetAnnotations(),
		}); err != nil {
			if errors.Is(err, network.ErrNoNetwork) {
				return status.Error(codes.FailedPrecondition, err.Error())
			}
			return status.Error(codes.InvalidArgument, err.Error())
		}
		sb.NetworkName = att.Network
		// Saved before ADD so that a daemon that dies during ADD can DEL.
		netPath := filepath.Join(sb.Dir, networkFile)
		if err := saveAttachment(netPath, att); err != nil {
			return err
		}
		// And in the persistent root: the run root does not survive a
		// reboot, and host-local's leases usually do.
		keptPath := s.keptAttachment(p.id)
		if err := os.MkdirAll(filepath.Dir(keptPath), 0o700); err != nil {
			return err
		}
		if err := saveAttachment(keptPath, att); err != nil {
			return err
		}
		// The kubelet giving up must not cut ADD half-way (the rollback
		// or its retry deals with the result), but a hung plugin must not
		// hold the sandbox forever either.
		netCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cniTimeout)
		go func() { defer cancel(); netDone <- s.net.Add(netCtx, att) }()
		undo.Add("CNI DEL", func(ctx context.Context) error {
			if err := s.net.Del(ctx, att); err != nil {
				return err
			}
			os.Remove(keptPath)
			return os.Remove(netPath)
		})
	} else {
		netDone <- nil
	}
	netWaited := false
	defer func() {
		if !netWaited {
			<-netDone // the DEL undo must not race the ADD
		}
	}()

	st.Next("files")
	sb.HostnamePath = filepath.Join(sb.Dir, "hostname")
	if err := sandbox.WriteHostname(sb.HostnamePath, p.hostname); err != nil {
		return err
	}
	sb.ResolvConfPath = filepath.Join(sb.Dir, "resolv.conf")
	if err := sandbox.WriteResolvConf(sb.ResolvConfPath, p.config.GetDnsConfig()); err != nil {
		return err
	}
	sb.HostsPath = filepath.Join(sb.Dir, "hosts")
	if p.hostNet {
		err = sandbox.CopyHostHosts(sb.HostsPath)
	} else {
		err = sandbox.WriteHosts(sb.HostsPath, p.hostname, nil)
	}
	if err != nil {
		return err
	}
	st.Next("shm")
	if p.hostIPC {
		sb.ShmPath = "/dev/shm"
	} else {
		sb.ShmPath = filepath.Join(sb.Dir, "shm")
		if err := sandbox.MountShm(sb.ShmPath); err != nil {
			return err
		}
		undo.Add("unmount shm", func(context.Context) error { return sandbox.UnmountShm(sb.ShmPath) })
	}

	st.Next("network wait")
	err = <-netDone
	netWaited = true
	if err != nil {
		return err
	}
	failpoint.Hit(failpoint.SandboxAfterCNIAdd)
	if err := sandbox.ApplyDeferredSysctls(pins); err != nil {
		return err
	}
	if att != nil {
		sb.IPs = att.IPs
		if err := saveAttachment(filepath.Join(sb.Dir, networkFile), att); err != nil {
			return err
		}
		if err := sandbox.WriteHosts(sb.HostsPath, p.hostname, sb.IPs); err != nil {
			return err
		}
	}

	// NRI plugins hear of the pod before anything can list it or put a
	// container in it; a plugin's error fails the RPC and rolls back. The
	// sync block, held until the sandbox is published, keeps a plugin
	// registering meanwhile from missing it.
	st.Next("nri")
	unblock := s.nri.BlockSync()
	defer unblock()
	if s.nri.Active() {
		// Also when the hook fails: plugins before the failing one saw
		// the pod.
		undo.Add("NRI stop and remove pod", func(ctx context.Context) error {
			if err := s.nri.StopPodSandbox(ctx, sb); err != nil {
				log.Warn("NRI StopPodSandbox in rollback", "error", err)
			}
			return s.nri.RemovePodSandbox(ctx, sb)
		})
	}
	if err := s.nri.RunPodSandbox(ctx, sb); err != nil {
		return err
	}

	st.Next("state file")
	sb.SetState(runtimeapi.PodSandboxState_SANDBOX_READY)
	if err := sb.Save(); err != nil {
		return err
	}
	// setupFile stays: should the state file be lost (truncated by a
	// power cut), it still says what to free.
	failpoint.Hit(failpoint.SandboxAfterStateFile)
	if err := ctx.Err(); err != nil {
		// The kubelet gave up; keep the sandbox anyway: its retry
		// finds it by name and gets this ID.
		log.Info("RunPodSandbox finished after the caller gave up", "error", err)
	}
	s.sandboxes.Add(p.id, sb)
	s.sandboxes.Names.Finish(p.name, p.id)
	unblock()
	s.publishSandboxEvent(sb, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT)
	s.publishSandboxEvent(sb, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	st.Next("done")
	log.Info("pod sandbox ready", "ips", sb.IPs, "infra_pid", sb.InfraPID, "duration", st.Elapsed(), "stages", st.String())
	return nil
}

// sandboxLog is s.log with a sandbox's identity.
func (s *Server) sandboxLog(sb *store.Sandbox) *slog.Logger {
	return s.log.With("sandbox", sb.ID, "pod", sb.Name)
}

// saveAttachment writes the CNI attachment next to the sandbox.
func saveAttachment(path string, att *network.Attachment) error { return saveJSON(path, att) }

// saveJSON writes a file a restarted daemon needs to undo a sandbox set-up
// cut short. The run root does not outlive a reboot, so a rename without
// fsync is enough: it protects against a daemon crash, which is what these
// files are for.
func saveJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return store.ReplaceFile(path, data, 0o600)
}
