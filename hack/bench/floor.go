package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
)

// The floor is a pod's work done by hand, with no daemon: what any CRI
// runtime must at least spend. Its steps, in order.
var floorOps = []string{"netns add", "CNI ADD", "mount+runc create", "runc start", "kill+wait", "runc delete+umount", "CNI DEL", "netns delete"}

type floor struct {
	o      *options
	dir    string
	layers []string // lower dirs, top first
	spec   map[string]any
	cni    *libcni.CNIConfig
	list   *libcni.NetworkConfigList
	bridge string
}

// newFloor unpacks busybox's layers from the registry and prepares a CNI
// network like the daemons' (its own bridge and subnet).
func newFloor(ctx context.Context, o *options, dir, registryAddr string) (*floor, error) {
	f := &floor{o: o, dir: dir, bridge: fmt.Sprintf("bflr%d", os.Getpid()%100000)}
	ref, err := name.ParseReference(registryAddr+"/e2e-test-images/busybox:1.29-2", name.Insecure)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("floor: fetching busybox: %w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for i, l := range ls {
		d := filepath.Join(dir, "layers", fmt.Sprint(i))
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		err = untar(rc, d)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("floor: unpacking layer %d: %w", i, err)
		}
		f.layers = append([]string{d}, f.layers...)
	}
	out, err := exec.Command(o.runc, "spec", "--bundle", dir).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("runc spec: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &f.spec); err != nil {
		return nil, err
	}
	f.list, err = libcni.ConfListFromBytes([]byte(conflist(fmt.Sprintf("bench-floor-%d", os.Getpid()), f.bridge, "10.238.0.0/16")))
	if err != nil {
		return nil, err
	}
	f.cni = libcni.NewCNIConfigWithCacheDir([]string{"/usr/lib/cni", "/opt/cni/bin"}, filepath.Join(dir, "cni-cache"), nil)
	return f, nil
}

// untar extracts a layer (no whiteouts in busybox's layers).
func untar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dst, filepath.Clean("/"+h.Name))
		if strings.HasPrefix(filepath.Base(p), ".wh.") {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode)&os.ModePerm); err != nil {
				return err
			}
			os.Chmod(p, os.FileMode(h.Mode)&07777|modeBits(h.Mode))
		case tar.TypeReg:
			w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&os.ModePerm)
			if err != nil {
				return err
			}
			_, err = io.Copy(w, tr)
			w.Close()
			if err != nil {
				return err
			}
			os.Chmod(p, os.FileMode(h.Mode)&os.ModePerm|modeBits(h.Mode))
		case tar.TypeSymlink:
			os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			os.Remove(p)
			if err := os.Link(filepath.Join(dst, filepath.Clean("/"+h.Linkname)), p); err != nil {
				return err
			}
		}
		os.Lchown(p, h.Uid, h.Gid)
	}
}

func modeBits(m int64) os.FileMode {
	var fm os.FileMode
	if m&04000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&02000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&01000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

// run does pod i's work by hand, timing each step.
func (f *floor) run(ctx context.Context, i int, s *samples) (retErr error) {
	id := fmt.Sprintf("bflr-%d-%d", os.Getpid(), i)
	nsName := id
	nsPath := "/run/netns/" + nsName
	bundle := filepath.Join(f.dir, "pods", id)
	merged := filepath.Join(bundle, "rootfs")
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: nsPath, IfName: "eth0"}
	runcRoot := filepath.Join(f.dir, "runc")
	runc := func(args ...string) error {
		// Output to a file, not a pipe: the container inherits runc
		// create's stdio and would hold a pipe open.
		logPath := filepath.Join(bundle, "runc.log")
		lf, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer lf.Close()
		cmd := exec.CommandContext(ctx, f.o.runc, append([]string{"--root", runcRoot}, args...)...)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Run(); err != nil {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("runc %s: %v: %s", args[0], err, out)
		}
		return nil
	}
	step := func(op string, fn func() error) error {
		t := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("floor %s: %w", op, err)
		}
		s.add(op, time.Since(t))
		return nil
	}
	// Leave nothing behind on failure.
	defer func() {
		if retErr != nil {
			exec.Command(f.o.runc, "--root", runcRoot, "delete", "-f", id).Run()
			unix.Unmount(merged, unix.MNT_DETACH)
			f.cni.DelNetworkList(context.Background(), f.list, rt)
			exec.Command("ip", "netns", "delete", nsName).Run()
		}
	}()
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(bundle, d), 0o755); err != nil {
			return err
		}
	}
	spec := f.spec
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = idleCommand
	spec["root"] = map[string]any{"path": merged, "readonly": false}
	linux := spec["linux"].(map[string]any)
	var nss []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "network" {
			nss = append(nss, n)
		}
	}
	linux["namespaces"] = append(nss, map[string]any{"type": "network", "path": nsPath})
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		return err
	}
	if err := step("netns add", func() error {
		out, err := exec.CommandContext(ctx, "ip", "netns", "add", nsName).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := step("CNI ADD", func() error {
		_, err := f.cni.AddNetworkList(ctx, f.list, rt)
		return err
	}); err != nil {
		return err
	}
	pidFile := filepath.Join(bundle, "pid")
	if err := step("mount+runc create", func() error {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(f.layers, ":"), filepath.Join(bundle, "upper"), filepath.Join(bundle, "work"))
		if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
			return fmt.Errorf("overlay mount: %w", err)
		}
		return runc("create", "--bundle", bundle, "--pid-file", pidFile, id)
	}); err != nil {
		return err
	}
	if err := step("runc start", func() error { return runc("start", id) }); err != nil {
		return err
	}
	if err := step("kill+wait", func() error {
		pid, err := readPID(pidFile)
		if err != nil {
			return err
		}
		if err := runc("kill", id, "KILL"); err != nil {
			return err
		}
		for deadline := time.Now().Add(10 * time.Second); procRunning(pid); {
			if time.Now().After(deadline) {
				return fmt.Errorf("pid %d still runs", pid)
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := step("runc delete+umount", func() error {
		if err := runc("delete", id); err != nil {
			return err
		}
		return unix.Unmount(merged, 0)
	}); err != nil {
		return err
	}
	if err := step("CNI DEL", func() error { return f.cni.DelNetworkList(ctx, f.list, rt) }); err != nil {
		return err
	}
	if err := step("netns delete", func() error {
		out, err := exec.CommandContext(ctx, "ip", "netns", "delete", nsName).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}); err != nil {
		return err
	}
	return os.RemoveAll(bundle)
}

// procRunning says whether pid exists and is not a zombie.
func procRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// cleanup removes the floor's bridge.
func (f *floor) cleanup() {
	exec.Command("ip", "link", "del", f.bridge).Run()
	os.RemoveAll(filepath.Join("/var/lib/cni/networks", f.list.Name))
}
