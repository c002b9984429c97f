// Package container runs the lifecycle of CRI containers: it puts a
// rootfs on the storage store, builds the OCI spec, runs it through
// internal/oci, and keeps the record in internal/store, in memory and in
// an atomically written state file.
package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	nriapi "github.com/containerd/nri/pkg/api"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	stypes "go.podman.io/storage/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/apparmor"
	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/checkpoint"
	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/failpoint"
	"github.com/crio/crio/internal/image"
	"github.com/crio/crio/internal/nri"
	"github.com/crio/crio/internal/oci"
	"github.com/crio/crio/internal/ocihooks"
	"github.com/crio/crio/internal/spec"
	"github.com/crio/crio/internal/stages"
	"github.com/crio/crio/internal/store"
)

// Error kinds; the server maps them to gRPC codes.
var (
	ErrNotFound     = store.ErrNotFound
	ErrInvalid      = spec.ErrInvalid
	ErrUnsupported  = spec.ErrUnsupported
	ErrState        = errors.New("container is in the wrong state")
	ErrImageMissing = errors.New("image not found")
)

// storageMetadata marks storage containers made by this package, so that
// a crash's leftovers are recognised and nothing else is touched.
const storageMetadata = `{"crio-container":true}`

// SandboxLookup finds a pod sandbox by ID.
type SandboxLookup func(id string) (*store.Sandbox, error)

// Manager owns the containers.
type Manager struct {
	// onOOM, when set, is told of each container the OOM killer ended.
	// Atomic: the exit monitor may already run when it is set.
	onOOM atomic.Pointer[func()]

	cfg        *config.Live
	log        *slog.Logger
	store      cstorage.Store
	images     *image.Service
	rt         *oci.Runtime
	sandboxes  SandboxLookup
	onEvent    func(*store.Container, runtimeapi.ContainerEventType)
	nri        *nri.Runtime
	hooks      *ocihooks.Hooks
	Containers *store.Containers

	// apparmor is the profile of RuntimeDefault containers, loaded once
	// at start (apparmor_profile needs a restart, as in CRI-O).
	apparmor apparmor.Default

	// exitMu orders exit recording with start (a process that exits at
	// once must end up EXITED, its STARTED event ahead of STOPPED).
	exitMu sync.Mutex
	// starting holds the containers whose Start is between runtime start
	// and SetStarted; their exits are recorded by Start itself.
	starting map[string]bool

	// stopSweep ends the monitor sweep; swept is closed when it has.
	stopSweep, swept chan struct{}
	// reaps are the reaps of exited containers and the storage deletions
	// of removed ones under way.
	reaps   sync.WaitGroup
	deletes storageDeletes
}

// Options build a Manager.
type Options struct {
	Config    *config.Live
	Logger    *slog.Logger
	Store     cstorage.Store
	Images    *image.Service
	Sandboxes SandboxLookup
	// OnEvent, when set, is told of every lifecycle change (CRI events).
	OnEvent func(*store.Container, runtimeapi.ContainerEventType)
	// NRI relays lifecycle events to NRI plugins; nil when NRI is off.
	NRI *nri.Runtime
}

// New makes the manager, its OCI runtime and exit monitor, and reloads the
// containers saved on disk.
func New(o Options) (*Manager, error) {
	m := &Manager{cfg: o.Config, log: o.Logger, store: o.Store, images: o.Images, sandboxes: o.Sandboxes,
		onEvent: o.OnEvent, nri: o.NRI, Containers: store.NewContainers(), starting: map[string]bool{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	cfg := o.Config.Get()
	rt, err := oci.New(cfg, oci.Options{
		ExitsDir:      cfg.Runtime.ContainerExitsDir,
		AttachDir:     cfg.Runtime.ContainerAttachSocketDir,
		ConmonEnv:     cfg.Runtime.ConmonEnv,
		LogSizeMax:    cfg.Runtime.LogSizeMax,
		SystemdCgroup: cgroups.Driver(cfg.Runtime.CgroupManager) == cgroups.Systemd,
		Logger:        m.log,
	}, m.handleExit)
	if err != nil {
		return nil, fmt.Errorf("starting the OCI runtime: %w", err)
	}
	m.rt = rt
	if m.hooks, err = ocihooks.New(cfg.Runtime.HooksDir, m.log); err != nil {
		rt.Close()
		return nil, err
	}
	m.apparmor = apparmor.LoadDefault(cfg.Runtime.ApparmorProfile, m.log)
	o.Images.BeforeRemove(m.waitStorage)
	if err := m.restore(); err != nil {
		m.hooks.Close()
		rt.Close()
		return nil, err
	}
	m.stopSweep, m.swept = make(chan struct{}), make(chan struct{})
	go m.sweepMonitors(monitorSweepPeriod)
	return m, nil
}

// Runtime is the OCI runtime the manager uses.
func (m *Manager) Runtime() *oci.Runtime { return m.rt }

// Close stops watching exits. Containers keep running.
func (m *Manager) Close() error {
	close(m.stopSweep)
	<-m.swept
	m.reaps.Wait()
	m.hooks.Close()
	return m.rt.Close()
}

// handleExit records an exit that conmon wrote.
func (m *Manager) handleExit(id string) {
	c, err := m.Containers.Get(id)
	if err != nil || c.ID != id {
		return
	}
	m.recordExit(c)
	if m.nri.Active() && c.State() == runtimeapi.ContainerState_CONTAINER_EXITED {
		// Off the exit monitor: a slow plugin must not delay other exits.
		go m.nriStopped(context.Background(), c)
	}
}

// nriStopped tells NRI plugins c stopped (once, whoever calls first).
func (m *Manager) nriStopped(ctx context.Context, c *store.Container) {
	if !m.nri.Active() {
		return
	}
	if sb, err := m.sandboxes(c.SandboxID); err == nil {
		m.nri.StopContainer(ctx, sb, c)
	}
}

// recordExit reads the exit from conmon's files and persists it.
func (m *Manager) recordExit(c *store.Container) {
	m.exitMu.Lock()
	defer m.exitMu.Unlock()
	st, ok, err := m.rt.ExitStatus(&c.Runtime)
	if err != nil {
		m.log.Warn("reading container exit", "id", c.ID, "error", err)
		return
	}
	if !ok || m.starting[c.ID] {
		return
	}
	if c.SetExited(st.Code, st.FinishedAt, st.Reason, st.Message) {
		// Counted before the state file's fsync, so that a client that
		// sees the exit finds it counted too.
		if f := m.onOOM.Load(); f != nil && st.Reason == oci.ReasonOOMKilled {
			(*f)()
		}
		if err := c.Save(); err != nil {
			m.log.Error("saving container state", "id", c.ID, "error", err)
		}
		m.log.Info("container exited", "id", c.ID, "code", st.Code, "reason", st.Reason)
		m.event(c, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
		m.reapAfterExit(c)
	}
}

// reapAfterExit reaps c in the background: its exit is recorded, and the
// caller may hold c's lock.
func (m *Manager) reapAfterExit(c *store.Container) {
	m.reaps.Add(1)
	go func() {
		defer m.reaps.Done()
		c.Lock()
		defer c.Unlock()
		if cur, err := m.Containers.Get(c.ID); err != nil || cur != c || c.State() != runtimeapi.ContainerState_CONTAINER_EXITED {
			return // removed meanwhile
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := m.reapLocked(ctx, c); err != nil {
			m.log.Warn("freeing an exited container's runtime state", "id", c.ID, "error", err)
		}
	}()
}

// reapLocked frees what only a running container needs, once c has
// exited: the runtime's record of it (runc delete, which removes its
// cgroup and any process of it left in a shared PID namespace) and its
// rootfs mount. containerd deletes its task on the exit, CRI-O unmounts on
// stop; here it happens off the RPCs, so RemoveContainer is left with the
// storage and the state files. The caller holds c's lock.
func (m *Manager) reapLocked(ctx context.Context, c *store.Container) error {
	if c.Reaped {
		return nil
	}
	if err := m.rt.DeleteState(ctx, &c.Runtime); err != nil {
		return fmt.Errorf("removing container %s from the runtime: %w", c.ID, err)
	}
	// The writable layer stays for the stats and until RemoveContainer.
	if _, err := m.store.Unmount(c.ID, true); err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		m.log.Warn("unmounting an exited container's rootfs", "id", c.ID, "error", err)
	}
	c.Reaped = true
	return nil
}

// OnOOM sets a function told of each OOM-killed container (for metrics).
// Set it before serving.
func (m *Manager) OnOOM(f func()) { m.onOOM.Store(&f) }

// Create makes a container in a pod and returns its ID. A repeated
// request for the same metadata returns the first request's ID.
func (m *Manager) Create(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig) (_ string, retErr error) {
	if cfg == nil || cfg.Metadata == nil || cfg.Metadata.Name == "" {
		return "", fmt.Errorf("%w: config.metadata.name is required", ErrInvalid)
	}
	if cfg.Image == nil || cfg.Image.Image == "" {
		return "", fmt.Errorf("%w: config.image.image is required", ErrInvalid)
	}
	st := stages.Start("validate")
	sb, err := m.sandboxes(sandboxID)
	if err != nil {
		return "", fmt.Errorf("pod sandbox %s: %w", sandboxID, err)
	}
	if sb.State() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", fmt.Errorf("%w: pod sandbox %s is not ready", ErrState, sb.ID)
	}
	name := store.ContainerName(cfg.Metadata, sb.Metadata())
	// Not the named result: the undo closures below must see the ID
	// after a failed return has set the result to "".
	id := store.GenerateID()
	got, owner, err := m.Containers.Names.Reserve(ctx, name, id)
	if err != nil {
		return "", err
	}
	if !owner {
		return got, nil
	}
	// Cleanup runs on its own context: a kubelet timeout must not stop it
	// half-way.
	var undo []func()
	defer func() {
		if retErr != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			m.Containers.Names.Release(name, id)
		}
	}()

	// An image that is a local checkpoint archive (as CRI-O accepts), or
	// a checkpoint image (an archive added to an image marked with
	// org.criu.checkpoint.container.name, as buildah makes one to move a
	// container to another node), restores the container it holds; cfg
	// becomes its config.
	var rj *restoreJob
	archive := checkpoint.IsArchive(cfg.Image.Image)
	var layer string
	if !archive {
		var marked bool
		if layer, marked, err = m.images.CheckpointLayer(cfg.Image.Image); err != nil {
			return "", fmt.Errorf("image %s: %w", cfg.Image.Image, err)
		}
		if !marked {
			layer = ""
		}
	}
	if archive || layer != "" {
		st.Next("unpack checkpoint")
		if cfg, rj, err = m.prepareRestore(cfg, layer); err != nil {
			return "", err
		}
		undo = append(undo, func() { os.RemoveAll(rj.dir) })
	}

	st.Next("image")
	img, err := m.images.Status(cfg.Image.Image, true)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return "", fmt.Errorf("%w: %s: pull it first", ErrImageMissing, cfg.Image.Image)
		}
		return "", fmt.Errorf("image %s: %w", cfg.Image.Image, err)
	}
	var imgCfg v1.ImageConfig
	if img.Config != nil {
		imgCfg = img.Config.Config
	}

	h, feat, err := m.rt.Handler(sb.RuntimeHandler)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	// The handler's keys that may refuse the container, before anything
	// is made.
	rc := &m.cfg.Get().Runtime
	if err := checkMinMemory(cfg.GetLinux().GetResources(), h.Name, rc.Runtimes[h.Name]); err != nil {
		return "", err
	}
	podDevices, err := annotationDevices(rc, h.Name, sb.Config.GetAnnotations())
	if err != nil {
		return "", err
	}
	userNS := spec.PodUserNS(sb.UserNS, sb.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions())
	if err := spec.CheckContainerUserNS(userNS, cfg.GetLinux().GetSecurityContext()); err != nil {
		return "", err
	}
	var storageOpts *cstorage.ContainerOptions
	if userNS.Path != "" {
		if len(userNS.UIDs) == 0 || len(userNS.GIDs) == 0 {
			return "", fmt.Errorf("pod sandbox %s has a user namespace but no recorded mappings", sb.ID)
		}
		if !feat.SupportsUserNamespaces() {
			return "", fmt.Errorf("%w: the pod has a user namespace but runtime handler %q does not support user namespaces with idmapped mounts", ErrUnsupported, h.Name)
		}
		// The rootfs is owned, as the host sees it, by the pod's mapped
		// IDs: storage mounts the image's layers idmapped (no copy) and
		// makes the container's upper layer owned by the mapped root.
		storageOpts = &cstorage.ContainerOptions{IDMappingOptions: stypes.IDMappingOptions{
			UIDMap: idtoolsMappings(userNS.UIDs), GIDMap: idtoolsMappings(userNS.GIDs),
		}}
	}
	st.Next("storage")
	if _, err := m.store.CreateContainer(id, nil, img.ID, "", storageMetadata, storageOpts); err != nil {
		return "", fmt.Errorf("creating the container's storage: %w", err)
	}
	undo = append(undo, func() { m.deleteStorage(id) })
	failpoint.Hit(failpoint.ContainerAfterStorage)
	st.Next("mount")
	rootfs, err := m.store.Mount(id, "")
	if err != nil {
		return "", fmt.Errorf("mounting the container's rootfs: %w", err)
	}
	if userNS.Path != "" {
		if err := allowTraversal(rootfs, userNS.GIDs[0].HostID); err != nil {
			return "", err
		}
	}
	if rj != nil {
		st.Next("apply rootfs diff")
		if err := checkpoint.ApplyRootfsDiff(rj.dir, rootfs, checkpoint.DefaultLimits); err != nil {
			return "", fmt.Errorf("restoring the rootfs changes: %w", err)
		}
	}
	dir, err := m.store.ContainerDirectory(id)
	if err != nil {
		return "", err
	}
	bundle, err := m.store.ContainerRunDirectory(id)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return "", err
	}

	st.Next("spec")
	live := m.cfg.Get()
	targetPID := 0
	if t := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetTargetId(); t != "" {
		if tc, err := m.Containers.Get(t); err == nil && m.rt.Alive(&tc.Runtime) {
			targetPID = tc.Runtime.PID
		}
	}
	specCfg, imageVolumes, unmountImages, err := m.mountImageVolumes(id, cfg, userNS.Path != "")
	if err != nil {
		return "", err
	}
	undo = append(undo, unmountImages)
	var volumeOwner *idtools.IDPair
	if userNS.Path != "" {
		volumeOwner = &idtools.IDPair{UID: int(userNS.UIDs[0].HostID), GID: int(userNS.GIDs[0].HostID)}
	}
	if specCfg, err = applyImageVolumes(specCfg, imgCfg.Volumes, live.Image.ImageVolumes, rootfs, dir, volumeOwner); err != nil {
		return "", err
	}
	defMounts, err := defaultMounts(live.Runtime.DefaultMountsFile, bundle, volumeOwner)
	if err != nil {
		return "", err
	}
	res, err := spec.Build(spec.Input{
		ID: id, Config: specCfg, Image: imgCfg, RootFS: rootfs, TargetPID: targetPID,
		Sandbox: spec.Sandbox{
			ID: sb.ID, Hostname: sb.Hostname, CgroupParent: sb.CgroupPath,
			NetNS: sb.NetNS, IPCNS: sb.IPCNS, UTSNS: sb.UTSNS, InfraPID: sb.InfraPID,
			HostsPath: sb.HostsPath, ResolvPath: sb.ResolvConfPath, HostnamePath: sb.HostnamePath,
			ShmPath: sb.ShmPath, Sysctls: sb.Config.GetLinux().GetSysctls(),
			SecurityContext: sb.Config.GetLinux().GetSecurityContext(),
			UserNS:          userNS,
		},
		Defaults: spec.Defaults{
			Capabilities: live.Runtime.DefaultCapabilities, AddInheritableCaps: live.Runtime.AddInheritableCaps,
			DefaultEnv: live.Runtime.DefaultEnv, DefaultUlimits: live.Runtime.DefaultUlimits,
			AdditionalDevices: live.Runtime.AdditionalDevices, SeccompProfile: live.Runtime.SeccompProfile,
			AppArmor: m.apparmor,
			ReadOnly: live.Runtime.ReadOnly, HostPathMustExist: live.Runtime.HostPathMustExist,
			AbsentSourcesReject: live.Runtime.AbsentMountSourcesToReject, PidsLimit: live.Runtime.PidsLimit,
			RecursiveReadOnly: feat.RecursiveReadOnly, IDMappedMounts: feat.IDMappedMounts,
			CgroupV2:                           cgroups.IsV2(),
			CgroupDriver:                       cgroups.Driver(live.Runtime.CgroupManager),
			PrivilegedWithoutHostDevices:       live.Runtime.Runtimes[h.Name].PrivilegedWithoutHostDevices,
			DeviceOwnershipFromSecurityContext: live.Runtime.DeviceOwnershipFromSecurityContext,
			Localtime:                          config.ZoneinfoPath(live.Runtime.Timezone),
			AnnotationDevices:                  podDevices,
			DefaultMounts:                      defMounts,
			Annotations:                        defaultAnnotations(live.Runtime.Runtimes[h.Name], sb.Config.GetAnnotations()),
		},
	})
	if err != nil {
		return "", err
	}
	for _, am := range res.Mounts {
		if vol, ok := imageVolumes[am.HostPath]; ok {
			am.Image, am.UidMappings, am.GidMappings = vol.spec, vol.uids, vol.gids
		}
	}
	if err := injectCDIDevices(res.Spec, cfg, live.Runtime.CDISpecDirs); err != nil {
		return "", err
	}
	logPath, err := spec.LogPath(sb.LogDirectory, cfg.LogPath)
	if err != nil {
		return "", err
	}
	if logPath == "" {
		// The kubelet always names one; crictl may not.
		logPath = filepath.Join(live.LogDir, id+".log")
	}
	stopSignal := strings.TrimPrefix(cfg.StopSignal.String(), "SIGNAL_")
	if cfg.StopSignal == runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT {
		stopSignal = imgCfg.StopSignal
	}
	if _, err := oci.Signal(stopSignal); err != nil {
		stopSignal = ""
	}

	c := &store.Container{
		ID: id, Name: name, SandboxID: sb.ID, Config: cfg,
		ImageName: cfg.Image.Image, ImageID: img.ID, ImageRef: imageRef(img),
		StopSignal: stopSignal, Dir: dir, RootFS: rootfs, Mounts: res.Mounts,
		UID: int64(res.User.UID), GID: int64(res.User.GID),
		CreatedAt: time.Now(),
		Runtime: oci.Container{
			ID: id, Name: name, Handler: h.Name, Bundle: bundle, LogPath: logPath,
			Stdin: cfg.Stdin, StdinOnce: cfg.StdinOnce, Terminal: cfg.Tty,
			CgroupPath:    cgroupFSPath(res.Spec.Linux.CgroupsPath),
			MonitorCgroup: sb.CgroupPath,
		},
	}
	for _, g := range res.User.SupplementalGroups {
		c.SupplementalGroups = append(c.SupplementalGroups, int64(g))
	}

	// NRI plugins see the container before it exists anywhere a List
	// could find it, and may adjust its spec. The sync block keeps a
	// plugin registering meanwhile from missing it.
	st.Next("nri")
	unblock := m.nri.BlockSync()
	defer unblock()
	if m.nri.Active() {
		dirs := live.Runtime.CDISpecDirs
		err := m.nri.CreateContainer(ctx, sb, c, res.Spec, nri.Limits{
			CDIInject: func(s *rspec.Spec, names []string) error { return injectCDINames(s, names, dirs) },
		})
		if err != nil {
			return "", err
		}
		undo = append(undo, func() { m.nri.RemoveContainer(context.WithoutCancel(ctx), sb, c) })
		c.Runtime.CgroupPath = cgroupFSPath(res.Spec.Linux.CgroupsPath)
	}
	st.Next("bundle")
	// After NRI, so that hooks see the spec plugins made; the pod's
	// annotations count too, the container's winning, since a hook is
	// most often asked for on the pod.
	if err := m.hooks.Apply(res.Spec, hookAnnotations(sb.Config.GetAnnotations(), res.Spec.Annotations), len(cfg.Mounts) > 0); err != nil {
		return "", err
	}
	if err := checkCommand(rootfs, res.Spec.Process.Args[0], res.Spec.Process.Env); err != nil {
		return "", err
	}
	if err := makeWorkdir(rootfs, res.Spec.Process.Cwd, volumeOwner); err != nil {
		return "", err
	}
	b, err := json.Marshal(res.Spec)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return "", fmt.Errorf("writing the OCI bundle: %w", err)
	}
	c.SetCreated(cfg.GetLinux().GetResources())

	// Written before conmon starts, so that a daemon restarted after a
	// crash during creation knows which runtime to ask to forget it.
	if err := store.WriteJSON(filepath.Join(dir, createFile), createRecord{Handler: h.Name}); err != nil {
		return "", err
	}
	if rj != nil {
		// As in CRI-O, the restore itself is StartContainer's: the
		// CRIU images wait in the container's directory.
		images := filepath.Join(dir, metadata.CheckpointDirectory)
		if err := os.Rename(filepath.Join(rj.dir, metadata.CheckpointDirectory), images); err != nil {
			return "", fmt.Errorf("keeping the checkpoint's images: %w", err)
		}
		c.Runtime.RestoreFrom = images
		os.RemoveAll(rj.dir)
	} else {
		st.Next("runtime create")
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := m.rt.Create(cctx, &c.Runtime); err != nil {
			// A runtime's refusal is the runtime's failure, not the
			// request's: it maps to Internal, never InvalidArgument.
			return "", err
		}
		undo = append(undo, func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			m.rt.Delete(ctx, &c.Runtime)
		})
		failpoint.Hit(failpoint.ContainerAfterRuntimeCreate)
	}
	st.Next("state file")
	if err := c.Save(); err != nil {
		return "", err
	}
	failpoint.Hit(failpoint.ContainerAfterStateFile)
	m.Containers.Add(id, c)
	m.Containers.Names.Finish(name, id)
	unblock()
	st.Next("done")
	m.log.Info("created container", "id", id, "name", name, "sandbox", sb.ID, "duration", st.Elapsed(), "stages", st.String())
	m.event(c, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT)
	m.nri.PostCreateContainer(ctx, sb, c)
	return id, nil
}

// hookAnnotations is what hooks' annotation conditions match: the pod's
// annotations overlaid with the container's spec annotations.
func hookAnnotations(pod, ctr map[string]string) map[string]string {
	if len(pod) == 0 {
		return ctr
	}
	out := make(map[string]string, len(pod)+len(ctr))
	maps.Copy(out, pod)
	maps.Copy(out, ctr)
	return out
}

// idtoolsMappings converts OCI mappings to go.podman.io/storage's.
func idtoolsMappings(ms []rspec.LinuxIDMapping) []idtools.IDMap {
	out := make([]idtools.IDMap, 0, len(ms))
	for _, m := range ms {
		out = append(out, idtools.IDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}

// imageRef is what ContainerStatus reports as image_ref: the image's
// first repo digest, else its ID, matching ImageStatus.
func imageRef(img image.Image) string {
	if len(img.RepoDigests) > 0 {
		return img.RepoDigests[0]
	}
	return img.ID
}

// checkCommand fails clearly when the container's command does not exist
// in its rootfs, before the runtime is asked to run it.
func checkCommand(rootfs, cmd string, env []string) error {
	var dirs []string
	var why error
	if strings.Contains(cmd, "/") {
		dirs = []string{""}
	} else {
		path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		for _, e := range env {
			if p, ok := strings.CutPrefix(e, "PATH="); ok {
				path = p
			}
		}
		dirs = filepath.SplitList(path)
	}
	for _, d := range dirs {
		p := cmd
		if d != "" {
			p = filepath.Join(d, cmd)
		}
		if !filepath.IsAbs(p) {
			// Relative to the working directory: leave it to the runtime.
			return nil
		}
		found, err := spec.ExistsInRoot(rootfs, p)
		if err == nil && found {
			return nil
		}
		if err != nil && why == nil {
			why = err // a symlink loop, say: worth saying rather than "not found"
		}
	}
	if why != nil {
		return fmt.Errorf("%w: executable %q not found in the image (PATH and rootfs searched): %v", ErrInvalid, cmd, why)
	}
	return fmt.Errorf("%w: executable %q not found in the image (PATH and rootfs searched)", ErrInvalid, cmd)
}

func (m *Manager) deleteStorage(id string) {
	if _, err := m.store.Unmount(id, true); err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		m.log.Warn("unmounting container rootfs", "id", id, "error", err)
	}
	if err := m.store.DeleteContainer(id); err != nil && !errors.Is(err, cstorage.ErrContainerUnknown) {
		m.log.Warn("deleting container storage", "id", id, "error", err)
	}
}

// Get finds a container by ID or unique prefix.
func (m *Manager) Get(id string) (*store.Container, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: container_id is empty", ErrInvalid)
	}
	return m.Containers.Get(id)
}

// Start starts a created container.
func (m *Manager) Start(ctx context.Context, id string) error {
	c, err := m.Get(id)
	if err != nil {
		return err
	}
	c.Lock()
	defer c.Unlock()
	if st := c.State(); st != runtimeapi.ContainerState_CONTAINER_CREATED {
		return fmt.Errorf("%w: container %s is %s, not CREATED", ErrState, c.ID, st)
	}
	var sb *store.Sandbox
	if m.nri.Active() {
		if sb, err = m.sandboxes(c.SandboxID); err != nil {
			return fmt.Errorf("pod sandbox %s: %w", c.SandboxID, err)
		}
		if err := m.nri.StartContainer(ctx, sb, c); err != nil {
			return err
		}
	}
	now := time.Now()
	m.exitMu.Lock()
	m.starting[c.ID] = true
	m.exitMu.Unlock()
	if err := m.startOrRestore(ctx, c); err != nil {
		m.exitMu.Lock()
		delete(m.starting, c.ID)
		c.SetExited(128, time.Now(), oci.ReasonError, err.Error())
		m.exitMu.Unlock()
		c.Save()
		if sb != nil {
			// Plugins were told it starts; off this goroutine, which
			// holds the container's lock their answers may need.
			go m.nriStopped(context.WithoutCancel(ctx), c)
		}
		return err
	}
	failpoint.Hit(failpoint.ContainerAfterRuntimeStart)
	// STARTED is published under exitMu so that an exit the watcher
	// records at once cannot publish STOPPED ahead of it.
	m.exitMu.Lock()
	delete(m.starting, c.ID)
	c.SetStarted(now)
	m.event(c, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	m.exitMu.Unlock()
	// An exit the watcher skipped while starting is recorded here.
	m.recordExit(c)
	if sb != nil {
		m.nri.PostStartContainer(ctx, sb, c)
	}
	return c.Save()
}

// startOrRestore runs a created container: `runtime start`, or, for a
// container made from a checkpoint, conmon with `runtime restore`, after
// which the images are removed.
func (m *Manager) startOrRestore(ctx context.Context, c *store.Container) error {
	if c.Runtime.RestoreFrom == "" {
		return m.rt.Start(ctx, &c.Runtime)
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := m.rt.Create(cctx, &c.Runtime); err != nil {
		return fmt.Errorf("restoring container %s: %w%s", c.ID, err, criuLogTail(filepath.Join(c.Runtime.Bundle, metadata.RestoreLogFile)))
	}
	os.RemoveAll(c.Runtime.RestoreFrom)
	c.Runtime.RestoreFrom = ""
	m.log.Info("restored container from its checkpoint", "id", c.ID, "pid", c.Runtime.PID, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (m *Manager) event(c *store.Container, t runtimeapi.ContainerEventType) {
	if m.onEvent != nil {
		m.onEvent(c, t)
	}
}

// Stop stops a container, killing it after timeout. Stopping a stopped
// container succeeds.
func (m *Manager) Stop(ctx context.Context, id string, timeout time.Duration) error {
	c, err := m.Get(id)
	if err != nil {
		return err
	}
	c.Lock()
	err = m.stopLocked(ctx, c, timeout)
	c.Unlock()
	if err != nil {
		return err
	}
	// Without the container's lock: plugins' answers may update it.
	m.nriStopped(ctx, c)
	return nil
}

func (m *Manager) stopLocked(ctx context.Context, c *store.Container, timeout time.Duration) error {
	if c.State() == runtimeapi.ContainerState_CONTAINER_EXITED {
		return nil
	}
	if c.Runtime.RestoreFrom != "" && c.Runtime.PID == 0 {
		// Made from a checkpoint and never started: no process, no
		// runtime state, nothing to signal.
		c.SetExited(0, time.Now(), oci.ReasonError, "removed before its checkpoint was restored")
		return c.Save()
	}
	sig, _ := oci.Signal(c.StopSignal)
	if err := m.rt.Stop(ctx, &c.Runtime, timeout, sig); err != nil {
		return fmt.Errorf("stopping container %s: %w", c.ID, err)
	}
	failpoint.Hit(failpoint.ContainerStopAfterKill)
	m.recordExit(c)
	// A stop is followed by a remove, often at once (the kubelet's pod
	// deletion, critest): reaped here, the remove does not wait for the
	// background reap, and a stopped pod holds no runtime state.
	if c.State() == runtimeapi.ContainerState_CONTAINER_EXITED {
		if err := m.reapLocked(ctx, c); err != nil {
			m.log.Warn("freeing a stopped container's runtime state", "id", c.ID, "error", err)
		}
	}
	return nil
}

// Remove removes a container, killing it if it runs. Removing an absent
// container succeeds.
func (m *Manager) Remove(ctx context.Context, id string) error {
	// Before the container's lock, as BlockSync requires.
	defer m.nri.BlockSync()()
	return m.remove(ctx, id)
}

// remove is Remove for a caller that holds the NRI sync block.
func (m *Manager) remove(ctx context.Context, id string) error {
	c, err := m.Get(id)
	if err != nil {
		return err
	}
	removed, err := m.removeLocked(ctx, c)
	if err != nil || !removed {
		return err
	}
	// Without the container's lock: plugins' answers may update others,
	// which could be waiting for NRI with their own lock held.
	if m.nri.Active() {
		if sb, err := m.sandboxes(c.SandboxID); err == nil {
			m.nri.RemoveContainer(ctx, sb, c)
		}
	}
	return nil
}

// removeLocked removes c under its lock; it reports false when another
// call removed it first.
func (m *Manager) removeLocked(ctx context.Context, c *store.Container) (bool, error) {
	c.Lock()
	defer c.Unlock()
	if _, err := m.Containers.Get(c.ID); err != nil {
		return false, nil // removed while we waited for the lock
	}
	if err := m.stopLocked(ctx, c, 0); err != nil {
		return false, err
	}
	if err := m.reapLocked(context.WithoutCancel(ctx), c); err != nil {
		return false, err
	}
	m.rt.RemoveFiles(&c.Runtime)
	failpoint.Hit(failpoint.ContainerRemoveAfterRuntime)
	m.unmountImageVolumes(c.ID, c.Mounts)
	// The state file goes first: a container whose storage outlives a
	// crash without it is deleted on restart, not brought back.
	os.RemoveAll(c.Dir)
	os.RemoveAll(c.Runtime.Bundle)
	failpoint.Hit(failpoint.ContainerRemoveAfterState)
	m.deleteStorageLater(c.ID)
	m.Containers.Delete(c.ID)
	m.Containers.Names.Release(c.Name, c.ID)
	m.log.Info("removed container", "id", c.ID)
	m.event(c, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	return true, nil
}

// Update applies and records new resources.
func (m *Manager) Update(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources) error {
	c, err := m.Get(id)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: linux resources are required", ErrInvalid)
	}
	post := func() {}
	if m.nri.Active() {
		// Before the container's lock: a plugin may update this very
		// container from its hook.
		sb, err := m.sandboxes(c.SandboxID)
		if err != nil {
			return fmt.Errorf("pod sandbox %s: %w", c.SandboxID, err)
		}
		if r, post, err = m.nri.UpdateContainer(ctx, sb, c, r); err != nil {
			return err
		}
	}
	if err := m.updateLocked(ctx, c, r); err != nil {
		return err
	}
	// After the container's lock, and only for an update that happened.
	post()
	return nil
}

func (m *Manager) updateLocked(ctx context.Context, c *store.Container, r *runtimeapi.LinuxContainerResources) error {
	c.Lock()
	defer c.Unlock()
	if st := c.State(); st != runtimeapi.ContainerState_CONTAINER_RUNNING && st != runtimeapi.ContainerState_CONTAINER_CREATED {
		return fmt.Errorf("%w: container %s is %s", ErrState, c.ID, st)
	}
	res, err := spec.Resources(r, cgroups.IsV2())
	if err != nil {
		return err
	}
	if err := m.rt.Update(ctx, &c.Runtime, res); err != nil {
		return err
	}
	c.SetResources(r)
	return c.Save()
}

// UpdateFromNRI applies resources an NRI plugin asks for, checked by
// internal/nri, without asking plugins again.
func (m *Manager) UpdateFromNRI(ctx context.Context, id string, r *nriapi.LinuxResources) error {
	c, err := m.Get(id)
	if err != nil {
		return err
	}
	c.Lock()
	defer c.Unlock()
	if st := c.State(); st != runtimeapi.ContainerState_CONTAINER_RUNNING && st != runtimeapi.ContainerState_CONTAINER_CREATED {
		return fmt.Errorf("%w: container %s is %s", ErrState, c.ID, st)
	}
	if err := m.rt.Update(ctx, &c.Runtime, r.ToOCI()); err != nil {
		return err
	}
	c.SetResources(nri.CRIResources(r, c.Status().Resources))
	return c.Save()
}

// Evict stops a container an NRI plugin evicts.
func (m *Manager) Evict(ctx context.Context, id, reason string) error {
	m.log.Info("evicting container at an NRI plugin's request", "id", id, "reason", reason)
	return m.Stop(ctx, id, 0)
}

// ReopenLog makes conmon reopen the container's log file.
func (m *Manager) ReopenLog(ctx context.Context, id string) error {
	c, err := m.Get(id)
	if err != nil {
		return err
	}
	if st := c.State(); st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return fmt.Errorf("%w: container %s is %s, not RUNNING", ErrState, c.ID, st)
	}
	if c.Runtime.LogPath == "" {
		return fmt.Errorf("%w: container %s has no log path", ErrState, c.ID)
	}
	return m.rt.ReopenLog(ctx, &c.Runtime)
}

// StopPod stops every container of a pod (StopPodSandbox), in parallel.
func (m *Manager) StopPod(ctx context.Context, sandboxID string, timeout time.Duration) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range m.Containers.OfSandbox(sandboxID) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Lock()
			err := m.stopLocked(ctx, c, timeout)
			c.Unlock()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			m.nriStopped(ctx, c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RemovePod removes every container of a pod (RemovePodSandbox, which
// holds the NRI sync block).
func (m *Manager) RemovePod(ctx context.Context, sandboxID string) error {
	var errs []error
	var ids []string
	for _, c := range m.Containers.OfSandbox(sandboxID) {
		if err := m.remove(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
		ids = append(ids, c.ID)
	}
	m.waitStorage(ids...)
	return errors.Join(errs...)
}

// Signal returns the container's stop signal.
func Signal(c *store.Container) syscall.Signal {
	s, _ := oci.Signal(c.StopSignal)
	return s
}

// Spec reads the container's OCI spec from its bundle (for verbose status).
func Spec(c *store.Container) (json.RawMessage, error) {
	return os.ReadFile(filepath.Join(c.Runtime.Bundle, "config.json"))
}

// IsState says whether c is in one of states.
func IsState(c *store.Container, states ...runtimeapi.ContainerState) bool {
	return slices.Contains(states, c.State())
}

// cgroupFSPath is where the spec's cgroupsPath is below a hierarchy's
// root; "" (no stats, no OOM report) for a form NRI's validation let
// through that is no cgroup.
func cgroupFSPath(specPath string) string {
	p, err := cgroups.FSPath(specPath)
	if err != nil {
		return ""
	}
	return p
}
