package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/test/framework"
)

func wantCode(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: got %v (code %s); want code %s", what, err, status.Code(err), code)
	}
}

func TestPullImageByTagAndByDigest(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	ref := reg.Ref(busybox)
	dgst, err := reg.Digest(busybox)
	if err != nil {
		t.Fatal(err)
	}

	if s := imageStatus(t, d, ref, false); s.Image != nil {
		t.Fatalf("ImageStatus before the pull = %v; want Image=nil", s.Image)
	}
	id := mustPull(t, d, ref)

	repo := strings.Split(ref, ":1.29-2")[0]
	s := checkPulled(t, d, ref, id, repo, dgst)
	var info struct {
		ImageSpec struct {
			Config struct{ Cmd []string }
			OS     string `json:"os"`
		} `json:"imageSpec"`
	}
	if err := json.Unmarshal([]byte(s.Info["info"]), &info); err != nil || info.ImageSpec.OS != "linux" || len(info.ImageSpec.Config.Cmd) == 0 {
		t.Errorf("verbose info = %q (%v); want the image config with os and Cmd", s.Info["info"], err)
	}

	// The same image by ID, by ID prefix, by "sha256:ID" and by repo digest.
	for _, name := range []string{id, id[:12], "sha256:" + id, repo + "@" + dgst} {
		if s := imageStatus(t, d, name, false); s.Image == nil || s.Image.Id != id {
			t.Errorf("ImageStatus(%s) = %v; want image %s", name, s.Image, id)
		}
	}

	// Pulling by digest gives the same image.
	if got := mustPull(t, d, repo+"@"+dgst); got != id {
		t.Errorf("pull by digest gave %s; want %s", got, id)
	}

	imgs := listImages(t, d)
	if len(imgs) != 1 || imgs[0].Id != id {
		t.Fatalf("ListImages = %v; want only %s", imgs, id)
	}
	filtered, err := d.Image.ListImages(framework.Ctx(t), &runtimeapi.ListImagesRequest{
		Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/absent:1"}},
	})
	if err != nil || len(filtered.Images) != 0 {
		t.Errorf("ListImages with a filter naming an absent image = %v, %v; want none", filtered, err)
	}
	filtered, err = d.Image.ListImages(framework.Ctx(t), &runtimeapi.ListImagesRequest{
		Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: ref}},
	})
	if err != nil || len(filtered.Images) != 1 || filtered.Images[0].Id != id {
		t.Errorf("ListImages filtered on %s = %v, %v; want the image", ref, filtered, err)
	}
}

func TestPullThroughMirrorKeepsTheRequestedName(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	id := mustPull(t, d, "registry.k8s.io/"+busybox)
	s := imageStatus(t, d, "registry.k8s.io/"+busybox, false)
	if s.Image == nil || s.Image.Id != id || !slices.Equal(s.Image.RepoTags, []string{"registry.k8s.io/" + busybox}) {
		t.Fatalf("ImageStatus = %v; want id %s tagged registry.k8s.io/%s", s.Image, id, busybox)
	}
	if s.Image.Pinned {
		t.Error("busybox is reported pinned")
	}

	// Short names go through unqualified-search-registries (docker.io).
	if _, err := pull(t, d, "crio-test/busybox", nil); err != nil {
		t.Fatalf("pulling a short name: %v", err)
	}
	if s := imageStatus(t, d, "docker.io/crio-test/busybox:latest", false); s.Image == nil {
		t.Error("short name crio-test/busybox was not stored as docker.io/crio-test/busybox:latest")
	}
}

func TestPinnedImagesAreReportedAndNeverRemoved(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{
		registry: reg.Addr,
		config:   `pinned_images = ["gcr.io/k8s-staging-cri-tools/test-image-user-*"]`,
	})
	pauseID := mustPull(t, d, "registry.k8s.io/"+pause)
	userID := mustPull(t, d, "gcr.io/"+userImage)
	otherID := mustPull(t, d, "registry.k8s.io/"+busybox)
	pinned := map[string]bool{}
	for _, img := range listImages(t, d) {
		pinned[img.Id] = img.Pinned
	}
	if !pinned[pauseID] || !pinned[userID] || pinned[otherID] {
		t.Fatalf("pinned flags = %v; want pause %s and user image %s pinned, busybox %s not", pinned, pauseID, userID, otherID)
	}
	for _, name := range []string{pauseID, "registry.k8s.io/" + pause, "gcr.io/" + userImage} {
		_, err := d.Image.RemoveImage(framework.Ctx(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: name}})
		wantCode(t, err, codes.FailedPrecondition, "RemoveImage of pinned "+name)
	}
	if s := imageStatus(t, d, pauseID, false); s.Image == nil {
		t.Fatal("the pause image is gone")
	}
	// uid / username come from the image config's User.
	if s := imageStatus(t, d, userID, false); s.Image.Username != "www-data" || s.Image.Uid != nil {
		t.Errorf("user image: username %q uid %v; want www-data and no uid", s.Image.Username, s.Image.Uid)
	}
	if s := imageStatus(t, d, pauseID, false); s.Image.Uid.GetValue() != 65535 || s.Image.Username != "" {
		t.Errorf("pause image: uid %v username %q; want uid 65535", s.Image.Uid, s.Image.Username)
	}
}

func TestPullWithCredentials(t *testing.T) {
	reg, err := testregistry.Start(framework.Ctx(t), testregistry.Options{
		BasicAuth: &testregistry.BasicAuth{Username: "alice", Password: "s3cret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	ref := reg.Ref(busybox)

	for what, auth := range map[string]*runtimeapi.AuthConfig{
		"no credentials":    nil,
		"a wrong password":  {Username: "alice", Password: "wrong"},
		"a wrong auth blob": {Auth: base64.StdEncoding.EncodeToString([]byte("alice:nope"))},
	} {
		_, err := pull(t, d, ref, auth)
		wantCode(t, err, codes.Unauthenticated, "pull with "+what)
		if imgs := listImages(t, d); len(imgs) != 0 {
			t.Fatalf("after a pull with %s, ListImages = %v; want nothing stored", what, imgs)
		}
	}
	if _, err := pull(t, d, ref, &runtimeapi.AuthConfig{Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatalf("pull with username/password: %v", err)
	}
	if _, err := pull(t, d, reg.Ref(pause), &runtimeapi.AuthConfig{Auth: base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))}); err != nil {
		t.Fatalf("pull with auth: %v", err)
	}
	if n := len(listImages(t, d)); n != 2 {
		t.Fatalf("%d images after two authenticated pulls; want 2", n)
	}
}

func TestPullFromUnreachableRegistryFailsClearly(t *testing.T) {
	reg := sharedRegistry(t)
	// A port nobody listens on, and a listener that never answers.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	d := newImageDaemon(t, imageDaemonOptions{
		registry: reg.Addr,
		extra: "[[registry]]\nlocation = \"" + deadAddr + "\"\ninsecure = true\n" +
			"[[registry]]\nlocation = \"" + silent.Addr().String() + "\"\ninsecure = true\n",
		config: `pull_progress_timeout = "2s"`,
	})

	start := time.Now()
	_, err = pull(t, d, deadAddr+"/x/y:1", nil)
	wantCode(t, err, codes.Unavailable, "pull from a closed port")
	if !strings.Contains(err.Error(), deadAddr) {
		t.Errorf("error %q does not name the registry", err)
	}

	_, err = pull(t, d, silent.Addr().String()+"/x/y:1", nil)
	wantCode(t, err, codes.DeadlineExceeded, "pull from a registry that never answers")
	if !strings.Contains(err.Error(), "no progress for 2s") {
		t.Errorf("error %q does not say the pull stalled", err)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("the failing pulls took %s; pull_progress_timeout is 2s", el)
	}

	_, err = pull(t, d, reg.Ref("no/such-image:1"), nil)
	wantCode(t, err, codes.NotFound, "pull of an image the registry lacks")
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Fatalf("failed pulls stored %v", imgs)
	}
}

func TestPullRefusedByPolicyOrBlockedRegistryStoresNothing(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{
		registry: reg.Addr,
		policy: `{"default": [{"type": "insecureAcceptAnything"}],
		  "transports": {"docker": {"registry.k8s.io/e2e-test-images": [{"type": "reject"}]}}}`,
		extra: "[[registry]]\nprefix = \"blocked.example\"\nlocation = \"blocked.example\"\nblocked = true\n",
	})
	_, err := pull(t, d, "registry.k8s.io/"+busybox, nil)
	wantCode(t, err, codes.PermissionDenied, "pull of an image the policy rejects")
	_, err = pull(t, d, "blocked.example/x:1", nil)
	wantCode(t, err, codes.PermissionDenied, "pull from a blocked registry")
	if !strings.Contains(err.Error(), "blocked") {
		t.Errorf("error %q does not say the registry is blocked", err)
	}
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Fatalf("refused pulls stored %v", imgs)
	}
	// The policy does not cover pause: it is accepted.
	mustPull(t, d, "registry.k8s.io/"+pause)
}

func TestConcurrentPullsOfOneImageDownloadOnce(t *testing.T) {
	reg := sharedRegistry(t)
	// Slow blobs make the two pulls overlap for certain.
	px := startProxy(t, reg.Addr, 300*time.Millisecond)
	d := newImageDaemon(t, imageDaemonOptions{registry: px.Addr})
	ref := "quay.io/" + multilayer

	var wg sync.WaitGroup
	ids := make([]string, 3)
	errs := make([]error, 3)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = pull(t, d, ref, nil)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("concurrent pull %d = %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	gets := px.blobGets()
	if len(gets) < 3 {
		t.Fatalf("only %d blobs fetched for a multi-layer image: %v", len(gets), gets)
	}
	for blob, n := range gets {
		if blob == "sha256:"+ids[0] {
			// The config: read once to vet it before the copy, once by the copy.
			if n > 2 {
				t.Errorf("config blob downloaded %d times; want at most twice for all concurrent pulls", n)
			}
			continue
		}
		if n != 1 {
			t.Errorf("layer blob %s downloaded %d times; want once for all concurrent pulls", blob, n)
		}
	}
	if !strings.Contains(d.Log(), "joining an in-flight pull") {
		t.Error("the daemon log does not show a pull joining the in-flight one")
	}
}

func TestRemoveImage(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	remove := func(name string) error {
		_, err := d.Image.RemoveImage(framework.Ctx(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: name}})
		return err
	}
	gone := func(name string) {
		t.Helper()
		if s := imageStatus(t, d, name, false); s.Image != nil {
			t.Fatalf("%s still present after RemoveImage: %v", name, s.Image)
		}
	}

	// By ID.
	id := mustPull(t, d, "registry.k8s.io/"+busybox)
	if err := remove(id); err != nil {
		t.Fatalf("RemoveImage by ID: %v", err)
	}
	gone("registry.k8s.io/" + busybox)

	// By tag: removes every tag of the image.
	t1, t2 := "gcr.io/"+tagsImage1, "gcr.io/"+tagsImage2
	id1, id2 := mustPull(t, d, t1), mustPull(t, d, t2)
	if id1 != id2 {
		t.Fatalf("%s and %s are one image in the registry but got IDs %s and %s", t1, t2, id1, id2)
	}
	if s := imageStatus(t, d, id1, false); len(s.Image.RepoTags) != 2 {
		t.Fatalf("RepoTags = %v; want both tags", s.Image.RepoTags)
	}
	if err := remove(t1); err != nil {
		t.Fatalf("RemoveImage by tag: %v", err)
	}
	gone(t2)
	gone(id1)

	// By repo digest.
	dgst, _ := reg.Digest(pause)
	mustPull(t, d, "registry.k8s.io/"+pause)
	byDigest := "registry.k8s.io/pause@" + dgst
	// The pause image is pinned in these daemons; use a daemon copy that is not.
	if err := remove(byDigest); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("RemoveImage of the pinned pause image by digest = %v; want FailedPrecondition", err)
	}
	mustPull(t, d, "registry.k8s.io/"+busybox)
	bbDigest, _ := reg.Digest(busybox)
	if err := remove("registry.k8s.io/e2e-test-images/busybox@" + bbDigest); err != nil {
		t.Fatalf("RemoveImage by digest: %v", err)
	}
	gone("registry.k8s.io/" + busybox)

	// Idempotent, and bad input is named.
	if err := remove(id); err != nil {
		t.Errorf("RemoveImage of an absent image = %v; want success", err)
	}
	wantCode(t, remove(""), codes.InvalidArgument, "RemoveImage with no name")
}

func TestImageFsInfoGrowsAfterPull(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	fsinfo := func() (bytes, inodes uint64, mount string) {
		t.Helper()
		resp, err := d.Image.ImageFsInfo(framework.Ctx(t), &runtimeapi.ImageFsInfoRequest{})
		if err != nil {
			t.Fatalf("ImageFsInfo: %v", err)
		}
		if len(resp.ImageFilesystems) != 1 || len(resp.ContainerFilesystems) != 1 {
			t.Fatalf("ImageFsInfo = %v; want one image and one container file system", resp)
		}
		f := resp.ImageFilesystems[0]
		if f.Timestamp == 0 || f.FsId.GetMountpoint() == "" {
			t.Fatalf("image fs %v lacks a timestamp or mountpoint", f)
		}
		return f.UsedBytes.GetValue(), f.InodesUsed.GetValue(), f.FsId.GetMountpoint()
	}
	b0, i0, mount := fsinfo()
	if !strings.HasPrefix(mount, d.Dir) {
		t.Errorf("mountpoint %s is not the daemon's storage root under %s", mount, d.Dir)
	}
	mustPull(t, d, "quay.io/"+multilayer)
	b1, i1, _ := fsinfo()
	size := imageStatus(t, d, "quay.io/"+multilayer, false).Image.Size
	if b1 <= b0 || i1 <= i0 {
		t.Fatalf("ImageFsInfo did not grow after a pull: bytes %d -> %d, inodes %d -> %d", b0, b1, i0, i1)
	}
	if b1-b0 < size/2 {
		t.Errorf("ImageFsInfo grew by %d bytes for an image of %d bytes", b1-b0, size)
	}
}

func TestStreamImagesReturnsEveryImageOnce(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	want := map[string]bool{}
	for _, n := range []string{busybox, pause, multilayer} {
		want[mustPull(t, d, "quay.io/"+n)] = true
	}
	stream, err := d.Image.StreamImages(framework.Ctx(t), &runtimeapi.StreamImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if status.Code(err) != codes.OK && err.Error() != "EOF" {
				t.Fatalf("StreamImages: %v", err)
			}
			break
		}
		if len(resp.Images) == 0 {
			t.Fatal("StreamImages sent an empty message")
		}
		for _, img := range resp.Images {
			got[img.Id]++
		}
	}
	if len(got) != len(want) {
		t.Fatalf("StreamImages gave %v; want %v", got, want)
	}
	for id, n := range got {
		if !want[id] || n != 1 {
			t.Errorf("image %s streamed %d times (expected: %v)", id, n, want[id])
		}
	}
}

func TestCrictlImageCommands(t *testing.T) {
	reg := sharedRegistry(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	run := func(args ...string) string {
		t.Helper()
		out, err := d.Crictl(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ref := "registry.k8s.io/" + busybox
	fsBefore := run("imagefsinfo", "-o", "json")

	if out := run("pull", ref); !strings.Contains(out, "Image is up to date for") {
		t.Errorf("crictl pull printed %q", out)
	}
	id := imageStatus(t, d, ref, false).Image.GetId()
	if id == "" {
		t.Fatal("the image crictl pulled is not in the store")
	}
	out := run("images")
	if !strings.Contains(out, "registry.k8s.io/e2e-test-images/busybox") || !strings.Contains(out, "1.29-2") || !strings.Contains(out, id[:13]) {
		t.Errorf("crictl images does not list the image:\n%s", out)
	}
	var inspect struct {
		Status struct {
			ID       string   `json:"id"`
			RepoTags []string `json:"repoTags"`
		} `json:"status"`
		Info struct {
			ImageSpec struct {
				OS string `json:"os"`
			} `json:"imageSpec"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(run("inspecti", ref)), &inspect); err != nil {
		t.Fatalf("crictl inspecti output: %v", err)
	}
	if inspect.Status.ID != id || !slices.Contains(inspect.Status.RepoTags, ref) || inspect.Info.ImageSpec.OS != "linux" {
		t.Errorf("crictl inspecti = %+v; want id %s, tag %s and the image config", inspect, id, ref)
	}

	usedBytes := func(js string) uint64 {
		var v struct {
			Status struct {
				ImageFilesystems []struct {
					UsedBytes struct {
						Value string `json:"value"`
					} `json:"usedBytes"`
				} `json:"imageFilesystems"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(js), &v); err != nil || len(v.Status.ImageFilesystems) != 1 {
			t.Fatalf("crictl imagefsinfo output %q: %v", js, err)
		}
		var n uint64
		for _, c := range v.Status.ImageFilesystems[0].UsedBytes.Value {
			n = n*10 + uint64(c-'0')
		}
		return n
	}
	if before, after := usedBytes(fsBefore), usedBytes(run("imagefsinfo", "-o", "json")); after <= before {
		t.Errorf("crictl imagefsinfo used bytes %d -> %d; want growth after a pull", before, after)
	}

	run("rmi", ref)
	if s := imageStatus(t, d, id, false); s.Image != nil {
		t.Fatalf("image still present after crictl rmi: %v", s.Image)
	}
	// rmi of the pinned pause image fails and says why.
	run("pull", "registry.k8s.io/"+pause)
	if _, err := d.Crictl("rmi", "registry.k8s.io/"+pause); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("crictl rmi of the pause image = %v; want a refusal naming the pin", err)
	}
}

func TestGlobalAuthFileIsUsed(t *testing.T) {
	reg, err := testregistry.Start(framework.Ctx(t), testregistry.Options{
		BasicAuth: &testregistry.BasicAuth{Username: "bob", Password: "pa55"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	authFile := filepath.Join(t.TempDir(), "auth.json")
	js := `{"auths": {"` + reg.Addr + `": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("bob:pa55")) + `"}}}`
	if err := os.WriteFile(authFile, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr, config: "global_auth_file = \"" + authFile + "\""})
	if _, err := pull(t, d, reg.Ref(busybox), nil); err != nil {
		t.Fatalf("pull with credentials from global_auth_file: %v", err)
	}
	// Credentials in the request win over the file.
	_, err = pull(t, d, reg.Ref(pause), &runtimeapi.AuthConfig{Username: "bob", Password: "wrong"})
	wantCode(t, err, codes.Unauthenticated, "pull with wrong request credentials")
}

func TestImageConfigReloadsOnSIGHUP(t *testing.T) {
	reg := sharedRegistry(t)
	confDir := t.TempDir()
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr, confDir: confDir})
	mustPull(t, d, "quay.io/crio-test/busybox:latest")
	ref := "registry.k8s.io/" + busybox
	id := mustPull(t, d, ref)
	if imageStatus(t, d, id, false).Image.Pinned {
		t.Fatal("busybox pinned before any pinned_images is configured")
	}
	d.WriteDropIn("50-pin.conf", "[crio.image]\npinned_images = [\"registry.k8s.io/e2e-test-images/*\"]\n")
	// registries.conf edited in place: quay.io becomes blocked.
	regConf := filepath.Join(confDir, "registries.conf")
	b, err := os.ReadFile(regConf)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "location = \"quay.io\"\n", "location = \"quay.io\"\nblocked = true\n", 1)
	if edited == string(b) {
		t.Fatalf("no quay.io entry to block in %s", b)
	}
	if err := os.WriteFile(regConf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	if !d.WaitLog("crio.image.pinned_images", 10*time.Second) {
		t.Fatal("the daemon did not log the reload of pinned_images")
	}
	if !imageStatus(t, d, id, false).Image.Pinned {
		t.Fatal("busybox not pinned after pinned_images was reloaded")
	}
	_, err = d.Image.RemoveImage(framework.Ctx(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	wantCode(t, err, codes.FailedPrecondition, "RemoveImage of an image pinned by reload")
	_, err = pull(t, d, "quay.io/"+busybox, nil)
	wantCode(t, err, codes.PermissionDenied, "pull from a registry blocked by the reloaded registries.conf")
}

// pushImage pushes a small random image with config c to the registry.
func pushImage(t *testing.T, addr, repoTag string, c v1.Config) {
	t.Helper()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = runtime.GOOS, runtime.GOARCH, c
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

func TestPullRefusesHostileImageConfig(t *testing.T) {
	reg := sharedRegistry(t)
	vols := map[string]struct{}{}
	for i := range 1000 {
		vols[fmt.Sprintf("/v%d", i)] = struct{}{}
	}
	cases := []struct {
		repo string
		cfg  v1.Config
		want string
	}{
		{"crio-test/hostile-uid:1", v1.Config{User: "4294967295"}, "User"},
		{"crio-test/hostile-volumes:1", v1.Config{Volumes: vols}, "Volumes has 1000 entries"},
		{"crio-test/hostile-env:1", v1.Config{Env: []string{"A=" + strings.Repeat("x", 200<<10)}}, "Env[0]"},
	}
	for _, tc := range cases {
		pushImage(t, reg.Addr, tc.repo, tc.cfg)
	}
	d := newImageDaemon(t, imageDaemonOptions{registry: reg.Addr})
	for _, tc := range cases {
		_, err := pull(t, d, reg.Ref(tc.repo), nil)
		wantCode(t, err, codes.FailedPrecondition, "pull of "+tc.repo)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pull of %s: error %q does not name %q", tc.repo, err, tc.want)
		}
	}
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Fatalf("refused images were stored: %v", imgs)
	}
}

func TestCancelledPullLeavesNoImage(t *testing.T) {
	reg := sharedRegistry(t)
	px := startProxy(t, reg.Addr, 3*time.Second)
	d := newImageDaemon(t, imageDaemonOptions{registry: px.Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := d.Image.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "quay.io/" + multilayer}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("pull with a 1.5s deadline through a slow registry = %v; want DeadlineExceeded", err)
	}
	// The pull runs on in the daemon until it sees nobody waits for it;
	// give it the time of one slow blob to wind down.
	if !d.WaitLog("pull of quay.io/"+multilayer+" cancelled: every caller gave up", 10*time.Second) {
		t.Error("the daemon did not log the cancellation of the abandoned pull")
	}
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Fatalf("a cancelled pull left images: %v", imgs)
	}
	// Nothing half-written gets in the way of the next pull.
	px.delay.Store(0)
	mustPull(t, d, "quay.io/"+multilayer)
}

func TestPullStalledMidDownloadIsCancelled(t *testing.T) {
	reg := sharedRegistry(t)
	// Manifests come at once; every blob hangs far longer than the timeout.
	px := startProxy(t, reg.Addr, time.Minute)
	d := newImageDaemon(t, imageDaemonOptions{registry: px.Addr, config: `pull_progress_timeout = "2s"`})
	start := time.Now()
	_, err := pull(t, d, "quay.io/"+multilayer, nil)
	wantCode(t, err, codes.DeadlineExceeded, "pull whose blobs never arrive")
	if !strings.Contains(err.Error(), "no progress for 2s") || !strings.Contains(err.Error(), "pull_progress_timeout") {
		t.Errorf("error %q does not say the pull stalled past pull_progress_timeout", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("stalled pull took %s to fail with a 2s pull_progress_timeout", el)
	}
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Fatalf("a stalled pull left images: %v", imgs)
	}
}

func TestRemoveImageUsedByContainerIsRefused(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "rmi-in-use")
	ctrID := create(t, d, podID, pc, ctrConfig("holder", []string{"sleep", "1000"}))
	imgID := imageStatus(t, d, ctrImage, false).Image.GetId()

	for _, name := range []string{ctrImage, imgID} {
		_, err := d.Image.RemoveImage(framework.Ctx(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: name}})
		wantCode(t, err, codes.FailedPrecondition, "RemoveImage of "+name+" while a container uses it")
		if !strings.Contains(err.Error(), ctrID) {
			t.Errorf("refusal %q does not name container %s", err, ctrID)
		}
	}
	if s := imageStatus(t, d, imgID, false); s.Image == nil {
		t.Fatal("the image in use is gone")
	}

	if _, err := d.Runtime.RemoveContainer(framework.Ctx(t), &runtimeapi.RemoveContainerRequest{ContainerId: ctrID}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Image.RemoveImage(framework.Ctx(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ctrImage}}); err != nil {
		t.Fatalf("RemoveImage once the container is removed: %v", err)
	}
	if s := imageStatus(t, d, imgID, false); s.Image != nil {
		t.Fatal("image still present after RemoveImage")
	}
}

func TestImageFsInfoCountsContainerWrites(t *testing.T) {
	d := containerDaemon(t)
	ctrBytes := func() uint64 {
		resp, err := d.Image.ImageFsInfo(framework.Ctx(t), &runtimeapi.ImageFsInfoRequest{})
		if err != nil {
			t.Fatalf("ImageFsInfo: %v", err)
		}
		return resp.ContainerFilesystems[0].UsedBytes.GetValue()
	}
	before := ctrBytes()
	podID, pc := pod(t, d, "fsinfo-writes")
	run(t, d, podID, pc, ctrConfig("writer", []string{"sh", "-c", "dd if=/dev/zero of=/big bs=1048576 count=8 && sleep 1000"}))
	deadline := time.Now().Add(30 * time.Second)
	for {
		after := ctrBytes()
		if after >= before+8<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container file system used bytes %d -> %d after a container wrote 8 MiB", before, after)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestShortNameResolutionFollowsShortNameMode(t *testing.T) {
	reg := sharedRegistry(t)
	twoSearch := func(t *testing.T, mode string) *framework.Daemon {
		return newImageDaemon(t, imageDaemonOptions{
			registry: reg.Addr,
			config:   "short_name_mode = \"" + mode + "\"",
			editRegistries: func(conf string) string {
				return strings.Replace(conf, `unqualified-search-registries = ["docker.io"]`, `unqualified-search-registries = ["quay.io", "docker.io"]`, 1)
			},
		})
	}

	t.Run("enforcing refuses an ambiguous name", func(t *testing.T) {
		d := twoSearch(t, "enforcing")
		_, err := pull(t, d, "crio-test/busybox", nil)
		wantCode(t, err, codes.InvalidArgument, "pull of an ambiguous short name in enforcing mode")
		if imgs := listImages(t, d); len(imgs) != 0 {
			t.Fatalf("an ambiguous short name stored %v", imgs)
		}
		// A fully-qualified name is never ambiguous.
		mustPull(t, d, "docker.io/crio-test/busybox:latest")
	})
	t.Run("disabled tries the search registries in order", func(t *testing.T) {
		d := twoSearch(t, "disabled")
		id := mustPull(t, d, "crio-test/busybox")
		s := imageStatus(t, d, id, false)
		if !slices.Equal(s.Image.RepoTags, []string{"quay.io/crio-test/busybox:latest"}) {
			t.Errorf("RepoTags = %v; want the first search registry's quay.io/crio-test/busybox:latest", s.Image.RepoTags)
		}
		// Status and removal resolve the short name the same way.
		if s := imageStatus(t, d, "crio-test/busybox", false); s.Image.GetId() != id {
			t.Errorf("ImageStatus of the short name = %v; want %s", s.Image, id)
		}
	})
}
