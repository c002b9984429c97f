package checkpoint

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodManifestFile names a pod checkpoint's manifest inside its
// directory, beside one container archive (the CheckpointContainer
// format) per checkpointed container.
const PodManifestFile = "pod.json"

// PodManifestVersion is the manifest's format; a restore refuses others.
const PodManifestVersion = 1

// ErrBadDir says a pod checkpoint's output directory is not an existing,
// empty directory given by an absolute path.
var ErrBadDir = errors.New("bad pod checkpoint directory")

// PodManifest says what a pod checkpoint holds.
type PodManifest struct {
	Version int `json:"version"`
	// SandboxID and Handler are the checkpointed pod's (for a reader;
	// the restore gets its handler from the request).
	SandboxID string `json:"sandboxId"`
	Handler   string `json:"runtimeHandler"`
	// Sandbox is the pod's PodSandboxConfig, protojson.
	Sandbox json.RawMessage `json:"podSandboxConfig"`
	// MaxPID, for a pod with its own PID namespace, is the highest PID
	// in it at the cut; a restore makes new processes start above it.
	MaxPID int `json:"maxPid,omitempty"`
	// Containers are in checkpoint order, which is the order a restore
	// creates them in.
	Containers []PodContainer `json:"containers"`
}

// PodContainer is one checkpointed container.
type PodContainer struct {
	// Name is the container's CRI metadata name, which a RestorePod
	// request's container configs are matched by.
	Name string `json:"name"`
	ID   string `json:"id"`
	// Archive is the container's checkpoint archive, a plain file name
	// inside the pod checkpoint's directory.
	Archive string `json:"archive"`
}

// ArchiveName is the i-th container's archive: numbered rather than
// named after the container, whose CRI name a direct caller may fill
// with anything.
func ArchiveName(i int) string { return fmt.Sprintf("container-%d.tar", i) }

// CheckOutputDir holds a CheckpointPod output_path to the proto's terms:
// an absolute path to an existing, empty directory (not a symlink to
// one, so that what is written is where the caller named).
func CheckOutputDir(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: output_path is required", ErrBadDir)
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%w: output_path %q must be an absolute path", ErrBadDir, p)
	}
	p = filepath.Clean(p)
	fi, err := os.Lstat(p)
	if err != nil {
		return "", fmt.Errorf("%w: output_path %s: %v (the caller makes the directory)", ErrBadDir, p, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%w: output_path %s is not a directory (%s)", ErrBadDir, p, fi.Mode().Type())
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return "", fmt.Errorf("%w: output_path %s: %v", ErrBadDir, p, err)
	}
	if len(ents) > 0 {
		return "", fmt.Errorf("%w: output_path %s is not empty (holds %s)", ErrBadDir, p, ents[0].Name())
	}
	return p, nil
}

// WritePodManifest writes the manifest into dir through a temporary
// file, so that a manifest present is whole: it is the last file a
// checkpoint writes, and a restore reads it first.
func WritePodManifest(dir string, man *PodManifest) error {
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the pod checkpoint manifest: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+PodManifestFile+".tmp-")
	if err != nil {
		return fmt.Errorf("writing the pod checkpoint manifest: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, PodManifestFile))
	}
	if err != nil {
		return fmt.Errorf("writing the pod checkpoint manifest: %w", err)
	}
	return nil
}

// SandboxConfigJSON encodes a pod config for the manifest.
func SandboxConfigJSON(c *runtimeapi.PodSandboxConfig) (json.RawMessage, error) {
	b, err := protojson.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding the pod sandbox config: %w", err)
	}
	return b, nil
}

// ReadPodManifest reads and checks the manifest of the pod checkpoint
// in dir: its version, container names unique and non-empty, archives
// plain names of regular files inside dir. It modifies nothing.
func ReadPodManifest(dir string) (*PodManifest, error) {
	if dir == "" || !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("%w: checkpoint_path %q must be an absolute path", ErrBadDir, dir)
	}
	b, err := readSmall(filepath.Join(dir, PodManifestFile), 4<<20)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s: not a pod checkpoint (%v)", ErrBadArchive, dir, PodManifestFile, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, PodManifestFile, err)
	}
	man := &PodManifest{}
	if err := json.Unmarshal(b, man); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, PodManifestFile, err)
	}
	if man.Version != PodManifestVersion {
		return nil, fmt.Errorf("%w: %s is version %d, this runtime reads version %d", ErrBadArchive, PodManifestFile, man.Version, PodManifestVersion)
	}
	if len(man.Containers) == 0 {
		return nil, fmt.Errorf("%w: %s lists no containers", ErrBadArchive, PodManifestFile)
	}
	seen := map[string]bool{}
	for _, c := range man.Containers {
		if c.Name == "" || seen[c.Name] {
			return nil, fmt.Errorf("%w: %s: container name %q is empty or repeated", ErrBadArchive, PodManifestFile, c.Name)
		}
		seen[c.Name] = true
		if c.Archive == "" || c.Archive != filepath.Base(c.Archive) || strings.HasPrefix(c.Archive, ".") {
			return nil, fmt.Errorf("%w: %s: archive %q of container %s is not a file name inside the checkpoint", ErrBadArchive, PodManifestFile, c.Archive, c.Name)
		}
		fi, err := os.Lstat(filepath.Join(dir, c.Archive))
		if err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: archive %s of container %s is missing or not a regular file", ErrBadArchive, c.Archive, c.Name)
		}
	}
	return man, nil
}

// SandboxConfig decodes the manifest's pod config.
func (man *PodManifest) SandboxConfig() (*runtimeapi.PodSandboxConfig, error) {
	c := &runtimeapi.PodSandboxConfig{}
	if err := protojson.Unmarshal(man.Sandbox, c); err != nil {
		return nil, fmt.Errorf("%w: %s: pod sandbox config: %v", ErrBadArchive, PodManifestFile, err)
	}
	return c, nil
}

// ReadArchiveCRIConfig reads the CRI config out of a container archive
// without unpacking it (the tar reader skips the memory images by
// seeking), for a restore to compare with what its caller expects.
func ReadArchiveCRIConfig(path string) (*runtimeapi.ContainerConfig, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s has no %s (not made by this runtime?)", ErrBadArchive, path, CRIConfigFile)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, path, err)
		}
		if name, err := memberName(hdr.Name); err != nil || name != CRIConfigFile || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > 1<<20 {
			return nil, fmt.Errorf("%w: %s: %s is over 1 MiB", ErrBadArchive, path, CRIConfigFile)
		}
		b, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, path, err)
		}
		cfg := &runtimeapi.ContainerConfig{}
		if err := protojson.Unmarshal(b, cfg); err != nil {
			return nil, fmt.Errorf("%w: %s: %s: %v", ErrBadArchive, path, CRIConfigFile, err)
		}
		return cfg, nil
	}
}

// MaxPIDInNamespace is the highest PID, as the namespace numbers it,
// of any thread in the PID namespace /proc/nsPID/ns/pid names: the
// restored processes of a shared namespace get back their PIDs, and new
// forks in the new namespace must not take one a container restored
// later needs.
func MaxPIDInNamespace(nsPID int) (int, error) {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", nsPID))
	if err != nil {
		return 0, fmt.Errorf("the pod's PID namespace: %w", err)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	max := 0
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if ns, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns/pid")); err != nil || ns != want {
			continue
		}
		tasks, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "task"))
		for _, t := range tasks {
			b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "task", t.Name(), "status"))
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				if f, ok := strings.CutPrefix(l, "NSpid:"); ok {
					ids := strings.Fields(f)
					if n, err := strconv.Atoi(ids[len(ids)-1]); err == nil && n > max {
						max = n
					}
				}
			}
		}
	}
	return max, nil
}

// ReservePIDs makes the PID namespace of process nsPID hand out PIDs
// above max to new processes (its ns_last_pid, which only a process
// inside the namespace can write: nsenter forks one).
func ReservePIDs(ctx context.Context, nsPID, max int) error {
	out, err := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(nsPID), "--pid", "--",
		"sh", "-c", "echo "+strconv.Itoa(max)+" > /proc/sys/kernel/ns_last_pid").CombinedOutput()
	if err != nil {
		return fmt.Errorf("setting the pod PID namespace's ns_last_pid to %d: %w: %s", max, err, strings.TrimSpace(string(out)))
	}
	return nil
}
