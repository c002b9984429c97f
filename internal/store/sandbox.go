package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// SandboxStateFile is the name of a sandbox's state file in its directory.
const SandboxStateFile = "sandbox.json"

// Sandbox is one pod sandbox. The fields are set before the sandbox is
// added to the store and never change after; only the state (Ready,
// NotReady) does, through SetState. Readers may use the fields without a
// lock.
type Sandbox struct {
	// ID is the 64-hex-digit sandbox ID.
	ID string
	// Name is the reservation key built from the metadata
	// (SandboxName); a repeated RunPodSandbox for it returns ID.
	Name string
	// Config is the kubelet's full PodSandboxConfig (metadata, labels,
	// annotations, DNS, port mappings, Linux config). Do not modify.
	Config *runtimeapi.PodSandboxConfig
	// RuntimeHandler is the [crio.runtime.runtimes.NAME] the pod runs with
	// (never empty: the default handler's name when the kubelet sent none).
	RuntimeHandler string
	// NetNS, IPCNS, UTSNS and UserNS are the paths of the pinned
	// namespace files containers join. Empty means the host's namespace
	// (hostNetwork, hostIPC) or, for UserNS, no user namespace.
	NetNS, IPCNS, UTSNS, UserNS string
	// InfraPID is the pod's infra process, run only for a pod-level PID
	// namespace (NamespaceMode POD); containers join /proc/InfraPID/ns/pid.
	// 0 when there is none.
	InfraPID int
	// InfraStartTime is the infra process's start time (field 22 of
	// /proc/PID/stat) so that a recycled PID is not mistaken for it.
	InfraStartTime uint64
	// CgroupParent is the kubelet's cgroup parent for the pod, as given
	// (a path for cgroupfs, a slice name for systemd).
	CgroupParent string
	// CgroupPath is CgroupParent resolved to a path below each cgroup
	// hierarchy's root ("/kubepods/pod123" or
	// "/kubepods.slice/kubepods-pod123.slice").
	CgroupPath string
	// CgroupsCreated lists the cgroup directories RunPodSandbox made (and
	// RemovePodSandbox removes); the kubelet usually makes them itself.
	CgroupsCreated []string
	// Dir is the sandbox's state directory; the files below live in it.
	Dir string
	// ResolvConfPath, HostsPath and HostnamePath are the files bind-mounted
	// into containers as /etc/resolv.conf, /etc/hosts and /etc/hostname.
	// ResolvConfPath is empty when the pod has no DNSConfig.
	ResolvConfPath, HostsPath, HostnamePath string
	// ShmPath is the pod's /dev/shm: a tmpfs mount, or /dev/shm itself
	// for a hostIPC pod.
	ShmPath string
	// Hostname is the pod's hostname (set in its UTS namespace).
	Hostname string
	// LogDirectory is where containers' logs go (the kubelet's choice).
	LogDirectory string
	// CreatedAt is when RunPodSandbox started making the sandbox.
	CreatedAt time.Time
	// IPs are the pod's addresses from CNI, the primary first.
	IPs []string
	// NetworkName is the CNI network the pod was attached to ("" for a
	// host-network pod).
	NetworkName string

	mu    sync.Mutex
	state runtimeapi.PodSandboxState

	// opMu serializes the slow lifecycle operations (stop, remove) on
	// this sandbox without blocking readers.
	opMu sync.Mutex
}

// SandboxName is the reservation key of a pod's metadata, in CRI-O's form.
func SandboxName(m *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("k8s_POD_%s_%s_%s_%d", m.GetName(), m.GetNamespace(), m.GetUid(), m.GetAttempt())
}

// State returns the sandbox's state.
func (s *Sandbox) State() runtimeapi.PodSandboxState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// SetState changes the state in memory; call Save to persist it.
func (s *Sandbox) SetState(st runtimeapi.PodSandboxState) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// Lock serializes lifecycle operations (stop, remove) on the sandbox. It
// may be held across runtime and CNI calls; readers never take it.
func (s *Sandbox) Lock() { s.opMu.Lock() }

// Unlock releases Lock.
func (s *Sandbox) Unlock() { s.opMu.Unlock() }

// Metadata is the pod's metadata from its config.
func (s *Sandbox) Metadata() *runtimeapi.PodSandboxMetadata { return s.Config.GetMetadata() }

// sandboxFile is the on-disk form; the config goes through protojson
// because the CRI types are protobuf messages.
type sandboxFile struct {
	Version        int             `json:"version"`
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Config         json.RawMessage `json:"config"`
	RuntimeHandler string          `json:"runtimeHandler"`
	NetNS          string          `json:"netns,omitempty"`
	IPCNS          string          `json:"ipcns,omitempty"`
	UTSNS          string          `json:"utsns,omitempty"`
	UserNS         string          `json:"userns,omitempty"`
	InfraPID       int             `json:"infraPid,omitempty"`
	InfraStartTime uint64          `json:"infraStartTime,omitempty"`
	CgroupParent   string          `json:"cgroupParent,omitempty"`
	CgroupPath     string          `json:"cgroupPath,omitempty"`
	CgroupsCreated []string        `json:"cgroupsCreated,omitempty"`
	Dir            string          `json:"dir"`
	ResolvConfPath string          `json:"resolvConf,omitempty"`
	HostsPath      string          `json:"hosts,omitempty"`
	HostnamePath   string          `json:"hostnameFile,omitempty"`
	ShmPath        string          `json:"shm,omitempty"`
	Hostname       string          `json:"hostname,omitempty"`
	LogDirectory   string          `json:"logDirectory,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	IPs            []string        `json:"ips,omitempty"`
	NetworkName    string          `json:"network,omitempty"`
	State          string          `json:"state"`
}

// Save writes the sandbox's state file atomically into its directory.
func (s *Sandbox) Save() error {
	cfg, err := protojson.Marshal(s.Config)
	if err != nil {
		return fmt.Errorf("encoding sandbox config: %w", err)
	}
	f := sandboxFile{
		Version: 1, ID: s.ID, Name: s.Name, Config: cfg, RuntimeHandler: s.RuntimeHandler,
		NetNS: s.NetNS, IPCNS: s.IPCNS, UTSNS: s.UTSNS, UserNS: s.UserNS,
		InfraPID: s.InfraPID, InfraStartTime: s.InfraStartTime,
		CgroupParent: s.CgroupParent, CgroupPath: s.CgroupPath, CgroupsCreated: s.CgroupsCreated,
		Dir: s.Dir, ResolvConfPath: s.ResolvConfPath, HostsPath: s.HostsPath, HostnamePath: s.HostnamePath,
		ShmPath: s.ShmPath, Hostname: s.Hostname, LogDirectory: s.LogDirectory,
		CreatedAt: s.CreatedAt, IPs: s.IPs, NetworkName: s.NetworkName, State: s.State().String(),
	}
	return WriteJSON(filepath.Join(s.Dir, SandboxStateFile), &f)
}

// LoadSandbox reads a sandbox's state file from dir.
func LoadSandbox(dir string) (*Sandbox, error) {
	var f sandboxFile
	if err := ReadJSON(filepath.Join(dir, SandboxStateFile), &f); err != nil {
		return nil, err
	}
	cfg := &runtimeapi.PodSandboxConfig{}
	if err := protojson.Unmarshal(f.Config, cfg); err != nil {
		return nil, fmt.Errorf("decoding sandbox config in %s: %w", dir, err)
	}
	s := &Sandbox{
		ID: f.ID, Name: f.Name, Config: cfg, RuntimeHandler: f.RuntimeHandler,
		NetNS: f.NetNS, IPCNS: f.IPCNS, UTSNS: f.UTSNS, UserNS: f.UserNS,
		InfraPID: f.InfraPID, InfraStartTime: f.InfraStartTime,
		CgroupParent: f.CgroupParent, CgroupPath: f.CgroupPath, CgroupsCreated: f.CgroupsCreated,
		Dir: dir, ResolvConfPath: f.ResolvConfPath, HostsPath: f.HostsPath, HostnamePath: f.HostnamePath,
		ShmPath: f.ShmPath, Hostname: f.Hostname, LogDirectory: f.LogDirectory,
		CreatedAt: f.CreatedAt, IPs: f.IPs, NetworkName: f.NetworkName,
	}
	s.state = runtimeapi.PodSandboxState(runtimeapi.PodSandboxState_value[f.State])
	if s.ID == "" || s.Name == "" {
		return nil, fmt.Errorf("state file in %s has no ID or name", dir)
	}
	return s, nil
}

// Sandboxes is the in-memory set of sandboxes with their name reservations.
type Sandboxes struct {
	*Index[*Sandbox]
	Names *Names
}

// NewSandboxes returns an empty store.
func NewSandboxes() *Sandboxes {
	return &Sandboxes{Index: NewIndex[*Sandbox](), Names: NewNames()}
}

// LoadSandboxes reads every sandbox state file below root (one directory
// per sandbox). Directories without a readable state file are returned in
// bad: they are leftovers of a RunPodSandbox cut short by a crash.
func LoadSandboxes(root string) (loaded []*Sandbox, bad map[string]error, err error) {
	entries, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading sandbox dir: %w", err)
	}
	bad = map[string]error{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		s, err := LoadSandbox(dir)
		if err != nil {
			bad[dir] = err
			continue
		}
		loaded = append(loaded, s)
	}
	return loaded, bad, nil
}
