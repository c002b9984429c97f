// Package fuzz drives every RPC of the CRI (RuntimeService and
// ImageService) with Go native fuzzing against a real daemon: its own
// root, run root and socket, real runc, conmon and CNI (a loopback-only
// network), images from the loopback test registry.
//
//	go test ./test/fuzz/                                     # replays the corpus
//	go test -run '^$' -fuzz '^FuzzCRI$' -fuzztime 2m -fuzzminimizetime 10x -parallel 1 ./test/fuzz/
//
// (make fuzz runs it for FUZZTIME, 1h by default). The engine's own
// coverage is of this process only; see feedback for how answers of the
// daemon count as coverage.
//
// A failure is a crash (the daemon exits, or an RPC panics), a hang (an
// RPC that does not answer within its deadline), or a leftover: after
// every input the harness removes every pod, container and image the
// input made through the RPCs, then runs `crio check`, which must find
// nothing.
package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/internal/leakcheck"
	"github.com/crio/crio/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

const (
	// callTimeout is an RPC's deadline: an answer later than this is a hang.
	callTimeout = 4 * time.Second
	// callsBudget bounds all the calls of one input. The fuzzing engine
	// kills a worker whose input runs 10 s, and the cleanup and the leak
	// check come after the calls. A call cut short by this budget (given
	// less than callTimeout) ends the input; it is not a hang.
	callsBudget = 5 * time.Second
	// eventsWindow is how long GetContainerEvents, which never ends by
	// itself, is listened to: its DeadlineExceeded is expected.
	eventsWindow = 300 * time.Millisecond
	// maxStreamMsgs bounds the messages read from one streaming answer.
	maxStreamMsgs = 64
)

// The images the daemon has before every input, and the ones PullImage
// may name: small images of the loopback registry under names its
// registries.conf mirrors, plus one it does not have. Servers that bind
// ports (nginx, httpd) and the large pull images are left out.
var (
	baseImages = []string{"docker.io/library/busybox:latest", "registry.k8s.io/pause:3.10"}
	pullRepos  = []string{
		testregistry.BusyboxImage, testregistry.CrioTestBusyboxImage, testregistry.LibraryBusyboxImage,
		testregistry.PauseImage, testregistry.PauseImageCritest, testregistry.NoNewPrivsImage,
		testregistry.ZstdBusyboxImage, testregistry.ZstdChunkedBusyboxImage,
		"k8s-staging-cri-tools/test-image-1:latest", "k8s-staging-cri-tools/test-image-tags:2",
		"k8s-staging-cri-tools/test-image-user-uid-group:latest",
	}
)

// harness is the daemon of one fuzzing process and what every input
// shares.
type harness struct {
	d       *framework.Daemon
	bin     string // the crio binary, for crio check
	conn    *grpc.ClientConn
	sb      sandbox
	base    map[string]bool // image IDs of baseImages
	baseIDs []string
}

// isCoordinator says whether this process is the fuzzing engine's
// coordinator, which runs no input (its workers do, each running the
// fuzz target's setup for itself).
func isCoordinator() bool {
	fz, wk := flag.Lookup("test.fuzz"), flag.Lookup("test.fuzzworker")
	return fz != nil && fz.Value.String() != "" && (wk == nil || wk.Value.String() != "true")
}

// FuzzCRI decodes each input into a sequence of CRI calls (see decode)
// and sends them to one daemon per process.
func FuzzCRI(f *testing.F) {
	for _, s := range seeds() {
		f.Add(encode(s...))
	}
	if isCoordinator() {
		f.Fuzz(func(t *testing.T, _ []byte) { t.Fatal("the coordinator runs no inputs") })
		return
	}
	if testing.Short() {
		f.Skip("fuzzes a real daemon: not with -short")
	}
	if os.Geteuid() != 0 {
		f.Skip("needs root")
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, data []byte) { h.run(t, data) })
}

func newHarness(f *testing.F) *harness {
	reg, err := testregistry.Start(context.Background(), testregistry.Options{})
	if err != nil {
		f.Fatalf("starting the test registry: %v", err)
	}
	f.Cleanup(func() { reg.Close() })
	conf := f.TempDir()
	regConf, policy := filepath.Join(conf, "registries.conf"), filepath.Join(conf, "policy.json")
	if err := testregistry.WriteRegistriesConf(regConf, reg.Addr); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(policy, []byte(`{"default": [{"type": "insecureAcceptAnything"}]}`), 0o644); err != nil {
		f.Fatal(err)
	}
	// Info, not the framework's debug: a long run makes a lot of RPCs.
	d := framework.NewDaemon(f, framework.Options{Config: fmt.Sprintf(`
[crio.runtime]
log_level = "info"
# A checkpoint would write an archive wherever the input's location says,
# and a restore would read any host file the input names as its image.
enable_criu_support = false

[crio.image]
registries_conf = %q
signature_policy = %q
pause_image = "registry.k8s.io/pause:3.10"
`, regConf, policy)})
	cg := fmt.Sprintf("/crio-fuzz-%d", os.Getpid())
	f.Cleanup(func() { framework.RemoveCgroupTree(cg) })
	h := &harness{d: d, bin: framework.Binary(f), base: map[string]bool{}, sb: sandbox{
		Scratch:       filepath.Join(d.Dir, "fuzz-host"),
		CgroupParents: []string{cg + "/a", cg + "/b"},
	}}
	for _, r := range pullRepos {
		h.sb.PullImages = append(h.sb.PullImages, "registry.k8s.io/"+r, reg.Ref(r))
		if dg, err := reg.Digest(r); err == nil {
			h.sb.PullImages = append(h.sb.PullImages, "registry.k8s.io/"+r[:strings.LastIndexByte(r, ':')]+"@"+dg)
		}
	}
	h.sb.PullImages = append(h.sb.PullImages, reg.Ref("crio-fuzz/absent:latest"))
	h.conn, err = grpc.NewClient("unix://"+d.Socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		f.Fatal(err)
	}
	// Runs before the daemon stops (cleanups run last first): a stopped
	// daemon leaves its containers running.
	f.Cleanup(func() {
		if d.Running() {
			if err := h.removeAll(context.Background()); err != nil {
				f.Errorf("removing what the fuzzer left: %v", err)
			}
		}
		h.conn.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, ref := range baseImages {
		resp, err := d.Image.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err != nil {
			f.Fatalf("pulling %s: %v", ref, err)
		}
		h.base[resp.ImageRef] = true
		h.baseIDs = append(h.baseIDs, resp.ImageRef)
	}
	if err := h.waitNetworkReady(ctx); err != nil {
		f.Fatal(err)
	}
	if err := h.resetScratch(); err != nil {
		f.Fatal(err)
	}
	return h
}

func (h *harness) waitNetworkReady(ctx context.Context) error {
	for {
		resp, err := h.d.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
		if err == nil {
			for _, c := range resp.Status.Conditions {
				if c.Type == runtimeapi.NetworkReady && c.Status {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("NetworkReady did not become true: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// resetScratch makes the scratch directory (where every host path of a
// request points) what it is before each input: a directory, a file and
// an allow-all seccomp profile.
func (h *harness) resetScratch() error {
	s := h.sb.Scratch
	if err := os.RemoveAll(s); err != nil {
		return err
	}
	for _, p := range []string{"dir", "podlogs"} {
		if err := os.MkdirAll(filepath.Join(s, p), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(s, "file"), []byte("fuzz\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s, "seccomp.json"), []byte(`{"defaultAction": "SCMP_ACT_ALLOW"}`), 0o644)
}

// run sends one input's calls, then cleans up and checks.
func (h *harness) run(t *testing.T, data []byte) {
	if !h.d.Running() {
		t.Fatalf("the daemon is not running (an earlier input?)\n%s", h.d.LogTail(60))
	}
	calls := decode(data)
	o := &objects{images: append([]string(nil), h.baseIDs...)}
	budget := time.Now().Add(callsBudget)
	for i, c := range calls {
		h.sb.rewrite(c.Req, o)
		left := time.Until(budget)
		if left < 500*time.Millisecond {
			break
		}
		timeout := min(callTimeout, left)
		start := time.Now()
		err := h.send(c, timeout, o)
		t.Logf("%s: %v in %s", c.M.Name, err, time.Since(start).Round(time.Millisecond))
		feedback(fmt.Sprintf("%s %v", c.M.Name, err))
		if i > 0 {
			feedback(fmt.Sprintf("%s>%s %v", calls[i-1].M.Name, c.M.Name, status.Code(err)))
		}
		if err == nil {
			continue
		}
		what := func() string {
			return fmt.Sprintf("call %d of %d, %s {%s}", i+1, len(calls), c.M.Name, prototext.MarshalOptions{}.Format(c.Req))
		}
		st, _ := status.FromError(err)
		switch {
		case st.Code() == codes.DeadlineExceeded && timeout < callTimeout:
			// Cut short by the input's budget: the input ends here.
			t.Logf("%s: out of the input's time budget", what())
			goto cleanup
		case st.Code() == codes.DeadlineExceeded:
			t.Fatalf("hang: %s did not answer within %s\n--- crio log ---\n%s", what(), timeout, h.d.LogTail(40))
		case st.Code() == codes.Internal && strings.HasPrefix(st.Message(), "internal error in "):
			t.Fatalf("crash: %s panicked in the daemon: %s\n--- crio log ---\n%s", what(), st.Message(), h.d.LogTail(40))
		case st.Code() == codes.Internal && strings.Contains(st.Message(), "invalid image name"):
			t.Fatalf("%s: a malformed image name answered as the daemon's own failure (Internal), not InvalidArgument: %s", what(), st.Message())
		case !h.d.Running():
			t.Fatalf("crash: the daemon exited during %s: %v\n--- crio log ---\n%s", what(), err, h.d.LogTail(60))
		case st.Code() == codes.Unavailable || st.Code() == codes.Unknown:
			t.Fatalf("%s: %v (a transport failure, not an answer)\n--- crio log ---\n%s", what(), err, h.d.LogTail(40))
		}
	}
cleanup:
	h.check(t, data)
}

// send makes one call within timeout and records the IDs its answer names.
func (h *harness) send(c call, timeout time.Duration, o *objects) error {
	if c.M.Name == "GetContainerEvents" {
		timeout = eventsWindow
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !c.M.Stream {
		resp := c.M.Out.New().Interface()
		err := h.conn.Invoke(ctx, c.M.FullName, c.Req, resp)
		if err == nil {
			o.harvest(resp.ProtoReflect())
		}
		return err
	}
	cs, err := h.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, c.M.FullName)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(c.Req); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	for range maxStreamMsgs {
		resp := c.M.Out.New().Interface()
		err := cs.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if c.M.Name == "GetContainerEvents" && status.Code(err) == codes.DeadlineExceeded {
				return nil // the end of the window, as intended
			}
			return err
		}
		o.harvest(resp.ProtoReflect())
	}
	return nil // enough of it; cancel ends the stream
}

// check removes what the input made and fails when the daemon is gone,
// does not answer, or leaves anything behind.
func (h *harness) check(t *testing.T, data []byte) {
	if !h.d.Running() {
		t.Fatalf("crash: the daemon exited\n--- crio log ---\n%s", h.d.LogTail(60))
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if _, err := h.d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("the daemon does not answer Version after the input: %v\n--- crio log ---\n%s", err, h.d.LogTail(40))
	}
	if err := h.removeAll(ctx); err != nil {
		t.Fatalf("cleanup through the CRI: %v\n--- crio log ---\n%s", err, h.d.LogTail(40))
	}
	if leaks, err := h.leaks(); err != nil {
		t.Fatal(err)
	} else if len(leaks) > 0 {
		var b strings.Builder
		for _, l := range leaks {
			fmt.Fprintf(&b, "\n  %s", l)
		}
		t.Fatalf("leftover: crio check finds, after every pod was removed:%s\n--- crio log ---\n%s", b.String(), h.d.LogTail(40))
	}
	if err := h.resetScratch(); err != nil {
		t.Fatal(err)
	}
}

// removeAll stops and removes every pod and container, removes every
// image but the base ones and pulls those again if the input removed them.
func (h *harness) removeAll(ctx context.Context) error {
	rt, im := h.d.Runtime, h.d.Image
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("ListPodSandbox: %w", err)
	}
	for _, p := range pods.Items {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			return fmt.Errorf("StopPodSandbox %s: %w", p.Id, err)
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			return fmt.Errorf("RemovePodSandbox %s: %w", p.Id, err)
		}
	}
	ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return fmt.Errorf("ListContainers: %w", err)
	}
	if len(ctrs.Containers) > 0 {
		return fmt.Errorf("%d containers still listed after their pods were removed, the first %s of pod %s",
			len(ctrs.Containers), ctrs.Containers[0].Id, ctrs.Containers[0].PodSandboxId)
	}
	imgs, err := im.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return fmt.Errorf("ListImages: %w", err)
	}
	have := map[string]bool{}
	for _, i := range imgs.Images {
		if h.base[i.Id] {
			have[i.Id] = true
			continue
		}
		if _, err := im.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: i.Id}}); err != nil {
			return fmt.Errorf("RemoveImage %s %v: %w", i.Id, i.RepoTags, err)
		}
	}
	for i, id := range h.baseIDs {
		if have[id] {
			st, err := im.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: baseImages[i]}})
			if err == nil && st.Image != nil {
				continue // still tagged (an input may have untagged it)
			}
		}
		if _, err := im.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: baseImages[i]}}); err != nil {
			return fmt.Errorf("pulling %s again: %w", baseImages[i], err)
		}
	}
	return nil
}

// leaks runs `crio check` on the daemon's configuration with the
// fuzzer's cgroup parents.
func (h *harness) leaks() ([]leakcheck.Leak, error) {
	args := []string{"--config", h.d.Config, "--config-dir", h.d.DropIns, "check", "--json"}
	for _, p := range h.sb.CgroupParents {
		args = append(args, "--cgroup-parent", p)
	}
	cmd := exec.Command(h.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var leaks []leakcheck.Leak
	if jerr := json.Unmarshal(out.Bytes(), &leaks); jerr != nil {
		return nil, fmt.Errorf("crio check: %v: %s %s", err, out.String(), errb.String())
	}
	return leaks, nil
}
