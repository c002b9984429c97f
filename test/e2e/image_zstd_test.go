package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/test/framework"
)

// zstdChunkedAnnotations are the descriptor annotations that make a zstd
// layer zstd:chunked.
var zstdChunkedAnnotations = []string{
	testregistry.ZstdChunkedManifestChecksumAnnotation,
	testregistry.ZstdChunkedManifestPositionAnnotation,
	testregistry.ZstdChunkedTarSplitPositionAnnotation,
}

// servedLayers returns the layer descriptors of repo:tag's manifest as
// the registry at addr serves it.
func servedLayers(t *testing.T, addr, repoAndTag string) []layerDesc {
	t.Helper()
	repo, tag, _ := strings.Cut(repoAndTag, ":")
	m := manifestOf(t, addr, repo, tag)
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("%s is served as %s; want an OCI manifest", repoAndTag, m.MediaType)
	}
	return m.Layers
}

// pulledImageLine returns the daemon's "pulled image" log line for ref.
func pulledImageLine(d *framework.Daemon, ref string) string {
	for _, l := range strings.Split(d.Log(), "\n") {
		if strings.Contains(l, `msg="pulled image"`) && strings.Contains(l, " image="+ref+" ") {
			return l
		}
	}
	return ""
}

// TestPullAndRunZstdImages pulls the busybox rootfs compressed as zstd and
// as zstd:chunked, each into a daemon of its own (they share their layer,
// which a daemon that has one would not download again), checks that the
// layer was downloaded and that the daemon's direct pull stored it, runs a
// container from it, and removes everything again.
func TestPullAndRunZstdImages(t *testing.T) {
	requireRoot(t)
	reg := sharedRegistry(t)
	for _, tc := range []struct {
		image   string
		chunked bool
	}{
		{testregistry.ZstdBusyboxImage, false},
		{testregistry.ZstdChunkedBusyboxImage, true},
	} {
		t.Run(strings.TrimPrefix(tc.image, "crio-test/"), func(t *testing.T) {
			// The registry serves what the test means to pull.
			layers := servedLayers(t, reg.Addr, tc.image)
			if len(layers) != 1 || layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
				t.Fatalf("%s layers %+v; want one application/vnd.oci.image.layer.v1.tar+zstd", tc.image, layers)
			}
			for _, k := range zstdChunkedAnnotations {
				if has := layers[0].Annotations[k] != ""; has != tc.chunked {
					t.Fatalf("%s layer annotation %s present: %v; want %v", tc.image, k, has, tc.chunked)
				}
			}
			layerDigest := layers[0].Digest
			dgst, err := reg.Digest(tc.image)
			if err != nil {
				t.Fatal(err)
			}

			// Through a proxy that counts blob downloads: the layer must
			// have come over the wire, not from the store.
			px := startProxy(t, reg.Addr, 0)
			d := newImageDaemon(t, imageDaemonOptions{registry: px.Addr})
			ref := "docker.io/" + tc.image
			repo := strings.TrimSuffix(ref, ":latest")

			if s := imageStatus(t, d, ref, false); s.Image != nil {
				t.Fatalf("ImageStatus before the pull = %v; want Image=nil", s.Image)
			}
			id := mustPull(t, d, ref)
			if n := px.blobGets()[layerDigest]; n != 1 {
				t.Errorf("the zstd layer %s was downloaded %d times; want once", layerDigest, n)
			}
			s := checkPulled(t, d, ref, id, repo, dgst)
			var info struct {
				ImageSpec struct {
					Config struct {
						Cmd    []string
						Labels map[string]string
					}
				} `json:"imageSpec"`
			}
			if err := json.Unmarshal([]byte(s.Info["info"]), &info); err != nil || !slices.Equal(info.ImageSpec.Config.Cmd, []string{"sh"}) ||
				info.ImageSpec.Config.Labels["io.crio.testregistry.image"] != strings.TrimSuffix(strings.TrimPrefix(tc.image, "crio-test/"), ":latest") {
				t.Errorf("verbose info = %q (%v); want the image's config (Cmd sh, its label)", s.Info["info"], err)
			}

			// The direct pull (internal/image/pull_direct.go) took it, not
			// copy.Image: only it logs the fetch/decompress/commit split.
			line := pulledImageLine(d, ref)
			t.Logf("daemon: %s", line)
			for _, attr := range []string{" fetch=", " decompress=", " commit="} {
				if !strings.Contains(line, attr) {
					t.Errorf("the daemon's pulled-image line for %s lacks%s (not the direct pull?): %q", ref, attr, line)
				}
			}

			// A container from it runs busybox.
			pc := podConfig("zstd")
			pc.LogDirectory = filepath.Join(d.Dir, "podlogs", "zstd")
			resp, err := d.Runtime.RunPodSandbox(framework.Ctx(t), &runtimeapi.RunPodSandboxRequest{Config: pc})
			if err != nil {
				t.Fatalf("RunPodSandbox: %v", err)
			}
			podID := resp.PodSandboxId
			podGone := false
			t.Cleanup(func() {
				if !podGone {
					removePod(t, d, podID)
				}
			})
			c := ctrConfig("zstd-echo", []string{"sh", "-c", "echo zstd-ok; test -x /bin/busybox && test -s /etc/passwd"},
				func(c *runtimeapi.ContainerConfig) { c.Image = &runtimeapi.ImageSpec{Image: ref} })
			ctrID := run(t, d, podID, pc, c)
			st := waitExited(t, d, ctrID, 30*time.Second)
			if st.ExitCode != 0 || st.Reason != "Completed" {
				t.Errorf("exit %d reason %q; want 0 Completed", st.ExitCode, st.Reason)
			}
			if st.ImageId != id {
				t.Errorf("container image_id %s; want %s", st.ImageId, id)
			}
			if got := logText(t, filepath.Join(pc.LogDirectory, "zstd-echo.log")); !slices.Equal(got, []string{"zstd-ok"}) {
				t.Errorf("container log %q; want [zstd-ok]", got)
			}

			// Clean up, checking each step.
			ctx := framework.Ctx(t)
			if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ctrID}); err != nil {
				t.Errorf("RemoveContainer: %v", err)
			}
			if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
				t.Errorf("StopPodSandbox: %v", err)
			}
			if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
				t.Fatalf("RemovePodSandbox: %v", err)
			}
			podGone = true
			pods, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{Id: podID}})
			if err != nil || len(pods.Items) != 0 {
				t.Errorf("ListPodSandbox after RemovePodSandbox = %v, %v; want none", pods, err)
			}
			if _, err := d.Image.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
				t.Fatalf("RemoveImage(%s): %v", ref, err)
			}
			if s := imageStatus(t, d, id, false); s.Image != nil {
				t.Errorf("ImageStatus(%s) after RemoveImage = %v; want Image=nil", id, s.Image)
			}
		})
	}
}
