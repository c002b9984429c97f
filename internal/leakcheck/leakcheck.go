// Package leakcheck lists what a daemon left behind that belongs to no
// object it knows: namespace pins, mounts, CNI host-local IP leases,
// cgroups, conmon, infra and runtime processes, state directories and
// storage containers. It reads the daemon's state files and the host; it
// changes nothing, so it is safe while the daemon runs (an operation in
// flight may then show up until it finishes) and works while it is
// stopped. Everything it looks at is scoped to one daemon's directories,
// CNI networks and cgroup parents, so other daemons on the host are not
// reported.
package leakcheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/crio/crio/internal/cgroups"
	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/oci"
	"github.com/crio/crio/internal/procstat"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/store"
)

// Scope says which daemon to check.
type Scope struct {
	// Root and RunRoot are the storage's persistent and run roots.
	Root, RunRoot string
	// Driver is the storage driver ("overlay").
	Driver string
	// SandboxRoot holds the sandboxes' state directories.
	SandboxRoot string
	// NamespacesDir, ExitsDir are [crio.runtime] namespaces_dir and
	// container_exits_dir.
	NamespacesDir, ExitsDir string
	// RuntimeRoots are the handlers' runtime --root directories; only
	// containers whose bundle lies in Root or RunRoot are considered.
	RuntimeRoots []string
	// CNIConfDir is the CNI config dir: the host-local stores of its
	// networks are checked.
	CNIConfDir string
	// CgroupParents are cgroups (relative to a hierarchy's root) below
	// which every cgroup must belong to a known pod or container. Pods'
	// parents come from the kubelet, so the daemon's config cannot say.
	CgroupParents []string
}

// ScopeFromConfig is the scope of the daemon cfg configures.
func ScopeFromConfig(cfg *config.Config) Scope {
	s := Scope{
		Root: cfg.Root, RunRoot: cfg.RunRoot, Driver: cfg.StorageDriver,
		SandboxRoot:   filepath.Join(cfg.RunRoot, "crio", "sandboxes"),
		NamespacesDir: cfg.Runtime.NamespacesDir, ExitsDir: cfg.Runtime.ContainerExitsDir,
		CNIConfDir: cfg.Network.NetworkDir,
	}
	if s.Driver == "" || s.Driver == "overlay2" {
		s.Driver = "overlay"
	}
	seen := map[string]bool{}
	for name := range cfg.Runtime.Runtimes {
		if h, err := oci.ResolveHandler(cfg, name); err == nil && !seen[h.RuntimeRoot] {
			seen[h.RuntimeRoot] = true
			s.RuntimeRoots = append(s.RuntimeRoots, h.RuntimeRoot)
		}
	}
	sort.Strings(s.RuntimeRoots)
	return s
}

// Leak is one thing left behind.
type Leak struct {
	// Kind is what it is: "netns pin", "mount", "cni lease", "cgroup",
	// "conmon process", "infra process", "runtime container",
	// "state dir", "storage container", "bundle", "exit file",
	// "cni attachment".
	Kind string `json:"kind"`
	// What names it: a path, a PID, an IP.
	What string `json:"what"`
	// Owner is the sandbox or container ID it was made for, when known.
	Owner string `json:"owner,omitempty"`
}

func (l Leak) String() string {
	if l.Owner != "" {
		return fmt.Sprintf("%s %s (of %s)", l.Kind, l.What, l.Owner)
	}
	return l.Kind + " " + l.What
}

// known is what the daemon's state files describe.
type known struct {
	sandboxes  map[string]*store.Sandbox
	containers map[string]*store.Container
	storageIDs map[string]bool   // every storage container, ours or not
	layers     map[string]string // layer ID -> known container ID
}

// Check returns what lies in s's scope and belongs to no known object,
// sorted.
func Check(s Scope) ([]Leak, error) {
	k, leaks, err := loadKnown(s)
	if err != nil {
		return nil, err
	}
	leaks = append(leaks, checkPins(s, k)...)
	leaks = append(leaks, checkMounts(s, k)...)
	leaks = append(leaks, checkLeases(s, k)...)
	leaks = append(leaks, checkCgroups(s, k)...)
	leaks = append(leaks, checkProcesses(s, k)...)
	leaks = append(leaks, checkRuntime(s, k)...)
	leaks = append(leaks, checkFiles(s, k)...)
	sort.Slice(leaks, func(i, j int) bool { return leaks[i].String() < leaks[j].String() })
	return leaks, nil
}

// storageContainer is the part of go.podman.io/storage's containers.json
// read here: reading the file needs no lock and changes nothing, unlike
// opening the store.
type storageContainer struct {
	ID       string `json:"id"`
	Layer    string `json:"layer"`
	Metadata string `json:"metadata"`
}

// crioMetadata is internal/container's mark on its storage containers.
const crioMetadata = `{"crio-container":true}`

func loadKnown(s Scope) (*known, []Leak, error) {
	k := &known{sandboxes: map[string]*store.Sandbox{}, containers: map[string]*store.Container{},
		storageIDs: map[string]bool{}, layers: map[string]string{}}
	var leaks []Leak
	entries, err := os.ReadDir(s.SandboxRoot)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("reading %s: %w", s.SandboxRoot, err)
	}
	for _, e := range entries {
		dir := filepath.Join(s.SandboxRoot, e.Name())
		sb, err := store.LoadSandbox(dir)
		if err != nil {
			leaks = append(leaks, Leak{Kind: "state dir", What: dir, Owner: e.Name()})
			continue
		}
		k.sandboxes[sb.ID] = sb
	}
	ctrDir := filepath.Join(s.Root, s.Driver+"-containers")
	var scs []storageContainer
	if b, err := os.ReadFile(filepath.Join(ctrDir, "containers.json")); err == nil {
		if err := json.Unmarshal(b, &scs); err != nil {
			return nil, nil, fmt.Errorf("reading storage containers: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	var volumes []storageContainer
	for _, sc := range scs {
		k.storageIDs[sc.ID] = true
		if _, ok := store.ImageVolumeOwner(sc.Metadata); ok {
			volumes = append(volumes, sc)
			continue
		}
		if sc.Metadata != crioMetadata {
			continue
		}
		c, err := store.LoadContainer(filepath.Join(ctrDir, sc.ID, "userdata"))
		if err == nil && k.sandboxes[c.SandboxID] != nil {
			k.containers[c.ID] = c
			k.layers[sc.Layer] = c.ID
			continue
		}
		leaks = append(leaks, Leak{Kind: "storage container", What: sc.ID, Owner: sc.ID})
	}
	// An image volume's storage is known while its container is.
	for _, sc := range volumes {
		owner, _ := store.ImageVolumeOwner(sc.Metadata)
		if k.containers[owner] != nil {
			k.layers[sc.Layer] = owner
			continue
		}
		leaks = append(leaks, Leak{Kind: "image volume storage", What: sc.ID, Owner: owner})
	}
	return k, leaks, nil
}

func checkPins(s Scope, k *known) []Leak {
	var leaks []Leak
	for _, kind := range []string{"netns", "ipcns", "utsns", "userns"} {
		entries, _ := os.ReadDir(filepath.Join(s.NamespacesDir, kind))
		for _, e := range entries {
			if k.sandboxes[e.Name()] == nil {
				leaks = append(leaks, Leak{Kind: "netns pin", What: filepath.Join(s.NamespacesDir, kind, e.Name()), Owner: e.Name()})
			}
		}
	}
	return leaks
}

// checkMounts reports mounts below the daemon's directories that are not
// a known sandbox's pin or /dev/shm or a known container's rootfs.
func checkMounts(s Scope, k *known) []Leak {
	ok := map[string]bool{}
	for _, sb := range k.sandboxes {
		for _, p := range []string{sb.NetNS, sb.IPCNS, sb.UTSNS, sb.UserNS, sb.ShmPath} {
			ok[p] = true
		}
	}
	for _, c := range k.containers {
		ok[c.RootFS] = true
		for _, m := range c.Mounts {
			ok[m.GetHostPath()] = true
		}
	}
	layerDir := filepath.Join(s.Root, s.Driver)
	// The driver's own mounts: its home (made private) and the run root's
	// per-driver dir.
	ok[layerDir] = true
	ok[filepath.Join(s.RunRoot, s.Driver)] = true
	var leaks []Leak
	for _, mp := range mountPoints() {
		if !under(mp, s.Root) && !under(mp, s.RunRoot) && !under(mp, s.NamespacesDir) && !under(mp, s.SandboxRoot) {
			continue
		}
		if ok[mp] {
			continue
		}
		// A layer mounted for a known container under another path
		// (merged dirs are named after the layer).
		if rel, err := filepath.Rel(layerDir, mp); err == nil && !strings.HasPrefix(rel, "..") {
			if id, found := k.layers[strings.SplitN(rel, "/", 2)[0]]; found && id != "" {
				continue
			}
		}
		leaks = append(leaks, Leak{Kind: "mount", What: mp})
	}
	return leaks
}

func under(p, dir string) bool {
	return dir != "" && (p == dir || strings.HasPrefix(p, dir+"/"))
}

func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 4 {
			out = append(out, unescapeMount(fs[4]))
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkLeases reads the host-local stores of the networks in the CNI
// config dir: each lease file is named after the IP and holds the
// sandbox ID on its first line.
func checkLeases(s Scope, k *known) []Leak {
	var leaks []Leak
	for _, store := range hostLocalStores(s.CNIConfDir) {
		entries, _ := os.ReadDir(store)
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, "last_reserved_ip") || name == "lock" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(store, name))
			if err != nil {
				continue
			}
			owner := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
			if k.sandboxes[owner] == nil {
				leaks = append(leaks, Leak{Kind: "cni lease", What: filepath.Join(store, name), Owner: owner})
			}
		}
	}
	return leaks
}

// hostLocalStores returns dataDir/network of every host-local IPAM in the
// conflists of dir.
func hostLocalStores(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.conflist"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var list struct {
			Name    string `json:"name"`
			Plugins []struct {
				IPAM struct {
					Type    string `json:"type"`
					DataDir string `json:"dataDir"`
				} `json:"ipam"`
			} `json:"plugins"`
		}
		if json.Unmarshal(b, &list) != nil {
			continue
		}
		for _, p := range list.Plugins {
			if p.IPAM.Type != "host-local" {
				continue
			}
			d := p.IPAM.DataDir
			if d == "" {
				d = "/var/lib/cni/networks"
			}
			out = append(out, filepath.Join(d, list.Name))
		}
	}
	return out
}

// checkCgroups walks the scope's cgroup parents in one hierarchy: every
// cgroup there must be a known pod's (or an ancestor of one) or a known
// container's. Container cgroups ("crio-ID") below known pods' cgroups
// are checked too.
func checkCgroups(s Scope, k *known) []Leak {
	hier, err := cgroups.Hierarchies()
	if err != nil || len(hier) == 0 {
		return nil
	}
	root := hier[0]
	for _, h := range hier {
		if strings.HasSuffix(h, "/pids") {
			root = h // present on every v1 host, used by every pod
		}
	}
	ok := map[string]bool{}
	var pods []string
	for _, sb := range k.sandboxes {
		if sb.CgroupPath == "" {
			continue
		}
		pods = append(pods, sb.CgroupPath)
		for p := sb.CgroupPath; p != "/" && p != "."; p = filepath.Dir(p) {
			ok[p] = true
		}
	}
	// Under the systemd driver conmon's and the infra process's scopes
	// ("crio-conmon-ID.scope", "crio-ID.scope") sit in the pod's slice
	// beside the containers'.
	ids := map[string]bool{}
	for _, sb := range k.sandboxes {
		ids[sb.ID] = true
	}
	for _, c := range k.containers {
		if c.Runtime.CgroupPath != "" {
			ok[c.Runtime.CgroupPath] = true
		}
		ids[c.ID] = true
	}
	var leaks []Leak
	report := func(rel string) {
		what := filepath.Join(root, rel)
		if procs := cgroupProcs(what); procs != "" {
			what += " (processes: " + procs + ")"
		}
		leaks = append(leaks, Leak{Kind: "cgroup", What: what, Owner: ownerOf(filepath.Base(rel))})
	}
	for _, parent := range s.CgroupParents {
		_ = filepath.WalkDir(filepath.Join(root, parent), func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
			if rel == parent {
				return nil
			}
			if !ok[rel] {
				report(rel)
				return filepath.SkipDir
			}
			return nil
		})
	}
	for _, pod := range pods {
		entries, _ := os.ReadDir(filepath.Join(root, pod))
		for _, e := range entries {
			rel := filepath.Join(pod, e.Name())
			scope := strings.HasSuffix(e.Name(), ".scope") && ids[ownerOf(e.Name())]
			if e.IsDir() && strings.HasPrefix(e.Name(), "crio-") && !ok[rel] && !scope && !underAny(rel, s.CgroupParents) {
				report(rel)
			}
		}
	}
	return leaks
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if under(p, d) {
			return true
		}
	}
	return false
}

// ownerOf extracts the ID from "crio-ID" or "crio-conmon-ID", or their
// systemd scopes' names.
func ownerOf(name string) string {
	name = strings.TrimSuffix(strings.TrimPrefix(name, "crio-"), ".scope")
	return strings.TrimPrefix(name, "conmon-")
}

// checkProcesses finds conmons watching this daemon's exits dir and infra
// processes of its namespaces dir that belong to no known object.
func checkProcesses(s Scope, k *known) []Leak {
	var leaks []Leak
	for _, p := range sandbox.FindInfra(s.NamespacesDir) {
		if k.sandboxes[p.SandboxID] == nil {
			leaks = append(leaks, Leak{Kind: "infra process", What: strconv.Itoa(p.PID), Owner: p.SandboxID})
		}
	}
	for id, pid := range Conmons(s.ExitsDir) {
		if k.containers[id] == nil {
			leaks = append(leaks, Leak{Kind: "conmon process", What: strconv.Itoa(pid), Owner: id})
		}
	}
	return leaks
}

// Conmons finds the conmon processes that write their exit files to
// exitsDir: container ID -> pid.
func Conmons(exitsDir string) map[string]int {
	out := map[string]int{}
	for _, pid := range procstat.PIDs() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte("--exit-dir")) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		var exitDir, id string
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "--exit-dir":
				exitDir = args[i+1]
			case "-c", "--cid":
				id = args[i+1]
			}
		}
		if exitDir == exitsDir && id != "" {
			out[id] = pid
		}
	}
	return out
}

// checkRuntime lists the runtime's containers whose bundle lies in this
// daemon's directories and that no known container is.
func checkRuntime(s Scope, k *known) []Leak {
	var leaks []Leak
	for _, rc := range RuntimeContainers(s.RuntimeRoots, s.Root, s.RunRoot) {
		if k.containers[rc.ID] == nil {
			leaks = append(leaks, Leak{Kind: "runtime container", What: fmt.Sprintf("%s (pid %d)", filepath.Join(rc.Root, rc.ID), rc.PID), Owner: rc.ID})
		}
	}
	return leaks
}

// RuntimeContainer is a container in a runtime's state directory.
type RuntimeContainer struct {
	ID, Root, Bundle string
	PID              int
}

// RuntimeContainers lists the containers in the runtime roots (runc's
// state.json layout) whose bundle lies below one of dirs.
func RuntimeContainers(roots []string, dirs ...string) []RuntimeContainer {
	var out []RuntimeContainer
	for _, root := range roots {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(root, e.Name(), "state.json"))
			if err != nil {
				continue
			}
			var st struct {
				ID     string `json:"id"`
				PID    int    `json:"init_process_pid"`
				Config struct {
					Labels []string `json:"labels"`
				} `json:"config"`
			}
			if json.Unmarshal(b, &st) != nil || st.ID == "" {
				continue
			}
			var bundle string
			for _, l := range st.Config.Labels {
				if v, found := strings.CutPrefix(l, "bundle="); found {
					bundle = v
				}
			}
			ours := false
			for _, d := range dirs {
				ours = ours || under(bundle, d)
			}
			if ours {
				out = append(out, RuntimeContainer{ID: st.ID, Root: root, Bundle: bundle, PID: st.PID})
			}
		}
	}
	return out
}

// checkFiles finds bundles (the storage run root's per-container dirs)
// of no storage container and exit files of no known container.
func checkFiles(s Scope, k *known) []Leak {
	var leaks []Leak
	runDir := filepath.Join(s.RunRoot, s.Driver+"-containers")
	entries, _ := os.ReadDir(runDir)
	for _, e := range entries {
		if e.IsDir() && !k.storageIDs[e.Name()] {
			leaks = append(leaks, Leak{Kind: "bundle", What: filepath.Join(runDir, e.Name()), Owner: e.Name()})
		}
	}
	kept := filepath.Join(s.Root, "crio", "cni-attachments")
	entries, _ = os.ReadDir(kept)
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && k.sandboxes[id] == nil {
			leaks = append(leaks, Leak{Kind: "cni attachment", What: filepath.Join(kept, e.Name()), Owner: id})
		}
	}
	entries, _ = os.ReadDir(s.ExitsDir)
	for _, e := range entries {
		if !e.IsDir() && k.containers[e.Name()] == nil {
			leaks = append(leaks, Leak{Kind: "exit file", What: filepath.Join(s.ExitsDir, e.Name()), Owner: e.Name()})
		}
	}
	return leaks
}

// cgroupProcs describes the processes in a cgroup: "PID comm state".
func cgroupProcs(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return ""
	}
	var out []string
	for _, pid := range strings.Fields(string(b)) {
		st, _ := os.ReadFile("/proc/" + pid + "/stat")
		desc := pid
		if i, j := bytes.IndexByte(st, '('), bytes.LastIndexByte(st, ')'); i >= 0 && j > i && j+2 < len(st) {
			desc += " " + string(st[i+1:j]) + " " + string(st[j+2])
		}
		out = append(out, desc)
	}
	return strings.Join(out, ", ")
}
