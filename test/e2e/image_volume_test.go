package e2e

import (
	"encoding/json"
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

func TestImageVolumeIsMountedReadOnlyWithSubPath(t *testing.T) {
	d := containerDaemon(t)
	imageID := mustPull(t, d, ctrImage)
	overlayMounts := func() int {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), " "+filepath.Join(d.Dir, "root", "overlay")+"/")
	}
	before := overlayMounts()
	podID, pc := pod(t, d, "imgvol")
	withImage := func(sub string) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) {
			c.Mounts = append(c.Mounts, &runtimeapi.Mount{
				ContainerPath: "/mnt/img", Readonly: true, ImageSubPath: sub,
				Image: &runtimeapi.ImageSpec{Image: imageID, UserSpecifiedImage: ctrImage},
			})
		}
	}
	id := run(t, d, podID, pc, ctrConfig("whole", []string{"sh", "-c",
		"test -x /mnt/img/bin/busybox && echo has-busybox; touch /mnt/img/new 2>/dev/null && echo WRITABLE || echo read-only"}, withImage("")))
	st := waitExited(t, d, id, 30*time.Second)
	if st.ExitCode != 0 {
		t.Fatalf("exit code %d", st.ExitCode)
	}
	out := strings.Join(logText(t, filepath.Join(pc.LogDirectory, "whole.log")), "\n")
	if !strings.Contains(out, "has-busybox") || !strings.Contains(out, "read-only") {
		t.Errorf("image volume not mounted read-only with the image's files:\n%s", out)
	}
	var found bool
	for _, m := range st.Mounts {
		if m.ContainerPath == "/mnt/img" {
			found = true
			if m.GetImage().GetImageRef() != imageID || m.GetImage().GetImage() != imageID {
				t.Errorf("mount image in ContainerStatus = %v, want ref %s", m.GetImage(), imageID)
			}
		}
	}
	if !found {
		t.Errorf("image volume missing from ContainerStatus mounts: %v", st.Mounts)
	}

	sub := run(t, d, podID, pc, ctrConfig("sub", []string{"sh", "-c", "test -f /mnt/img/passwd && echo only-etc"}, withImage("etc")))
	waitExited(t, d, sub, 30*time.Second)
	if out := strings.Join(logText(t, filepath.Join(pc.LogDirectory, "sub.log")), "\n"); !strings.Contains(out, "only-etc") {
		t.Errorf("image_sub_path etc not mounted:\n%s", out)
	}

	ctx := framework.Ctx(t)
	_, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("badsub", []string{"true"}, withImage("no/such/dir"))})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "no/such/dir") {
		t.Errorf("missing image_sub_path: %v, want InvalidArgument naming it", err)
	}
	_, err = d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("rwimg", []string{"true"}, withImage(""), func(c *runtimeapi.ContainerConfig) { c.Mounts[0].Readonly = false })})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("writable image volume: %v, want InvalidArgument", err)
	}
	_, err = d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("noimg", []string{"true"}, func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/mnt/x", Readonly: true, Image: &runtimeapi.ImageSpec{Image: "example.com/not/pulled:1"}}}
		})})
	if status.Code(err) != codes.NotFound {
		t.Errorf("image volume of an image not pulled: %v, want NotFound", err)
	}
	for _, c := range []string{id, sub} {
		if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c}); err != nil {
			t.Fatal(err)
		}
	}
	// With every user gone, no image stays mounted.
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}
	if after := overlayMounts(); after != before {
		t.Errorf("%d overlay mounts before the pod, %d after removing it: an image volume stayed mounted", before, after)
	}
}

// TestImageVolumeInUserNamespacedPod mounts image volumes as the kubelet
// asks for them in a pod with its own user namespace: with the pod's
// mappings on the mount. The kernel cannot idmap the image's overlay, so
// each volume is a storage container of its own over idmapped layers. The
// image's root-owned files must appear owned by the container's root
// (not by nobody), and the volume's storage must go with its container:
// at RemoveContainer, at a failed create, and at a restart that frees a
// container whose state file is unreadable.
func TestImageVolumeInUserNamespacedPod(t *testing.T) {
	d := containerDaemon(t)
	imageID := mustPull(t, d, ctrImage)
	podID, pc := pod(t, d, "imgvol-userns", withUserNS, podPID)
	withVolume := func(sub string) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{
				Mode: runtimeapi.NamespaceMode_POD, Uids: usernsMapping, Gids: usernsMapping,
			}
			c.Mounts = []*runtimeapi.Mount{{
				ContainerPath: "/mnt/img", Readonly: true, ImageSubPath: sub,
				Image:       &runtimeapi.ImageSpec{Image: imageID, UserSpecifiedImage: ctrImage},
				UidMappings: usernsMapping, GidMappings: usernsMapping,
			}}
		}
	}
	volumes := func() []string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(d.Dir, "root", "overlay-containers", "containers.json"))
		if err != nil {
			t.Fatal(err)
		}
		var scs []struct{ ID string }
		if err := json.Unmarshal(b, &scs); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, sc := range scs {
			if strings.Contains(sc.ID, "-imgvol-") {
				ids = append(ids, sc.ID)
			}
		}
		return ids
	}

	id := run(t, d, podID, pc, ctrConfig("owner", []string{"sh", "-c",
		"stat -c owner=%u:%g /mnt/img/bin/busybox; touch /mnt/img/new 2>/dev/null && echo WRITABLE || echo read-only"}, withVolume("")))
	st := waitExited(t, d, id, 30*time.Second)
	out := strings.Join(logText(t, filepath.Join(pc.LogDirectory, "owner.log")), "\n")
	if st.ExitCode != 0 || !strings.Contains(out, "owner=0:0") || !strings.Contains(out, "read-only") {
		t.Errorf("image volume seen as %q (exit %d, %s); want owner=0:0, read-only", out, st.ExitCode, st.Message)
	}
	for _, m := range st.Mounts {
		if m.ContainerPath == "/mnt/img" && (m.GetImage().GetImageRef() != imageID || len(m.UidMappings) != 1) {
			t.Errorf("ContainerStatus mount %v; want image %s with the requested mappings", m, imageID)
		}
	}
	if v := volumes(); len(v) != 1 || v[0] != id+"-imgvol-0" {
		t.Errorf("image volume storage %v; want %s-imgvol-0", v, id)
	}
	assertNoLeaks(t, d, "with an image volume")
	d.Restart(syscall.SIGTERM)
	if v := volumes(); len(v) != 1 {
		t.Errorf("image volume storage after a restart: %v; want it kept", v)
	}
	assertNoLeaks(t, d, "with an image volume, after a restart")
	if _, err := d.Runtime.RemoveContainer(framework.Ctx(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if v := volumes(); len(v) != 0 {
		t.Errorf("image volume storage after RemoveContainer: %v", v)
	}

	_, err := d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("badsub", []string{"true"}, withVolume("no/such/dir"))})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "no/such/dir") {
		t.Errorf("missing image_sub_path: %v, want InvalidArgument naming it", err)
	}
	if v := volumes(); len(v) != 0 {
		t.Errorf("image volume storage after a failed create: %v", v)
	}

	lost := run(t, d, podID, pc, ctrConfig("lost", []string{"sleep", "3600"}, withVolume("etc")))
	d.Kill()
	if err := os.Truncate(filepath.Join(d.Dir, "root", "overlay-containers", lost, "userdata", "container.json"), 0); err != nil {
		t.Fatal(err)
	}
	d.Start()
	if v := volumes(); len(v) != 0 {
		t.Errorf("image volume storage of a container freed at restart: %v", v)
	}
	assertNoLeaks(t, d, "after freeing a container with an image volume at restart")
}
