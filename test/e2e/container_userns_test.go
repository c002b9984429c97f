package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// usernsMapping is what withUserNS gives a pod: container 0 is host 200000.
var usernsMapping = []*runtimeapi.IDMapping{{HostId: 200000, ContainerId: 0, Length: 65536}}

// TestContainerRunsInPodUserNamespace runs a container in a pod with its
// own user namespace: the container sees the pod's uid_map, its root
// writes its rootfs (the file lands on the host owned by the mapped root,
// 200000) and an idmapped volume (files land owned by the unshifted IDs:
// 0 for the container's root, 5 for its uid 5), and sees the volume's
// host-root files as its own root's.
func TestContainerRunsInPodUserNamespace(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "userns-ctr", withUserNS, podPID)

	vol := filepath.Join(d.Dir, "vol")
	if err := os.Mkdir(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "pre"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := strings.Join([]string{
		"cat /proc/self/uid_map",
		"echo rootfs > /written-by-root",
		"echo vol > /vol/by-root",
		"echo vol > /vol/by-5 && chown 5:6 /vol/by-5",
		"echo pre-owner $(stat -c %u:%g /vol/pre)",
		"echo passwd-owner $(stat -c %u:%g /etc/passwd)",
	}, " && ")
	id := run(t, d, podID, pc, ctrConfig("writer", []string{"sh", "-c", script}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{
			Mode: runtimeapi.NamespaceMode_POD, Uids: usernsMapping, Gids: usernsMapping,
		}
		c.Mounts = []*runtimeapi.Mount{{
			HostPath: vol, ContainerPath: "/vol",
			UidMappings: usernsMapping, GidMappings: usernsMapping,
		}}
	}))
	st := waitExited(t, d, id, 30*time.Second)
	out := strings.Join(logText(t, filepath.Join(pc.LogDirectory, "writer.log")), "\n")
	if st.ExitCode != 0 {
		t.Fatalf("container exited %d: %s (%s)", st.ExitCode, out, st.Message)
	}
	if f := strings.Fields(strings.Split(out, "\n")[0]); len(f) != 3 || f[0] != "0" || f[1] != "200000" || f[2] != "65536" {
		t.Errorf("container's uid_map %q; want 0 200000 65536 (output %q)", f, out)
	}
	for _, want := range []string{"pre-owner 0:0", "passwd-owner 0:0"} {
		if !strings.Contains(out, want) {
			t.Errorf("container output lacks %q: %q", want, out)
		}
	}
	owner := func(p string) (uint32, uint32) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		s := fi.Sys().(*syscall.Stat_t)
		return s.Uid, s.Gid
	}
	if u, g := owner(filepath.Join(vol, "by-root")); u != 0 || g != 0 {
		t.Errorf("volume file written by the container's root is owned by %d:%d on the host; want 0:0 (idmapped)", u, g)
	}
	if u, g := owner(filepath.Join(vol, "by-5")); u != 5 || g != 6 {
		t.Errorf("volume file chowned to 5:6 in the container is owned by %d:%d on the host; want 5:6", u, g)
	}
	written, _ := filepath.Glob(filepath.Join(d.Dir, "root", "overlay", "*", "diff", "written-by-root"))
	if len(written) != 1 {
		t.Fatalf("the file the container wrote in its rootfs is not in one upper layer: %v", written)
	}
	if u, g := owner(written[0]); u != 200000 || g != 200000 {
		t.Errorf("rootfs file written by the container's root is owned by %d:%d on the host; want 200000:200000", u, g)
	}
	// The container's layer dir (upper dir, merged rootfs) is searchable
	// by the pod's root group only, not by every host user.
	layerDir := filepath.Dir(filepath.Dir(written[0]))
	fi, err := os.Stat(layerDir)
	if err != nil {
		t.Fatal(err)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 200000 || fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("container layer dir %s: group %d, mode %v; want group 200000 and no access for others", layerDir, gid, fi.Mode())
	}

	// A second container shares the pod's user namespace, and so do the
	// processes exec'd into it.
	sleeper := run(t, d, podID, pc, ctrConfig("sleeper", []string{"sleep", "300"}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	}))
	_, info := podStatus(t, d, podID)
	if got, want := nsInode(t, fmt.Sprintf("/proc/%d/ns/user", verboseInfo(t, d, sleeper).PID)), nsInode(t, fmt.Sprintf("/proc/%d/ns/user", info.PID)); got != want {
		t.Errorf("container's user namespace %d is not the pod's %d", got, want)
	}
	r, err := d.Runtime.ExecSync(framework.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: sleeper, Cmd: []string{"cat", "/proc/self/uid_map"}, Timeout: 10})
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("ExecSync: %v %+v", err, r)
	}
	if f := strings.Fields(string(r.Stdout)); len(f) != 3 || f[1] != "200000" {
		t.Errorf("exec'd process's uid_map %q; want 0 200000 65536", r.Stdout)
	}

	// After a restart the daemon still knows the pod's user namespace:
	// exec still runs in it and a new container joins it.
	d.Restart(syscall.SIGTERM)
	r, err = d.Runtime.ExecSync(framework.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: sleeper, Cmd: []string{"cat", "/proc/self/uid_map"}, Timeout: 10})
	if err != nil || !strings.Contains(string(r.GetStdout()), "200000") {
		t.Errorf("ExecSync after a restart: %v %q", err, r.GetStdout())
	}
	late := run(t, d, podID, pc, ctrConfig("late", []string{"cat", "/proc/self/uid_map"}))
	waitExited(t, d, late, 30*time.Second)
	if got := strings.Join(logText(t, filepath.Join(pc.LogDirectory, "late.log")), "\n"); !strings.Contains(got, "200000") {
		t.Errorf("container created after a restart: uid_map %q; want the pod's", got)
	}
}

// TestContainerUserNamespaceRequestsAreChecked refuses containers whose
// user namespace request does not match their pod's, and idmapped mounts
// outside a user namespace.
func TestContainerUserNamespaceRequestsAreChecked(t *testing.T) {
	d := containerDaemon(t)
	usernsPod, usernsPC := pod(t, d, "userns-chk", withUserNS)
	plainPod, plainPC := pod(t, d, "plain-chk")
	other := []*runtimeapi.IDMapping{{HostId: 300000, ContainerId: 0, Length: 65536}}
	vol := t.TempDir()
	for _, tc := range []struct {
		name   string
		podID  string
		pc     *runtimeapi.PodSandboxConfig
		mod    func(*runtimeapi.ContainerConfig)
		reason string
	}{
		{"mappings differ from the pod's", usernsPod, usernsPC, func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: other, Gids: other}
		}, "differ from the pod's"},
		{"host user namespace in a userns pod", usernsPod, usernsPC, func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}
		}, "mode NODE"},
		{"mode CONTAINER", usernsPod, usernsPC, func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER}
		}, "not supported"},
		{"user outside the mapping", usernsPod, usernsPC, func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: 70000}
		}, "not mapped"},
		{"idmapped mount in a host-userns pod", plainPod, plainPC, func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{HostPath: vol, ContainerPath: "/vol", UidMappings: usernsMapping, GidMappings: usernsMapping}}
		}, "own user namespace"},
		{"idmapped mount with an empty mapping", usernsPod, usernsPC, func(c *runtimeapi.ContainerConfig) {
			empty := []*runtimeapi.IDMapping{{HostId: 1, Length: 0}}
			c.Mounts = []*runtimeapi.Mount{{HostPath: vol, ContainerPath: "/vol", UidMappings: empty, GidMappings: empty}}
		}, "empty or overflows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ctrConfig("bad", []string{"true"}, tc.mod)
			_, err := d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: tc.podID, Config: c, SandboxConfig: tc.pc})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("CreateContainer: %v; want InvalidArgument mentioning %q", err, tc.reason)
			}
		})
	}
	// Nothing is left of the refused requests: the name is free again.
	run(t, d, usernsPod, usernsPC, ctrConfig("bad", []string{"true"}))
}

// TestStatusAdvertisesUserNamespacesPerHandler: the default runc
// supports idmapped mounts; a handler whose runtime cannot say what it
// supports (no features command) does not, and refuses user-namespaced
// pods.
func TestStatusAdvertisesUserNamespacesPerHandler(t *testing.T) {
	requireRoot(t)
	fake := filepath.Join(t.TempDir(), "oldruntime")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := framework.NewDaemon(t, framework.Options{Config: `[crio.runtime.runtimes.old]
runtime_path = "` + fake + `"
`})
	resp, err := d.Runtime.Status(framework.Ctx(t), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, h := range resp.RuntimeHandlers {
		got[h.Name] = h.GetFeatures().GetUserNamespaces()
	}
	// Debian's crun 1.8 has no features command either.
	if !got[""] || !got["runc"] || got["old"] || got["crun"] {
		t.Errorf("user_namespaces per handler %v; want true for the default and runc, false for old and crun", got)
	}
	_, err = d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig("old-userns", withUserNS), RuntimeHandler: "old"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("userns pod on a handler without user namespaces: %v; want FailedPrecondition", err)
	}
}
