package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Root is where the cgroup hierarchies are mounted.
const Root = "/sys/fs/cgroup"

// IsV2 reports whether the host runs the unified (v2) hierarchy only.
func IsV2() bool {
	_, err := os.Stat(filepath.Join(Root, "cgroup.controllers"))
	return err == nil
}

// ResolveParent turns the kubelet's cgroup parent into a path below each
// hierarchy's root. cgroupfs takes an absolute path ("/kubepods/pod1");
// systemd takes a slice name ("kubepods-besteffort-pod1.slice") and
// expands it the way systemd nests slices
// ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice").
// An empty parent resolves to "".
func ResolveParent(driver, parent string) (string, error) {
	if parent == "" {
		return "", nil
	}
	if driver == Systemd {
		return expandSlice(parent)
	}
	if !path.IsAbs(parent) {
		return "", fmt.Errorf("cgroup parent %q is not an absolute path (cgroupfs driver)", parent)
	}
	if strings.ContainsRune(parent, 0) {
		return "", fmt.Errorf("cgroup parent %q contains a NUL byte", parent)
	}
	for _, el := range strings.Split(parent, "/") {
		if el == ".." || el == "." {
			return "", fmt.Errorf("cgroup parent %q may not contain %q", parent, el)
		}
	}
	return path.Clean(parent), nil
}

func expandSlice(slice string) (string, error) {
	if strings.Contains(slice, "/") {
		// The kubelet sometimes passes a full path with the systemd
		// driver; accept it when every element is a slice.
		p := path.Clean("/" + slice)
		for _, el := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			if !strings.HasSuffix(el, ".slice") {
				return "", fmt.Errorf("cgroup parent %q: %q is not a systemd slice", slice, el)
			}
		}
		return p, nil
	}
	if !strings.HasSuffix(slice, ".slice") {
		return "", fmt.Errorf("cgroup parent %q is not a systemd slice name (systemd driver)", slice)
	}
	name := strings.TrimSuffix(slice, ".slice")
	if name == "-" || name == "" {
		return "/", nil
	}
	if strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return "", fmt.Errorf("cgroup parent %q is not a valid slice name", slice)
	}
	var b strings.Builder
	prefix := ""
	for _, comp := range strings.Split(name, "-") {
		b.WriteString("/" + prefix + comp + ".slice")
		prefix += comp + "-"
	}
	return b.String(), nil
}

var (
	hierOnce sync.Once
	hier     []string
	hierErr  error
)

// Hierarchies returns the mount points of the hierarchies a pod cgroup is
// made in: the unified one on v2, every v1 controller hierarchy otherwise
// (the hybrid "unified" mount holds no controllers and is skipped).
func Hierarchies() ([]string, error) {
	hierOnce.Do(func() { hier, hierErr = readHierarchies() })
	return hier, hierErr
}

func readHierarchies() ([]string, error) {
	if IsV2() {
		return []string{Root}, nil
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, fl := range fields {
			if fl == "-" {
				sep = i
				break
			}
		}
		// Hybrid hosts also mount the unified (v2) tree under Root
		// (/sys/fs/cgroup/unified); runc places containers there too, so
		// the pod's cgroup must be made and removed there as well.
		if sep < 0 || sep+1 >= len(fields) || (fields[sep+1] != "cgroup" && fields[sep+1] != "cgroup2") {
			continue
		}
		mp := fields[4]
		if !seen[mp] && strings.HasPrefix(mp, Root+"/") {
			seen[mp] = true
			out = append(out, mp)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup hierarchy is mounted under " + Root)
	}
	return out, sc.Err()
}

// Create makes the cgroup at rel (a resolved parent) in every hierarchy,
// with any missing ancestors, and returns the directories it made, parents
// first, for Remove. Directories that exist already are left alone.
func Create(rel string) (created []string, err error) {
	if rel == "" || rel == "/" {
		return nil, nil
	}
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = Remove(created)
			created = nil
		}
	}()
	for _, h := range hs {
		cur := h
		for _, el := range strings.Split(strings.Trim(rel, "/"), "/") {
			parent := cur
			cur = filepath.Join(cur, el)
			if err := os.Mkdir(cur, 0o755); err != nil {
				if errors.Is(err, fs.ErrExist) {
					continue
				}
				return created, fmt.Errorf("creating cgroup %s: %w", cur, err)
			}
			created = append(created, cur)
			if h == Root && IsV2() {
				enableControllers(parent)
			} else if err := inheritCpuset(parent, cur); err != nil {
				return created, err
			}
		}
	}
	return created, nil
}

// enableControllers turns on, for the children of a v2 cgroup, every
// controller it has, so that a pod cgroup below it can be limited. A
// controller the parent cannot delegate (a process in it, a threaded
// subtree) is skipped: the pod then runs without that limit rather than
// not at all.
func enableControllers(parent string) {
	avail, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return
	}
	for _, c := range strings.Fields(string(avail)) {
		_ = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+"+c), 0o644)
	}
}

// inheritCpuset copies cpuset.cpus and cpuset.mems into a new v1 cpuset
// cgroup: they start empty there, and a process cannot join a cpuset with
// no CPUs.
func inheritCpuset(parent, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.TrimSpace(string(cur)) != "" {
			continue // not a v1 cpuset hierarchy, or already set
		}
		v, err := os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(parent, f), err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
			return fmt.Errorf("setting %s: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}

// removeBusyWait is how long Remove retries a busy cgroup: on v1 a killed
// process keeps its cgroup busy until its parent reaps it, and after a
// daemon restart that parent is init, which reaps when it gets to it.
const removeBusyWait = 3 * time.Second

// Remove removes the directories Create made, deepest first. A cgroup
// that still has processes stays, and the error says so.
func Remove(dirs []string) error {
	var errs []error
	deadline := time.Now().Add(removeBusyWait)
	for i := len(dirs) - 1; i >= 0; i-- {
		for {
			err := os.Remove(dirs[i])
			if errors.Is(err, unix.EBUSY) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
			break
		}
	}
	return errors.Join(errs...)
}

// AddProcess moves pid into the cgroup rel in every hierarchy.
func AddProcess(rel string, pid int) error {
	if rel == "" {
		return nil
	}
	hs, err := Hierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		p := filepath.Join(h, rel, "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("adding %d to %s: %w", pid, p, err))
		}
	}
	return errors.Join(errs...)
}

// Missing returns the directories Create(rel) would make now, parents
// first: recorded before Create, they let a daemon that crashes during
// Create remove what it made.
func Missing(rel string) ([]string, error) {
	if rel == "" || rel == "/" {
		return nil, nil
	}
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range hs {
		cur := h
		for _, el := range strings.Split(strings.Trim(rel, "/"), "/") {
			cur = filepath.Join(cur, el)
			if _, err := os.Stat(cur); errors.Is(err, fs.ErrNotExist) {
				out = append(out, cur)
			}
		}
	}
	return out, nil
}
