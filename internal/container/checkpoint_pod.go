package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/checkpoint"
	"github.com/crio/crio/internal/store"
)

// PodCheckpointTimes says how long a pod checkpoint's steps took.
type PodCheckpointTimes struct {
	Paused, Captured time.Duration
	Bytes            int64
}

// CheckpointPod writes a checkpoint of the containers ids of pod
// sandboxID into dir, an existing empty directory: one archive per
// container in CheckpointContainer's format, then PodManifestFile. Every
// container is paused before any is dumped and stays paused until all
// are, for one pod-wide cut, and all are resumed before it returns,
// whatever the outcome. On failure dir is left as empty as it was found.
func (m *Manager) CheckpointPod(ctx context.Context, sandboxID string, ids []string, dir string) (_ PodCheckpointTimes, retErr error) {
	var times PodCheckpointTimes
	// The request is checked before CRIU is: a wrong request is wrong
	// on any host, and says so.
	dir, err := checkpoint.CheckOutputDir(dir)
	if err != nil {
		return times, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(ids) == 0 {
		return times, fmt.Errorf("%w: container_ids is empty: name the pod's running containers to checkpoint", ErrInvalid)
	}
	sb, err := m.sandboxes(sandboxID)
	if err != nil {
		return times, fmt.Errorf("pod sandbox %s: %w", sandboxID, err)
	}
	if st := sb.State(); st != runtimeapi.PodSandboxState_SANDBOX_READY {
		return times, fmt.Errorf("%w: pod sandbox %s is %s, not READY", ErrState, sb.ID, st)
	}
	cs := make([]*store.Container, 0, len(ids))
	seen := map[string]string{}
	names := map[string]string{}
	for _, id := range ids {
		c, err := m.Get(id)
		if err != nil {
			return times, fmt.Errorf("container %q of container_ids: %w", id, err)
		}
		if first, dup := seen[c.ID]; dup {
			return times, fmt.Errorf("%w: container_ids names container %s twice (%q and %q)", ErrInvalid, c.ID, first, id)
		}
		seen[c.ID] = id
		if c.SandboxID != sb.ID {
			return times, fmt.Errorf("%w: container %s belongs to pod sandbox %s, not %s", ErrInvalid, c.ID, c.SandboxID, sb.ID)
		}
		// A restore matches containers by name, so names must tell
		// them apart (two attempts of one container can both run).
		name := c.Config.GetMetadata().GetName()
		if other, dup := names[name]; dup {
			return times, fmt.Errorf("%w: containers %s and %s are both named %q; a pod checkpoint restores containers by name", ErrInvalid, other, c.ID, name)
		}
		names[name] = c.ID
		cs = append(cs, c)
	}
	// Locked in ID order, so that two pod checkpoints naming the same
	// containers cannot deadlock; held to the end, so that no stop,
	// update or removal runs in the middle of the cut.
	locked := slices.Clone(cs)
	slices.SortFunc(locked, func(a, b *store.Container) int { return strings.Compare(a.ID, b.ID) })
	for _, c := range locked {
		c.Lock()
		defer c.Unlock()
	}
	for _, c := range cs {
		if st := c.State(); st != runtimeapi.ContainerState_CONTAINER_RUNNING {
			return times, fmt.Errorf("%w: container %s (%s) is %s, not RUNNING", ErrState, c.ID, c.Config.GetMetadata().GetName(), st)
		}
	}
	if err := m.CheckpointAvailable(); err != nil {
		return times, err
	}
	// What this call wrote into dir goes on failure; the directory
	// itself is the caller's and stays.
	var written []string
	defer func() {
		if retErr != nil {
			for _, n := range written {
				os.Remove(filepath.Join(dir, n))
			}
		}
	}()

	start := time.Now()
	var paused []*store.Container
	// Resumed on a context of their own: a deadline that cut the dump
	// short must not leave the pod frozen.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, c := range paused {
			if err := m.rt.Resume(rctx, &c.Runtime); err != nil {
				m.log.Error("resuming a container after the pod checkpoint", "id", c.ID, "error", err)
				retErr = errors.Join(retErr, fmt.Errorf("resuming container %s: %w", c.ID, err))
			}
		}
	}()
	for _, c := range cs {
		if err := m.rt.Pause(ctx, &c.Runtime); err != nil {
			return times, fmt.Errorf("pausing container %s: %w", c.ID, err)
		}
		paused = append(paused, c)
	}
	times.Paused = time.Since(start)

	man := &checkpoint.PodManifest{Version: checkpoint.PodManifestVersion, SandboxID: sb.ID, Handler: sb.RuntimeHandler}
	if man.Sandbox, err = checkpoint.SandboxConfigJSON(sb.Config); err != nil {
		return times, err
	}
	if sb.InfraPID > 0 {
		// Taken while all are paused: the PIDs the restore will need.
		if man.MaxPID, err = checkpoint.MaxPIDInNamespace(sb.InfraPID); err != nil {
			return times, err
		}
	}
	for i, c := range cs {
		name := checkpoint.ArchiveName(i)
		written = append(written, name)
		n, err := m.checkpointLocked(ctx, c, filepath.Join(dir, name))
		if err != nil {
			return times, err
		}
		times.Bytes += n
		man.Containers = append(man.Containers, checkpoint.PodContainer{Name: c.Config.GetMetadata().GetName(), ID: c.ID, Archive: name})
	}
	written = append(written, checkpoint.PodManifestFile)
	if err := checkpoint.WritePodManifest(dir, man); err != nil {
		return times, err
	}
	times.Captured = time.Since(start)
	m.log.Info("checkpointed pod", "sandbox", sb.ID, "containers", len(cs), "dir", dir, "bytes", times.Bytes,
		"pause", times.Paused.Round(time.Millisecond), "duration", times.Captured.Round(time.Millisecond))
	return times, nil
}
