package e2e

import (
	"os"
	"path/filepath"
	"strings"
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
