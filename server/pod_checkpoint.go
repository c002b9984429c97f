package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/checkpoint"
	"github.com/crio/crio/internal/store"
)

// podCheckpointDefaultTimeout bounds a CheckpointPod or RestorePod whose
// caller set no deadline, which the proto says it must: a pod must not
// stay frozen behind a CRIU that hangs.
const podCheckpointDefaultTimeout = 10 * time.Minute

// withDefaultDeadline gives ctx a deadline when it has none.
func withDefaultDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, podCheckpointDefaultTimeout)
}

// refuseOptions answers the proto's "must reject unsupported keys": this
// runtime defines no checkpoint or restore options.
func refuseOptions(rpc string, opts map[string]string) error {
	if len(opts) == 0 {
		return nil
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return status.Errorf(codes.InvalidArgument, "%s: option %q is not supported (this runtime defines no %s options)", rpc, keys[0], rpc)
}

// CheckpointPod checkpoints the named running containers of a pod into
// the caller's empty output directory: every container is paused, then
// each is dumped into its own archive in CheckpointContainer's format,
// then all are resumed; pod.json lists them (docs/architecture.md).
func (s *Server) CheckpointPod(ctx context.Context, req *runtimeapi.CheckpointPodRequest) (*runtimeapi.CheckpointPodResponse, error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	if err := refuseOptions("CheckpointPod", req.GetOptions()); err != nil {
		return nil, err
	}
	if _, err := s.getSandbox(req.GetPodSandboxId()); err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	if _, err := s.containers.CheckpointPod(ctx, req.GetPodSandboxId(), req.GetContainerIds(), req.GetOutputPath()); err != nil {
		return nil, containerError("checkpointing pod sandbox "+req.GetPodSandboxId(), err)
	}
	return &runtimeapi.CheckpointPodResponse{}, nil
}

// RestorePod makes a new pod sandbox from the request's config and, in
// the checkpoint's order, one container per checkpointed container from
// its archive, as CreateContainer does from a local archive: each is
// CREATED and its processes are restored by StartContainer. On failure
// whatever it made is removed.
func (s *Server) RestorePod(ctx context.Context, req *runtimeapi.RestorePodRequest) (_ *runtimeapi.RestorePodResponse, retErr error) {
	if err := s.containersServed(); err != nil {
		return nil, err
	}
	if err := refuseOptions("RestorePod", req.GetOptions()); err != nil {
		return nil, err
	}
	if req.GetConfig() == nil {
		return nil, status.Error(codes.InvalidArgument, "RestorePod: config (the new pod's PodSandboxConfig) is required")
	}
	dir := req.GetCheckpointPath()
	if dir == "" || !filepath.IsAbs(dir) {
		return nil, status.Errorf(codes.InvalidArgument, "RestorePod: checkpoint_path %q must be an absolute path", dir)
	}
	if fi, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.NotFound, "RestorePod: checkpoint_path %s does not exist", dir)
	} else if err != nil || !fi.IsDir() {
		return nil, status.Errorf(codes.InvalidArgument, "RestorePod: checkpoint_path %s is not a directory (%v)", dir, err)
	}
	man, err := checkpoint.ReadPodManifest(dir)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "RestorePod: %v", err)
	}
	cfgs, err := matchRestoreConfigs(dir, man, req.GetContainerConfigs())
	if err != nil {
		return nil, err
	}
	live := s.cfg.Get()
	plan, err := s.planSandbox(live, &runtimeapi.RunPodSandboxRequest{Config: req.GetConfig(), RuntimeHandler: req.GetRuntimeHandler()})
	if err != nil {
		return nil, err
	}
	// After the request's checks, which hold on any host.
	if err := s.containers.CheckpointAvailable(); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "RestorePod: %v", err)
	}
	ctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	start := time.Now()

	// The sandbox as RunPodSandbox makes it, but refused rather than
	// shared when a pod of the same metadata exists: an error must
	// remove only what this call made.
	if id, taken := s.sandboxes.Names.Lookup(plan.name); taken {
		return nil, status.Errorf(codes.AlreadyExists, "RestorePod: pod sandbox %s already has the metadata of the pod to restore (%s)", id, plan.name)
	}
	id, owner, err := s.sandboxes.Names.Reserve(ctx, plan.name, store.GenerateID())
	if err != nil {
		return nil, sandboxError("RestorePod", err)
	}
	if !owner {
		return nil, status.Errorf(codes.AlreadyExists, "RestorePod: pod sandbox %s with the same metadata was made meanwhile", id)
	}
	plan.id = id
	if err := s.runSandbox(ctx, live, plan); err != nil {
		return nil, err
	}
	var made []string
	defer func() {
		if retErr == nil {
			return
		}
		// Its own context: the caller's deadline may be what failed.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer ccancel()
		for _, cid := range slices.Backward(made) {
			if _, err := s.RemoveContainer(cctx, &runtimeapi.RemoveContainerRequest{ContainerId: cid}); err != nil {
				s.log.Error("RestorePod: removing a container after a failed restore", "id", cid, "error", err)
			}
		}
		if _, err := s.StopPodSandbox(cctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			s.log.Error("RestorePod: stopping the sandbox after a failed restore", "id", id, "error", err)
		}
		if _, err := s.RemovePodSandbox(cctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			s.log.Error("RestorePod: removing the sandbox after a failed restore", "id", id, "error", err)
		}
	}()

	// In a pod PID namespace CRIU gives each restored process its
	// checkpointed PID; the containers are restored one at a time, and
	// one already running forks (its shell's sleep) with the
	// namespace's next free PID, which may be one a later container
	// needs (CRIU: "Can't fork for 6: File exists"). New PIDs start
	// above every checkpointed one instead.
	if sb, err := s.sandboxes.Get(id); err == nil && sb.InfraPID > 0 && man.MaxPID > 0 {
		if err := checkpoint.ReservePIDs(ctx, sb.InfraPID, man.MaxPID); err != nil {
			return nil, status.Errorf(codes.Internal, "RestorePod: %v", err)
		}
	}
	resp := &runtimeapi.RestorePodResponse{PodSandboxId: id}
	for _, pc := range man.Containers {
		cfg := proto.Clone(cfgs[pc.Name]).(*runtimeapi.ContainerConfig)
		// A local archive as the image is CreateContainer's restore.
		cfg.Image = &runtimeapi.ImageSpec{Image: filepath.Join(dir, pc.Archive)}
		cr, err := s.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: id, Config: cfg, SandboxConfig: req.GetConfig()})
		if err != nil {
			return nil, status.Errorf(status.Code(err), "RestorePod: container %s: %v", pc.Name, status.Convert(err).Message())
		}
		made = append(made, cr.ContainerId)
		resp.RestoredContainers = append(resp.RestoredContainers, &runtimeapi.RestoredContainer{Name: pc.Name, ContainerId: cr.ContainerId})
	}
	s.log.Info("restored pod from its checkpoint", "sandbox", id, "from", man.SandboxID, "containers", len(made),
		"dir", dir, "duration", time.Since(start).Round(time.Millisecond))
	return resp, nil
}

// matchRestoreConfigs holds the request's container configs to the
// proto's terms (non-empty, each with a unique non-empty name, exactly
// the checkpoint's names) and to the checkpointed containers where the
// request states what it expects of them: the image, command, args and
// working directory. It returns the configs by name.
func matchRestoreConfigs(dir string, man *checkpoint.PodManifest, cfgs []*runtimeapi.ContainerConfig) (map[string]*runtimeapi.ContainerConfig, error) {
	if len(cfgs) == 0 {
		return nil, status.Error(codes.InvalidArgument, "RestorePod: container_configs is empty")
	}
	byName := map[string]*runtimeapi.ContainerConfig{}
	for i, c := range cfgs {
		n := c.GetMetadata().GetName()
		if n == "" {
			return nil, status.Errorf(codes.InvalidArgument, "RestorePod: container_configs[%d] has no metadata name", i)
		}
		if _, dup := byName[n]; dup {
			return nil, status.Errorf(codes.InvalidArgument, "RestorePod: container_configs names container %q twice", n)
		}
		byName[n] = c
	}
	var missing, extra []string
	inCkpt := map[string]bool{}
	for _, pc := range man.Containers {
		inCkpt[pc.Name] = true
		if byName[pc.Name] == nil {
			missing = append(missing, pc.Name)
		}
	}
	for n := range byName {
		if !inCkpt[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "RestorePod: container_configs must name exactly the checkpoint's containers: missing %q, not in the checkpoint %q", missing, extra)
	}
	for _, pc := range man.Containers {
		want := byName[pc.Name]
		got, err := checkpoint.ReadArchiveCRIConfig(filepath.Join(dir, pc.Archive))
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "RestorePod: container %s: %v", pc.Name, err)
		}
		if err := sameProcess(pc.Name, want, got); err != nil {
			return nil, status.Error(codes.InvalidArgument, "RestorePod: "+err.Error())
		}
	}
	return byName, nil
}

// sameProcess compares what a restore request says of a container's
// process with what was checkpointed; a field the request leaves empty
// is not compared. The environment is not: the kubelet's service
// variables differ from node to node.
func sameProcess(name string, want, got *runtimeapi.ContainerConfig) error {
	if w, g := want.GetImage().GetImage(), got.GetImage().GetImage(); w != "" && w != g {
		return fmt.Errorf("container %s: image %q, but it was checkpointed on %q", name, w, g)
	}
	if w, g := want.GetCommand(), got.GetCommand(); len(w) > 0 && !slices.Equal(w, g) {
		return fmt.Errorf("container %s: command %q, but the checkpointed one ran %q", name, strings.Join(w, " "), strings.Join(g, " "))
	}
	if w, g := want.GetArgs(), got.GetArgs(); len(w) > 0 && !slices.Equal(w, g) {
		return fmt.Errorf("container %s: args %q, but the checkpointed one had %q", name, strings.Join(w, " "), strings.Join(g, " "))
	}
	if w, g := want.GetWorkingDir(), got.GetWorkingDir(); w != "" && w != g {
		return fmt.Errorf("container %s: working directory %q, but it was checkpointed in %q", name, w, g)
	}
	return nil
}
