package e2e

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/checkpoint"
	"github.com/crio/crio/test/framework"
)

// podCounterCmd counts in the shell's memory, one number a log line,
// and writes each number to /data/NAME too (the pod's host directory).
func podCounterCmd(name string) []string {
	return []string{"sh", "-c", "echo written-before > /marker; i=0; while :; do i=$((i+1)); echo $i; echo $i > /data/" + name + "; sleep 0.2; done"}
}

// podCounterConfig is a counter in the pod's PID namespace with the
// host directory shared at /data.
func podCounterConfig(name, shared string) *runtimeapi.ContainerConfig {
	return ctrConfig(name, podCounterCmd(name), func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
		c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: shared}}
	})
}

// pidNS is the PID namespace a container's processes see.
func pidNS(t *testing.T, d *framework.Daemon, id string) string {
	t.Helper()
	r, err := d.Runtime.ExecSync(framework.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"readlink", "/proc/self/ns/pid"}, Timeout: 60})
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("readlink /proc/self/ns/pid in %s: %v %q %q", id, err, r.GetStdout(), r.GetStderr())
	}
	return strings.TrimSpace(string(r.Stdout))
}

// dirDigest names each file under dir with its SHA-256: equal digests
// say the tree was not modified.
func dirDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestCheckpointPodRestorePodContinuesCountingInSharedPIDNamespace(t *testing.T) {
	requireCRIU(t)
	d := containerDaemon(t)
	// Not framework.Ctx's 2 minutes: two dumps and two restores take
	// minutes under the VM's emulation.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	shared := filepath.Join(d.Dir, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	srcID, sc := pod(t, d, "podckpt-src", podPID)
	names := []string{"alpha", "beta"}
	var ids []string
	for _, n := range names {
		ids = append(ids, run(t, d, srcID, sc, podCounterConfig(n, shared)))
	}
	if a, b := pidNS(t, d, ids[0]), pidNS(t, d, ids[1]); a != b {
		t.Fatalf("the pod's containers are in PID namespaces %s and %s, want one", a, b)
	}
	srcLog := func(n string) string { return filepath.Join(sc.LogDirectory, n+".log") }
	atCall := map[string]int{}
	for _, n := range names {
		c := waitCounted(t, srcLog(n), 5, 2*time.Minute)
		atCall[n] = c[len(c)-1]
	}

	out := filepath.Join(d.Dir, "pod-ckpt")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := d.Runtime.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{PodSandboxId: srcID, OutputPath: out, ContainerIds: ids}); err != nil {
		t.Fatalf("CheckpointPod: %v", err)
	}
	ckptTime := time.Since(t0)
	atReturn := map[string]int{}
	for i, n := range names {
		c := counted(t, srcLog(n))
		atReturn[n] = c[len(c)-1]
		if st := ctrStatus(t, d, ids[i]).Status.State; st != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("%s is %s after CheckpointPod, want RUNNING", n, st)
		}
		// Resumed, not left frozen: it counts on.
		waitCounted(t, srcLog(n), len(c)+2, 2*time.Minute)
	}
	got := dirNames(t, out)
	want := []string{checkpoint.ArchiveName(0), checkpoint.ArchiveName(1), checkpoint.PodManifestFile}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("the checkpoint directory holds %v, want %v", got, want)
	}
	var size int64
	for _, n := range got {
		if fi, err := os.Stat(filepath.Join(out, n)); err == nil {
			size += fi.Size()
		}
	}
	man, err := checkpoint.ReadPodManifest(out)
	if err != nil {
		t.Fatalf("reading the manifest: %v", err)
	}
	if len(man.Containers) != 2 || man.Containers[0].Name != "alpha" || man.Containers[1].Name != "beta" || man.SandboxID != srcID {
		t.Errorf("manifest %+v, want alpha and beta of %s in order", man, srcID)
	}
	digest := dirDigest(t, out)

	// The source pod goes; the checkpoint restores into a new one.
	removePod(t, d, srcID)
	dc := podConfig("podckpt-dst", podPID)
	dc.LogDirectory = filepath.Join(d.Dir, "podlogs", "podckpt-dst")
	t1 := time.Now()
	resp, err := d.Runtime.RestorePod(ctx, &runtimeapi.RestorePodRequest{CheckpointPath: out, Config: dc,
		ContainerConfigs: []*runtimeapi.ContainerConfig{podCounterConfig("beta", shared), podCounterConfig("alpha", shared)}})
	if err != nil {
		t.Fatalf("RestorePod: %v", err)
	}
	restorePodTime := time.Since(t1)
	dstID := resp.PodSandboxId
	t.Cleanup(func() { removePod(t, d, dstID) })
	if dstID == "" || dstID == srcID || len(resp.RestoredContainers) != 2 {
		t.Fatalf("RestorePod = %v, want a new sandbox and two containers", resp)
	}
	restored := map[string]string{}
	for _, rc := range resp.RestoredContainers {
		restored[rc.Name] = rc.ContainerId
		if st := ctrStatus(t, d, rc.ContainerId).Status; st.State != runtimeapi.ContainerState_CONTAINER_CREATED || st.Metadata.GetName() != rc.Name {
			t.Errorf("restored %s (%s) is %s named %q, want CREATED", rc.Name, rc.ContainerId, st.State, st.Metadata.GetName())
		}
	}
	if len(restored) != 2 || restored["alpha"] == "" || restored["beta"] == "" {
		t.Fatalf("RestorePod's containers %v, want alpha and beta", resp.RestoredContainers)
	}
	t2 := time.Now()
	for _, n := range names {
		start(t, d, restored[n])
	}
	startTime := time.Since(t2)
	for _, n := range names {
		got := waitCounted(t, filepath.Join(dc.LogDirectory, n+".log"), 3, 2*time.Minute)
		t.Logf("%s counted %d at CheckpointPod's call, %d at its return; restored counting %v", n, atCall[n], atReturn[n], got)
		if got[0] <= atCall[n] || got[0] > atReturn[n]+1 {
			t.Errorf("restored %s counted %v, want it to go on from the checkpoint (between %d and %d), not from 1", n, got, atCall[n]+1, atReturn[n]+1)
		}
		for i := 1; i < len(got); i++ {
			if got[i] != got[i-1]+1 {
				t.Errorf("restored %s's counting %v is not consecutive", n, got)
				break
			}
		}
		b, err := os.ReadFile(filepath.Join(shared, n))
		if v, _ := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || v <= atCall[n] {
			t.Errorf("restored %s wrote %q (%v) to the host directory, want a number past %d", n, b, err, atCall[n])
		}
		r, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: restored[n], Cmd: []string{"cat", "/marker"}, Timeout: 60})
		if err != nil || strings.TrimSpace(string(r.Stdout)) != "written-before" {
			t.Errorf("%s: the file written before the checkpoint: %v %q %q", n, err, r.GetStdout(), r.GetStderr())
		}
	}
	if a, b := pidNS(t, d, restored["alpha"]), pidNS(t, d, restored["beta"]); a != b {
		t.Errorf("restored containers are in PID namespaces %s and %s, want the new pod's one", a, b)
	}
	if after := dirDigest(t, out); !mapsEqual(after, digest) {
		t.Errorf("RestorePod modified the checkpoint: %v, was %v", after, digest)
	}
	t.Logf("CheckpointPod %v (%d bytes); RestorePod %v, StartContainer x2 %v",
		ckptTime.Round(time.Millisecond), size, restorePodTime.Round(time.Millisecond), startTime.Round(time.Millisecond))
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// fakePodCheckpoint writes a pod checkpoint directory whose archives hold
// only the CRI config (no CRIU images): enough for RestorePod's checks of
// the request, not for a restore.
func fakePodCheckpoint(t *testing.T, dir string, cfgs ...*runtimeapi.ContainerConfig) {
	t.Helper()
	man := &checkpoint.PodManifest{Version: checkpoint.PodManifestVersion, SandboxID: "fake", Handler: "runc", Sandbox: json.RawMessage("{}")}
	for i, c := range cfgs {
		name := checkpoint.ArchiveName(i)
		b, err := protojson.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(f)
		tw.WriteHeader(&tar.Header{Name: checkpoint.CRIConfigFile, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		man.Containers = append(man.Containers, checkpoint.PodContainer{Name: c.Metadata.Name, ID: "fake-" + c.Metadata.Name, Archive: name})
	}
	if err := checkpoint.WritePodManifest(dir, man); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointPodRestorePodRefuseBadRequestsLeavingNothing(t *testing.T) {
	d := containerDaemon(t)
	ctx := framework.Ctx(t)
	podID, pc := pod(t, d, "podckpt-bad", podPID)
	sleeper := []string{"sleep", "3600"}
	pidPod := func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	}
	a := run(t, d, podID, pc, ctrConfig("a", sleeper, pidPod))
	created := create(t, d, podID, pc, ctrConfig("created", sleeper, pidPod))
	otherID, oc := pod(t, d, "podckpt-other")
	other := run(t, d, otherID, oc, ctrConfig("other", sleeper))

	out := filepath.Join(d.Dir, "out")
	os.Mkdir(out, 0o700)
	full := filepath.Join(d.Dir, "full")
	os.Mkdir(full, 0o700)
	os.WriteFile(filepath.Join(full, "mine"), []byte("mine"), 0o600)
	file := filepath.Join(d.Dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o600)

	why := criuCheck()
	for _, tc := range []struct {
		name string
		req  *runtimeapi.CheckpointPodRequest
		code codes.Code
		says string
	}{
		{"no containers", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out}, codes.InvalidArgument, "container_ids is empty"},
		{"duplicate", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{a, a}}, codes.InvalidArgument, "twice"},
		{"unknown container", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{a, "0123456789abcdef"}}, codes.NotFound, "0123456789abcdef"},
		{"unknown pod", &runtimeapi.CheckpointPodRequest{PodSandboxId: "0123456789abcdef", OutputPath: out, ContainerIds: []string{a}}, codes.NotFound, "0123456789abcdef"},
		{"another pod's container", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{a, other}}, codes.InvalidArgument, "belongs to pod sandbox " + otherID},
		{"not running", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{a, created}}, codes.FailedPrecondition, "not RUNNING"},
		{"relative output", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: "out", ContainerIds: []string{a}}, codes.InvalidArgument, "absolute"},
		{"missing output", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out + "-missing", ContainerIds: []string{a}}, codes.InvalidArgument, "the caller makes the directory"},
		{"output not empty", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: full, ContainerIds: []string{a}}, codes.InvalidArgument, "not empty"},
		{"output a file", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: file, ContainerIds: []string{a}}, codes.InvalidArgument, "not a directory"},
		{"options", &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{a}, Options: map[string]string{"leave": "frozen"}}, codes.InvalidArgument, `option "leave" is not supported`},
	} {
		_, err := d.Runtime.CheckpointPod(ctx, tc.req)
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("CheckpointPod (%s) = %v, want %s saying %q", tc.name, err, tc.code, tc.says)
		}
	}
	if why != nil {
		_, err := d.Runtime.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{a}})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu check") {
			t.Errorf("CheckpointPod where criu check fails = %v, want FailedPrecondition quoting criu check", err)
		}
	}
	if n := dirNames(t, out); len(n) > 0 {
		t.Errorf("refused CheckpointPods left %v in the output directory", n)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "mine")); string(b) != "mine" || len(dirNames(t, full)) != 1 {
		t.Errorf("the non-empty output directory was changed: %v", dirNames(t, full))
	}
	if st := ctrStatus(t, d, a).Status.State; st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("container a is %s after the refusals, want RUNNING", st)
	}
	// Not left frozen: a frozen container cannot run an exec.
	if r, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: a, Cmd: []string{"echo", "thawed"}, Timeout: 60}); err != nil || strings.TrimSpace(string(r.Stdout)) != "thawed" {
		t.Errorf("exec in container a after the refusals: %v %q", err, r.GetStdout())
	}

	// RestorePod, against a checkpoint directory holding alpha and beta.
	ckpt := filepath.Join(d.Dir, "ckpt")
	os.Mkdir(ckpt, 0o700)
	alpha, beta := ctrConfig("alpha", sleeper, pidPod), ctrConfig("beta", sleeper, pidPod)
	fakePodCheckpoint(t, ckpt, alpha, beta)
	digest := dirDigest(t, ckpt)
	noManifest := filepath.Join(d.Dir, "no-manifest")
	os.Mkdir(noManifest, 0o700)
	newPod := func() *runtimeapi.PodSandboxConfig { return podConfig("podckpt-restored", podPID) }
	withImage := func(c *runtimeapi.ContainerConfig, img string) *runtimeapi.ContainerConfig {
		c.Image.Image = img
		return c
	}
	sandboxesBefore, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	containersBefore, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	cfgs := func(c ...*runtimeapi.ContainerConfig) []*runtimeapi.ContainerConfig { return c }
	for _, tc := range []struct {
		name string
		req  *runtimeapi.RestorePodRequest
		code codes.Code
		says string
	}{
		{"relative path", &runtimeapi.RestorePodRequest{CheckpointPath: "ckpt", Config: newPod(), ContainerConfigs: cfgs(alpha, beta)}, codes.InvalidArgument, "absolute"},
		{"missing path", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt + "-missing", Config: newPod(), ContainerConfigs: cfgs(alpha, beta)}, codes.NotFound, "does not exist"},
		{"no manifest", &runtimeapi.RestorePodRequest{CheckpointPath: noManifest, Config: newPod(), ContainerConfigs: cfgs(alpha, beta)}, codes.InvalidArgument, "not a pod checkpoint"},
		{"no config", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, ContainerConfigs: cfgs(alpha, beta)}, codes.InvalidArgument, "config"},
		{"options", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(alpha, beta), Options: map[string]string{"x": "y"}}, codes.InvalidArgument, `option "x" is not supported`},
		{"no container configs", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod()}, codes.InvalidArgument, "container_configs is empty"},
		{"duplicate name", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(alpha, beta, ctrConfig("beta", sleeper))}, codes.InvalidArgument, `"beta" twice`},
		{"missing container", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(alpha)}, codes.InvalidArgument, `missing ["beta"]`},
		{"extra container", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(alpha, beta, ctrConfig("gamma", sleeper))}, codes.InvalidArgument, `not in the checkpoint ["gamma"]`},
		{"other image", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(alpha, withImage(ctrConfig("beta", sleeper, pidPod), "docker.io/library/alpine:latest"))}, codes.InvalidArgument, "checkpointed on"},
		{"other command", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(ctrConfig("alpha", []string{"sleep", "1"}, pidPod), beta)}, codes.InvalidArgument, "the checkpointed one ran"},
		{"unknown handler", &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(alpha, beta), RuntimeHandler: "no-such-handler"}, codes.InvalidArgument, "no-such-handler"},
	} {
		_, err := d.Runtime.RestorePod(ctx, tc.req)
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("RestorePod (%s) = %v, want %s saying %q", tc.name, err, tc.code, tc.says)
		}
	}
	// A request that passes the checks: refused where CRIU does not
	// work; where it does, its archives (no CRIU images) fail after the
	// sandbox was made, which must then be removed.
	_, err = d.Runtime.RestorePod(ctx, &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: newPod(), ContainerConfigs: cfgs(alpha, beta)})
	switch {
	case why != nil && (status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu check")):
		t.Errorf("RestorePod where criu check fails = %v, want FailedPrecondition quoting criu check", err)
	case why == nil && (status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "container alpha")):
		t.Errorf("RestorePod of archives without CRIU images = %v, want InvalidArgument naming container alpha", err)
	}
	sandboxesAfter, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	containersAfter, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sandboxesAfter.Items) != len(sandboxesBefore.Items) || len(containersAfter.Containers) != len(containersBefore.Containers) {
		t.Errorf("refused RestorePods left sandboxes %v, containers %v (were %d and %d)", sandboxesAfter.Items, containersAfter.Containers, len(sandboxesBefore.Items), len(containersBefore.Containers))
	}
	if after := dirDigest(t, ckpt); !mapsEqual(after, digest) {
		t.Errorf("RestorePod modified the checkpoint directory: %v, was %v", after, digest)
	}
}

func TestCheckpointPodRestorePodRefusedWithCRIUSupportOff(t *testing.T) {
	requireRoot(t)
	d := newImageDaemon(t, imageDaemonOptions{registry: sharedRegistry(t).Addr, config: "[crio.runtime]\nenable_criu_support = false\n"})
	mustPull(t, d, ctrImage)
	ctx := framework.Ctx(t)
	podID, pc := pod(t, d, "podckpt-off", podPID)
	a := run(t, d, podID, pc, ctrConfig("a", []string{"sleep", "3600"}, func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	}))
	out := filepath.Join(d.Dir, "out")
	os.Mkdir(out, 0o700)
	_, err := d.Runtime.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{a}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "enable_criu_support") {
		t.Errorf("CheckpointPod with enable_criu_support off = %v, want FailedPrecondition naming it", err)
	}
	if n := dirNames(t, out); len(n) > 0 {
		t.Errorf("the refused CheckpointPod left %v", n)
	}
	ckpt := filepath.Join(d.Dir, "ckpt")
	os.Mkdir(ckpt, 0o700)
	alpha := ctrConfig("alpha", []string{"sleep", "3600"})
	fakePodCheckpoint(t, ckpt, alpha)
	_, err = d.Runtime.RestorePod(ctx, &runtimeapi.RestorePodRequest{CheckpointPath: ckpt, Config: podConfig("podckpt-off-r"), ContainerConfigs: []*runtimeapi.ContainerConfig{alpha}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "enable_criu_support") {
		t.Errorf("RestorePod with enable_criu_support off = %v, want FailedPrecondition naming it", err)
	}
	l, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(l.Items) != 1 {
		t.Errorf("after the refusals the daemon has sandboxes %v (%v), want only the first pod", l.GetItems(), err)
	}
}
