package e2e

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
	"github.com/crio/crio/internal/checkpoint"
	"github.com/crio/crio/test/framework"
)

// criuCheck runs `criu check` as the daemon does: nil when CRIU can
// checkpoint on this host. Debian's CRIU 3.17.1 fails it on 6.18
// kernels ("vdso: Failed to fill self vdso symtable"); Debian 12's 6.1
// kernel (the VM, hack/vm.sh) passes.
func criuCheck() error {
	out, err := exec.Command("criu", "check").CombinedOutput()
	if err != nil {
		return fmt.Errorf("criu check: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func requireCRIU(t testing.TB) {
	t.Helper()
	if err := criuCheck(); err != nil {
		t.Skipf("CRIU cannot checkpoint on this host (run it in the VM: VM_INSTANCE=criu hack/vm.sh e2e -test.run Checkpoint): %v", err)
	}
}

// counterCmd counts in the shell's memory, one number a line, after
// writing a file into the container's rootfs.
func counterCmd(extra string) []string {
	return []string{"sh", "-c", extra + "echo written-before > /marker; i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done"}
}

// counted returns the numbers a counter logged.
func counted(t *testing.T, path string) []int {
	t.Helper()
	var out []int
	for _, l := range logText(t, path) {
		if n, err := strconv.Atoi(strings.TrimSpace(l)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func waitCounted(t *testing.T, path string, n int, within time.Duration) []int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			if c := counted(t, path); len(c) >= n {
				return c
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s has fewer than %d numbers after %v: %q", path, n, within, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCheckpointRefusedWhereCRIUCheckFails(t *testing.T) {
	why := criuCheck()
	if why == nil {
		t.Skip("criu check passes here; TestCheckpointRestoreContainerContinuesCounting covers this host")
	}
	d := containerDaemon(t)
	ctx := framework.Ctx(t)
	podID, pc := pod(t, d, "ckpt-refused")
	id := run(t, d, podID, pc, ctrConfig("counter", counterCmd("")))
	location := filepath.Join(d.Dir, "refused.tar")
	_, err := d.Runtime.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: id, Location: location, Timeout: 30})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu check") {
		t.Errorf("CheckpointContainer = %v, want FailedPrecondition quoting criu check", err)
	}
	if _, err := os.Lstat(location); err == nil {
		t.Errorf("%s was written", location)
	}
	if ents, _ := filepath.Glob(location + "*"); len(ents) > 0 {
		t.Errorf("left beside the location: %v", ents)
	}
	// A restore from an archive path is refused the same way.
	archive := filepath.Join(d.Dir, "some.tar")
	os.WriteFile(archive, []byte("not looked at"), 0o600)
	_, err = d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("restored", nil, func(c *runtimeapi.ContainerConfig) { c.Image.Image = archive })})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu check") {
		t.Errorf("CreateContainer from a checkpoint = %v, want FailedPrecondition quoting criu check", err)
	}
	// And from a checkpoint image: an image marked as one is known for
	// one (not run as a plain image), so it is refused too.
	small := filepath.Join(d.Dir, "small.tar")
	writeTar(t, small, map[string]string{"config.dump": "{}"})
	img, err := testregistry.CheckpointImage(small, "counter")
	if err != nil {
		t.Fatal(err)
	}
	reg := sharedRegistry(t)
	if err := reg.Push(ctx, "checkpoint/refused:1", img); err != nil {
		t.Fatalf("pushing the checkpoint image: %v", err)
	}
	mustPull(t, d, reg.Ref("checkpoint/refused:1"))
	_, err = d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("restored-from-image", nil, func(c *runtimeapi.ContainerConfig) { c.Image.Image = reg.Ref("checkpoint/refused:1") })})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu check") {
		t.Errorf("CreateContainer from a checkpoint image = %v, want FailedPrecondition quoting criu check", err)
	}
	st, err := d.Runtime.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		CheckpointRestore struct {
			Available bool   `json:"available"`
			Reason    string `json:"reason"`
		} `json:"checkpointRestore"`
	}
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil {
		t.Fatal(err)
	}
	if info.CheckpointRestore.Available || !strings.Contains(info.CheckpointRestore.Reason, "criu check") {
		t.Errorf("Status info checkpointRestore = %+v, want unavailable naming criu check", info.CheckpointRestore)
	}
}

func TestCheckpointRestoreContainerContinuesCounting(t *testing.T) {
	requireCRIU(t)
	d := containerDaemon(t)
	ctx := framework.Ctx(t)
	podID, pc := pod(t, d, "ckpt-src")
	id := run(t, d, podID, pc, ctrConfig("counter", counterCmd("")))
	srcLog := filepath.Join(pc.LogDirectory, "counter.log")
	before := waitCounted(t, srcLog, 5, 60*time.Second)
	location := filepath.Join(d.Dir, "counter.tar")

	// Refusals first: nothing may be left by them.
	taken := filepath.Join(d.Dir, "taken.tar")
	os.WriteFile(taken, []byte("mine"), 0o600)
	if _, err := d.Runtime.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: id, Location: taken}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("CheckpointContainer to an existing file = %v, want AlreadyExists", err)
	}
	if b, _ := os.ReadFile(taken); string(b) != "mine" {
		t.Errorf("the existing location was overwritten: %q", b)
	}

	t0 := time.Now()
	if _, err := d.Runtime.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: id, Location: location, Timeout: 300}); err != nil {
		t.Fatalf("CheckpointContainer: %v", err)
	}
	ckptTime := time.Since(t0)
	fi, err := os.Stat(location)
	if err != nil {
		t.Fatal(err)
	}
	if st := ctrStatus(t, d, id).Status.State; st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("after the checkpoint the container is %s, want RUNNING (left running)", st)
	}
	after := counted(t, srcLog)
	atCall, atReturn := before[len(before)-1], after[len(after)-1]
	if ents, _ := filepath.Glob(filepath.Join(d.Dir, ".counter.tar*")); len(ents) > 0 {
		t.Errorf("work or temp files left beside the archive: %v", ents)
	}

	// The original goes, its pod too; the archive restores in a new pod.
	if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	removePod(t, d, podID)

	dstID, dc := pod(t, d, "ckpt-dst")
	// A container made from the archive and removed before its start
	// (the restore) goes without a trace.
	unstarted := create(t, d, dstID, dc, ctrConfig("never-restored", nil, func(c *runtimeapi.ContainerConfig) { c.Image.Image = location }))
	if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: unstarted}); err != nil {
		t.Errorf("RemoveContainer of a restore never started: %v", err)
	}
	t1 := time.Now()
	rid := create(t, d, dstID, dc, ctrConfig("counter-restored", nil, func(c *runtimeapi.ContainerConfig) {
		c.Image.Image = location
		c.Command = nil
	}))
	if st := ctrStatus(t, d, rid).Status.State; st != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("restored container is %s after CreateContainer, want CREATED", st)
	}
	start(t, d, rid)
	restoreTime := time.Since(t1)
	dstLog := filepath.Join(dc.LogDirectory, "counter-restored.log")
	got := waitCounted(t, dstLog, 3, 60*time.Second)
	t.Logf("checkpoint %v (archive %d bytes), restore (create+start) %v; counted %d at the call, %d at its return, restored counting %v",
		ckptTime.Round(time.Millisecond), fi.Size(), restoreTime.Round(time.Millisecond), atCall, atReturn, got)
	if got[0] <= atCall || got[0] > atReturn+1 {
		t.Errorf("restored container counted %v, want it to go on from the checkpoint (between %d and %d), not from 1", got, atCall+1, atReturn+1)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Errorf("restored counting %v is not consecutive", got)
			break
		}
	}
	st := ctrStatus(t, d, rid).Status
	if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING || st.Image.GetImage() != ctrImage {
		t.Errorf("restored container: state %s image %q, want RUNNING on %s", st.State, st.Image.GetImage(), ctrImage)
	}
	resp, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: rid, Cmd: []string{"cat", "/marker"}, Timeout: 30})
	if err != nil || strings.TrimSpace(string(resp.Stdout)) != "written-before" {
		t.Errorf("the file written before the checkpoint: %v %q %q", err, resp.GetStdout(), resp.GetStderr())
	}
	// The archive as a checkpoint image (what buildah makes of it to
	// move the container to another node), pulled from the registry,
	// restores too, in a pod of its own.
	img, err := testregistry.CheckpointImage(location, "counter")
	if err != nil {
		t.Fatal(err)
	}
	reg := sharedRegistry(t)
	if err := reg.Push(ctx, "checkpoint/counter:1", img); err != nil {
		t.Fatalf("pushing the checkpoint image: %v", err)
	}
	imgRef := reg.Ref("checkpoint/counter:1")
	mustPull(t, d, imgRef)
	imgPodID, ic := pod(t, d, "ckpt-img")
	iid := create(t, d, imgPodID, ic, ctrConfig("counter-from-image", nil, func(c *runtimeapi.ContainerConfig) {
		c.Image.Image = imgRef
		c.Command = nil
	}))
	start(t, d, iid)
	fromImage := waitCounted(t, filepath.Join(ic.LogDirectory, "counter-from-image.log"), 3, 60*time.Second)
	if fromImage[0] <= atCall || fromImage[0] > atReturn+1 {
		t.Errorf("container restored from the checkpoint image counted %v, want it to go on from the checkpoint (between %d and %d)", fromImage, atCall+1, atReturn+1)
	}
	if st := ctrStatus(t, d, iid).Status; st.State != runtimeapi.ContainerState_CONTAINER_RUNNING || st.Image.GetImage() != ctrImage {
		t.Errorf("container restored from the checkpoint image: state %s image %q, want RUNNING on %s", st.State, st.Image.GetImage(), ctrImage)
	}
	if resp, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: iid, Cmd: []string{"cat", "/marker"}, Timeout: 30}); err != nil || strings.TrimSpace(string(resp.Stdout)) != "written-before" {
		t.Errorf("restored from the image, the file written before the checkpoint: %v %q", err, resp.GetStdout())
	}
	removePod(t, d, imgPodID)

	// crictl checkpoint of the restored container: an archive whose
	// metadata names it.
	again := filepath.Join(d.Dir, "again.tar")
	if out, err := d.Crictl("checkpoint", "--export="+again, rid); err != nil {
		t.Fatalf("crictl checkpoint: %v: %s", err, out)
	}
	md, err := checkpoint.Extract(again, t.TempDir(), checkpoint.DefaultLimits)
	if err != nil {
		t.Fatalf("reading crictl's checkpoint: %v", err)
	}
	if md.Config.ID != rid || md.Config.Name != "counter-restored" || md.Config.RootfsImageName != ctrImage || md.CRI.GetMetadata().GetName() != "counter-restored" {
		t.Errorf("crictl's checkpoint names %+v (CRI %v), want container counter-restored (%s) on %s", md.Config, md.CRI.GetMetadata(), rid, ctrImage)
	}
}

// BenchmarkCheckpointRestore measures a checkpoint and a restore
// (CreateContainer plus StartContainer, in a new pod) of a container
// holding 1, 64 and 512 MiB of anonymous memory (a shell variable), and
// reports the archive's size. Run it where criu check passes:
//
//	VM_INSTANCE=criu hack/vm.sh e2e -test.run '^$' -test.bench CheckpointRestore -test.benchtime 1x
func BenchmarkCheckpointRestore(b *testing.B) {
	requireRoot(b)
	requireCRIU(b)
	d := newImageDaemon(b, imageDaemonOptions{registry: sharedRegistry(b).Addr})
	mustPull(b, d, ctrImage)
	for _, mib := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			var ckpt, restore time.Duration
			var size int64
			n := 0
			for i := 0; b.Loop(); i++ {
				// Not framework.Ctx's 2 minutes: filling 512 MiB takes
				// minutes under the VM's emulation.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
				defer cancel()
				name := fmt.Sprintf("mem%d-%d", mib, i)
				src := podConfig(name + "-src")
				src.LogDirectory = b.TempDir()
				srcID := runPod(b, d, src)
				fill := fmt.Sprintf("x=$(head -c %d /dev/zero | tr '\\0' a); echo filled ${#x}; ", mib<<20)
				cr, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: srcID, SandboxConfig: src, Config: ctrConfig(name, counterCmd(fill))})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
					b.Fatal(err)
				}
				waitFile(b, filepath.Join(src.LogDirectory, name+".log"), "filled", 15*time.Minute)
				location := filepath.Join(d.Dir, name+".tar")
				t0 := time.Now()
				if _, err := d.Runtime.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: cr.ContainerId, Location: location, Timeout: 1800}); err != nil {
					b.Fatalf("CheckpointContainer: %v", err)
				}
				ckpt += time.Since(t0)
				fi, err := os.Stat(location)
				if err != nil {
					b.Fatal(err)
				}
				size = fi.Size()
				removePod(b, d, srcID)
				dst := podConfig(name + "-dst")
				dst.LogDirectory = b.TempDir()
				dstID := runPod(b, d, dst)
				t1 := time.Now()
				rc, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: dstID, SandboxConfig: dst,
					Config: ctrConfig(name+"-r", nil, func(c *runtimeapi.ContainerConfig) { c.Image.Image = location })})
				if err != nil {
					b.Fatalf("CreateContainer from the checkpoint: %v", err)
				}
				if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: rc.ContainerId}); err != nil {
					b.Fatalf("StartContainer (restore): %v", err)
				}
				restore += time.Since(t1)
				n++
				removePod(b, d, dstID)
				os.Remove(location)
			}
			b.ReportMetric(float64(ckpt.Milliseconds())/float64(n), "checkpoint-ms")
			b.ReportMetric(float64(restore.Milliseconds())/float64(n), "restore-ms")
			b.ReportMetric(float64(size)/(1<<20), "archive-MiB")
		})
	}
}

// writeTar writes a tar of regular files (name -> contents) at p.
func writeTar(t testing.TB, p string, files map[string]string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
