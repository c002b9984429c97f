package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/oci"
)

// ContainerStateFile is the name of a container's state file in its
// directory.
const ContainerStateFile = "container.json"

// Container is one container. The identity fields are set before the
// container is added to the store and never change; the status fields
// change through the methods, under the container's mutex. Lifecycle
// operations (start, stop, remove, update) take Lock, which readers never
// take.
type Container struct {
	ID        string
	Name      string // reservation key (ContainerName)
	SandboxID string
	// Config is the kubelet's ContainerConfig. Do not modify.
	Config *runtimeapi.ContainerConfig
	// Image facts at creation: the name asked for, the image ID (as
	// ImageStatus reports it) and the reference reported as image_ref.
	ImageName, ImageID, ImageRef string
	// StopSignal is the signal that stops the container (the config's,
	// else the image's, else SIGTERM), as a name.
	StopSignal string
	// Dir holds the state file; the OCI bundle is Runtime.Bundle.
	Dir string
	// RootFS is the mounted root filesystem.
	RootFS string
	// Mounts are the CRI mounts as applied.
	Mounts []*runtimeapi.Mount
	// User is the effective identity of the container's process.
	UID, GID           int64
	SupplementalGroups []int64
	CreatedAt          time.Time
	// Runtime is what the OCI layer needs to find the container again.
	Runtime oci.Container
	// Reaped says the runtime's record of the exited container and its
	// rootfs mount are gone (internal/container's reap). Guarded by Lock;
	// not saved: after a restart the reap is done again, and finds
	// nothing to do.
	Reaped bool

	mu         sync.Mutex
	state      runtimeapi.ContainerState
	startedAt  time.Time
	finishedAt time.Time
	exitCode   int32
	reason     string
	message    string
	resources  *runtimeapi.LinuxContainerResources

	// listWire caches the container's ListContainers entry encoded
	// without its state, which is all that changes (see ListWire).
	listWire atomic.Pointer[[]byte]

	opMu sync.Mutex
}

// ListWire returns the cached encoding build makes of the container's
// unchanging list fields, building it on first use.
func (c *Container) ListWire(build func() ([]byte, error)) ([]byte, error) {
	if b := c.listWire.Load(); b != nil {
		return *b, nil
	}
	b, err := build()
	if err != nil {
		return nil, err
	}
	c.listWire.Store(&b)
	return b, nil
}

// ContainerName is the reservation key of a container in a pod, in
// CRI-O's form.
func ContainerName(m *runtimeapi.ContainerMetadata, pod *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("k8s_%s_%s_%s_%s_%d", m.GetName(), pod.GetName(), pod.GetNamespace(), pod.GetUid(), m.GetAttempt())
}

// Status is a snapshot of the mutable fields.
type Status struct {
	State                 runtimeapi.ContainerState
	StartedAt, FinishedAt time.Time
	ExitCode              int32
	Reason, Message       string
	Resources             *runtimeapi.LinuxContainerResources
}

// Status returns the container's current status.
func (c *Container) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{c.state, c.startedAt, c.finishedAt, c.exitCode, c.reason, c.message, c.resources}
}

// State returns the container's state.
func (c *Container) State() runtimeapi.ContainerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SetCreated sets the initial state.
func (c *Container) SetCreated(res *runtimeapi.LinuxContainerResources) {
	c.mu.Lock()
	c.state = runtimeapi.ContainerState_CONTAINER_CREATED
	c.resources = res
	c.mu.Unlock()
}

// SetStarted records a start at t. It does not undo an exit recorded in
// the meantime (a process that exits at once).
func (c *Container) SetStarted(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startedAt = t
	if c.state == runtimeapi.ContainerState_CONTAINER_CREATED {
		c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	}
}

// SetExited records the exit; it reports false when one was already
// recorded.
func (c *Container) SetExited(code int32, at time.Time, reason, message string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == runtimeapi.ContainerState_CONTAINER_EXITED {
		return false
	}
	c.state = runtimeapi.ContainerState_CONTAINER_EXITED
	c.exitCode, c.finishedAt, c.reason, c.message = code, at, reason, message
	return true
}

// SetResources records resources applied by UpdateContainerResources.
func (c *Container) SetResources(r *runtimeapi.LinuxContainerResources) {
	c.mu.Lock()
	c.resources = r
	c.mu.Unlock()
}

// Lock serializes lifecycle operations on the container.
func (c *Container) Lock() { c.opMu.Lock() }

// Unlock releases Lock.
func (c *Container) Unlock() { c.opMu.Unlock() }

type containerFile struct {
	Version            int               `json:"version"`
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	SandboxID          string            `json:"sandboxId"`
	Config             json.RawMessage   `json:"config"`
	ImageName          string            `json:"imageName"`
	ImageID            string            `json:"imageId"`
	ImageRef           string            `json:"imageRef"`
	StopSignal         string            `json:"stopSignal,omitempty"`
	RootFS             string            `json:"rootfs"`
	Mounts             []json.RawMessage `json:"mounts,omitempty"`
	UID                int64             `json:"uid"`
	GID                int64             `json:"gid"`
	SupplementalGroups []int64           `json:"supplementalGroups,omitempty"`
	CreatedAt          time.Time         `json:"createdAt"`
	Runtime            oci.Container     `json:"runtime"`
	State              string            `json:"state"`
	StartedAt          time.Time         `json:"startedAt"`
	FinishedAt         time.Time         `json:"finishedAt"`
	ExitCode           int32             `json:"exitCode"`
	Reason             string            `json:"reason,omitempty"`
	Message            string            `json:"message,omitempty"`
	Resources          json.RawMessage   `json:"resources,omitempty"`
}

// Save writes the container's state file atomically.
func (c *Container) Save() error {
	cfg, err := protojson.Marshal(c.Config)
	if err != nil {
		return fmt.Errorf("encoding container config: %w", err)
	}
	st := c.Status()
	f := containerFile{
		Version: 1, ID: c.ID, Name: c.Name, SandboxID: c.SandboxID, Config: cfg,
		ImageName: c.ImageName, ImageID: c.ImageID, ImageRef: c.ImageRef, StopSignal: c.StopSignal,
		RootFS: c.RootFS, UID: c.UID, GID: c.GID, SupplementalGroups: c.SupplementalGroups,
		CreatedAt: c.CreatedAt, Runtime: c.Runtime,
		State: st.State.String(), StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
		ExitCode: st.ExitCode, Reason: st.Reason, Message: st.Message,
	}
	for _, m := range c.Mounts {
		b, err := protojson.Marshal(m)
		if err != nil {
			return err
		}
		f.Mounts = append(f.Mounts, b)
	}
	if st.Resources != nil {
		if f.Resources, err = protojson.Marshal(st.Resources); err != nil {
			return err
		}
	}
	return WriteJSON(filepath.Join(c.Dir, ContainerStateFile), &f)
}

// LoadContainer reads a container's state file from dir.
func LoadContainer(dir string) (*Container, error) {
	var f containerFile
	if err := ReadJSON(filepath.Join(dir, ContainerStateFile), &f); err != nil {
		return nil, err
	}
	cfg := &runtimeapi.ContainerConfig{}
	if err := protojson.Unmarshal(f.Config, cfg); err != nil {
		return nil, fmt.Errorf("decoding container config in %s: %w", dir, err)
	}
	c := &Container{
		ID: f.ID, Name: f.Name, SandboxID: f.SandboxID, Config: cfg,
		ImageName: f.ImageName, ImageID: f.ImageID, ImageRef: f.ImageRef, StopSignal: f.StopSignal,
		Dir: dir, RootFS: f.RootFS, UID: f.UID, GID: f.GID, SupplementalGroups: f.SupplementalGroups,
		CreatedAt: f.CreatedAt, Runtime: f.Runtime,
		state:     runtimeapi.ContainerState(runtimeapi.ContainerState_value[f.State]),
		startedAt: f.StartedAt, finishedAt: f.FinishedAt, exitCode: f.ExitCode, reason: f.Reason, message: f.Message,
	}
	for _, raw := range f.Mounts {
		m := &runtimeapi.Mount{}
		if err := protojson.Unmarshal(raw, m); err != nil {
			return nil, fmt.Errorf("decoding mounts in %s: %w", dir, err)
		}
		c.Mounts = append(c.Mounts, m)
	}
	if len(f.Resources) > 0 {
		r := &runtimeapi.LinuxContainerResources{}
		if err := protojson.Unmarshal(f.Resources, r); err != nil {
			return nil, fmt.Errorf("decoding resources in %s: %w", dir, err)
		}
		c.resources = r
	}
	if c.ID == "" || c.Name == "" || c.SandboxID == "" {
		return nil, fmt.Errorf("state file in %s has no ID, name or sandbox", dir)
	}
	return c, nil
}

// Containers is the in-memory set of containers with their name
// reservations.
type Containers struct {
	*Index[*Container]
	Names *Names
}

// NewContainers returns an empty store.
func NewContainers() *Containers {
	return &Containers{Index: NewIndex[*Container](), Names: NewNames()}
}

// OfSandbox returns the containers of one sandbox.
func (cs *Containers) OfSandbox(sandboxID string) []*Container {
	var out []*Container
	for _, c := range cs.List() {
		if c.SandboxID == sandboxID {
			out = append(out, c)
		}
	}
	return out
}
