package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/checkpoint"
	"github.com/crio/crio/internal/store"
	"github.com/crio/crio/internal/version"
)

// Checkpoint error kinds; the server maps them to gRPC codes.
var (
	ErrUnavailable = checkpoint.ErrUnavailable
	ErrExists      = checkpoint.ErrExists
	ErrBadArchive  = checkpoint.ErrBadArchive
)

// CheckpointAvailable says whether checkpoint/restore can run: nil, or
// why not ([crio.runtime] enable_criu_support off, or `criu check`
// failing, run once).
func (m *Manager) CheckpointAvailable() error {
	if !m.cfg.Get().Runtime.EnableCriuSupport {
		return fmt.Errorf("%w: [crio.runtime] enable_criu_support is false", ErrUnavailable)
	}
	return checkpoint.DefaultCRIU.Check()
}

// Checkpoint dumps a running container to a tar archive at location, in
// CRI-O's layout, and leaves it running (the kubelet's forensic
// checkpoint). It returns the archive's size. Nothing is left at
// location on failure.
func (m *Manager) Checkpoint(ctx context.Context, id, location string) (int64, error) {
	if err := m.CheckpointAvailable(); err != nil {
		return 0, err
	}
	if location == "" {
		return 0, fmt.Errorf("%w: location is required", ErrInvalid)
	}
	if !filepath.IsAbs(location) {
		return 0, fmt.Errorf("%w: location %q must be an absolute path", ErrInvalid, location)
	}
	c, err := m.Get(id)
	if err != nil {
		return 0, err
	}
	c.Lock()
	defer c.Unlock()
	if st := c.State(); st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return 0, fmt.Errorf("%w: container %s is %s, not RUNNING", ErrState, c.ID, st)
	}
	return m.checkpointLocked(ctx, c, location)
}

// checkpointLocked writes the archive of c, running (or paused by
// CheckpointPod) and locked by the caller, to location.
func (m *Manager) checkpointLocked(ctx context.Context, c *store.Container, location string) (int64, error) {
	start := time.Now()
	w, err := checkpoint.NewWork(location)
	if err != nil {
		if errors.Is(err, checkpoint.ErrExists) {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	committed := false
	defer func() {
		if !committed {
			w.Discard()
		}
	}()
	sp, err := readSpec(c)
	if err != nil {
		return 0, err
	}
	if err := m.rt.Checkpoint(ctx, &c.Runtime, w.ImagePath(), w.Dir); err != nil {
		return 0, fmt.Errorf("checkpointing container %s: %w%s", c.ID, err, criuLogTail(filepath.Join(w.Dir, metadata.DumpLogFile)))
	}
	dumped := time.Since(start)
	sc, err := m.store.Container(c.ID)
	if err != nil {
		return 0, fmt.Errorf("the container's storage: %w", err)
	}
	changes, err := m.store.Changes("", sc.LayerID)
	if err != nil {
		return 0, fmt.Errorf("listing the container's rootfs changes: %w", err)
	}
	if err := w.WriteRootfsDiff(c.RootFS, changes); err != nil {
		return 0, err
	}
	sp.Annotations = dumpAnnotations(c, sp.Annotations)
	md := &checkpoint.Metadata{
		Config: metadata.ContainerConfig{
			ID: c.ID, Name: c.Config.GetMetadata().GetName(),
			RootfsImage: c.ImageName, RootfsImageRef: c.ImageID, RootfsImageName: c.ImageName,
			OCIRuntime: c.Runtime.Handler, CreatedTime: c.CreatedAt, CheckpointedAt: time.Now(),
		},
		Spec: sp,
		CRI:  c.Config,
	}
	if err := w.WriteMetadata(md); err != nil {
		return 0, err
	}
	committed = true
	size, err := w.Commit()
	if err != nil {
		return 0, err
	}
	m.log.Info("checkpointed container", "id", c.ID, "location", location, "bytes", size,
		"dump", dumped.Round(time.Millisecond), "duration", time.Since(start).Round(time.Millisecond))
	return size, nil
}

func readSpec(c *store.Container) (*rspec.Spec, error) {
	b, err := os.ReadFile(filepath.Join(c.Runtime.Bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the container's OCI spec: %w", err)
	}
	sp := &rspec.Spec{}
	if err := json.Unmarshal(b, sp); err != nil {
		return nil, fmt.Errorf("decoding the container's OCI spec: %w", err)
	}
	return sp, nil
}

// dumpAnnotations adds to spec.dump the io.kubernetes.cri-o.* keys CRI-O
// writes there and the org.criu.checkpoint.* keys checkpointctl shows.
func dumpAnnotations(c *store.Container, in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		out[k] = v
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	v, _ := version.Get()
	uname := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		uname = strings.TrimSpace(string(b))
	}
	for k, val := range map[string]string{
		"io.kubernetes.cri-o.ContainerID":   c.ID,
		"io.kubernetes.cri-o.Name":          c.Name,
		"io.kubernetes.cri-o.SandboxID":     c.SandboxID,
		"io.kubernetes.cri-o.ImageName":     c.ImageName,
		"io.kubernetes.cri-o.ImageRef":      c.ImageRef,
		"io.kubernetes.cri-o.Metadata":      js(c.Config.GetMetadata()),
		"io.kubernetes.cri-o.Labels":        js(c.Config.GetLabels()),
		"io.kubernetes.cri-o.Annotations":   js(c.Config.GetAnnotations()),
		"io.kubernetes.cri-o.LogPath":       c.Runtime.LogPath,
		"io.kubernetes.container.name":      c.Config.GetMetadata().GetName(),
		metadata.CheckpointAnnotationName:   c.Config.GetMetadata().GetName(),
		metadata.CheckpointAnnotationEngine: "crio",

		metadata.CheckpointAnnotationEngineVersion:   v,
		metadata.CheckpointAnnotationRootfsImageName: c.ImageName,
		metadata.CheckpointAnnotationRootfsImageID:   c.ImageID,
		metadata.CheckpointAnnotationRuntimeName:     c.Runtime.Handler,
		metadata.CheckpointAnnotationCriuVersion:     checkpoint.DefaultCRIU.Version(),
		metadata.CheckpointAnnotationHostArch:        runtime.GOARCH,
		metadata.CheckpointAnnotationHostKernel:      uname,
	} {
		out[k] = val
	}
	return out
}

// criuLogTail quotes the end of CRIU's log, where it says why it failed.
func criuLogTail(p string) string {
	b, err := os.ReadFile(p)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return " (CRIU: " + strings.Join(lines, "; ") + ")"
}

// restoreJob is a checkpoint archive unpacked for CreateContainer.
type restoreJob struct {
	dir string
	md  *checkpoint.Metadata
}

// prepareRestore unpacks the archive cfg names as its image into a
// directory beside the storage's containers and returns the config the
// new container is made from: the checkpointed container's CRI config,
// with the request's metadata, labels, annotations, log path, and mounts
// when it names any (the new pod's volumes), and the checkpointed
// container's image.
//
// The archive is the file cfg's image names, or with layer set the one
// layer of the checkpoint image cfg names.
func (m *Manager) prepareRestore(cfg *runtimeapi.ContainerConfig, layer string) (*runtimeapi.ContainerConfig, *restoreJob, error) {
	if err := m.CheckpointAvailable(); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(m.store.GraphRoot(), "crio-restore-")
	if err != nil {
		return nil, nil, err
	}
	var md *checkpoint.Metadata
	if layer == "" {
		md, err = checkpoint.Extract(cfg.Image.Image, dir, checkpoint.DefaultLimits)
	} else {
		md, err = m.extractLayer(layer, dir)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("restoring from %s: %w", cfg.Image.Image, err)
	}
	img := md.CRI.GetImage().GetImage()
	if img == "" {
		img = md.Config.RootfsImageName
	}
	if img == "" || checkpoint.IsArchive(img) || img == cfg.Image.Image {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("%w: %s names no image to restore onto", ErrBadArchive, cfg.Image.Image)
	}
	out := proto.Clone(md.CRI).(*runtimeapi.ContainerConfig)
	out.Metadata = cfg.Metadata
	out.Labels = cfg.Labels
	out.Annotations = cfg.Annotations
	out.LogPath = cfg.LogPath
	if len(cfg.Mounts) > 0 {
		out.Mounts = cfg.Mounts
	}
	out.Image = &runtimeapi.ImageSpec{Image: img}
	return out, &restoreJob{dir: dir, md: md}, nil
}

// extractLayer unpacks a checkpoint image's layer, held to what an
// archive may hold as a file archive is: the layer is as hostile as any.
func (m *Manager) extractLayer(layer, dir string) (*checkpoint.Metadata, error) {
	rc, err := m.images.LayerTar(layer)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return checkpoint.ExtractFrom(rc, dir, checkpoint.DefaultLimits)
}
