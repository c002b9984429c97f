package e2e

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func TestContainerStatsShowCPUAndMemory(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "stats")
	burner := run(t, d, podID, pc, ctrConfig("burner", []string{"sh", "-c", "while :; do :; done"}))
	filler := run(t, d, podID, pc, ctrConfig("filler", []string{"sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=50 && sleep 3600"}))
	ctx := framework.Ctx(t)

	const mib = 1 << 20
	var cpuRate, workingSet uint64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := d.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: podID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Stats) != 2 {
			t.Fatalf("%d stats for a pod of two containers", len(resp.Stats))
		}
		for _, s := range resp.Stats {
			switch s.Attributes.Id {
			case burner:
				cpuRate = s.GetCpu().GetUsageNanoCores().GetValue()
			case filler:
				workingSet = s.GetMemory().GetWorkingSetBytes().GetValue()
			}
		}
		if cpuRate > 100_000_000 && workingSet >= 50*mib {
			break
		}
	}
	if cpuRate <= 100_000_000 {
		t.Errorf("a busy loop uses %d nanocores, want more than 0.1 core", cpuRate)
	}
	if workingSet < 50*mib || workingSet > 70*mib {
		t.Errorf("working set after writing 50 MiB to tmpfs = %.1f MiB, want 50-70", float64(workingSet)/mib)
	}

	layer := func() (uint64, uint64) {
		t.Helper()
		r, err := d.Runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: filler})
		if err != nil {
			t.Fatal(err)
		}
		w := r.Stats.GetWritableLayer()
		if w.GetFsId().GetMountpoint() == "" {
			t.Fatalf("no writable layer in %v", r.Stats)
		}
		return w.GetUsedBytes().GetValue(), w.GetInodesUsed().GetValue()
	}
	bytesBefore, inodesBefore := layer()
	if _, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: filler, Cmd: []string{"sh", "-c", "head -c 1048576 /dev/zero > /written"}, Timeout: 30}); err != nil {
		t.Fatal(err)
	}
	if b, i := layer(); b < bytesBefore+1<<20 || i <= inodesBefore {
		t.Errorf("writable layer went from %d bytes/%d inodes to %d/%d after writing 1 MiB", bytesBefore, inodesBefore, b, i)
	}

	one, err := d.Runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: burner})
	if err != nil {
		t.Fatal(err)
	}
	if one.Stats.Attributes.Metadata.Name != "burner" || one.Stats.Cpu.Timestamp == 0 || one.Stats.Cpu.UsageCoreNanoSeconds.GetValue() == 0 {
		t.Errorf("ContainerStats = %v", one.Stats)
	}
	byLabel, err := d.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{LabelSelector: map[string]string{"ctr": "filler"}}})
	if err != nil || len(byLabel.Stats) != 1 || byLabel.Stats[0].Attributes.Id != filler {
		t.Errorf("label filter: %v, %v", byLabel, err)
	}
	stream, err := d.Runtime.StreamContainerStats(ctx, &runtimeapi.StreamContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: podID}})
	if err != nil {
		t.Fatal(err)
	}
	streamed := 0
	for {
		msg, err := stream.Recv()
		if err != nil {
			break
		}
		streamed += len(msg.ContainerStats)
	}
	if streamed != 2 {
		t.Errorf("StreamContainerStats sent %d stats for a pod of two containers", streamed)
	}
	if _, err := d.Runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: "nonexistent"}); status.Code(err) != codes.NotFound {
		t.Errorf("stats of an unknown container: %v, want NotFound", err)
	}
	out, err := d.Crictl("stats", "--id", burner)
	if err != nil || !strings.Contains(out, "CPU %") {
		t.Errorf("crictl stats: %v\n%s", err, out)
	}
}

func TestPodSandboxStatsShowCgroupNetworkAndContainers(t *testing.T) {
	d := containerDaemon(t)
	podID, pc := pod(t, d, "podstats")
	// Connection attempts to a closed port on lo: a steady trickle of
	// packets inside the pod's network namespace.
	talker := run(t, d, podID, pc, ctrConfig("talker", []string{"sh", "-c", "while :; do nc 127.0.0.1 1 </dev/null; sleep 0.1; done"}))
	ctx := framework.Ctx(t)
	lo := func() uint64 {
		t.Helper()
		resp, err := d.Runtime.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: podID})
		if err != nil {
			t.Fatal(err)
		}
		l := resp.GetStats().GetLinux()
		if len(l.GetContainers()) != 1 || l.Containers[0].Attributes.Id != talker {
			t.Fatalf("pod stats containers = %v", l.GetContainers())
		}
		if l.GetCpu().GetTimestamp() == 0 || l.GetMemory().GetTimestamp() == 0 {
			t.Fatalf("pod stats without cpu/memory samples: %v", l)
		}
		for _, i := range l.GetNetwork().GetInterfaces() {
			if i.Name == "lo" {
				return i.GetRxBytes().GetValue()
			}
		}
		t.Fatalf("no lo in the pod's interfaces: %v", l.GetNetwork())
		return 0
	}
	first := lo()
	var grown bool
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !grown; time.Sleep(300 * time.Millisecond) {
		grown = lo() > first
	}
	if !grown {
		t.Errorf("pod lo rx bytes stayed at %d while a container sent packets", first)
	}
	list, err := d.Runtime.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{Id: podID}})
	if err != nil || len(list.Stats) != 1 || list.Stats[0].Attributes.Id != podID {
		t.Errorf("ListPodSandboxStats by ID: %v, %v", list, err)
	}
	ps, err := d.Runtime.StreamPodSandboxStats(ctx, &runtimeapi.StreamPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{LabelSelector: pc.Labels}})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := ps.Recv(); err != nil || len(msg.PodSandboxStats) != 1 || msg.PodSandboxStats[0].Attributes.Id != podID {
		t.Errorf("StreamPodSandboxStats by labels: %v, %v", msg, err)
	}
	if _, err := d.Runtime.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "nonexistent"}); status.Code(err) != codes.NotFound {
		t.Errorf("stats of an unknown pod: %v, want NotFound", err)
	}
	if out, err := d.Crictl("statsp", "--id", podID); err != nil || !strings.Contains(out, "POD") {
		t.Errorf("crictl statsp: %v\n%s", err, out)
	}
}

func TestStatsCollectedInTheBackground(t *testing.T) {
	d := containerDaemon(t)
	d.WriteDropIn("60-stats.conf", "[crio.stats]\nstats_collection_period = 1\n")
	d.Stop()
	d.Start()
	podID, pc := pod(t, d, "bgstats")
	id := run(t, d, podID, pc, ctrConfig("busy", []string{"sh", "-c", "while :; do :; done"}))
	ctx := framework.Ctx(t)
	sample := func() *runtimeapi.ContainerStats {
		t.Helper()
		r, err := d.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{Id: id}})
		if err != nil || len(r.Stats) != 1 {
			t.Fatalf("ListContainerStats: %v, %v", r, err)
		}
		return r.Stats[0]
	}
	// Once the collector has sampled the new container, back-to-back
	// calls answer its sample from memory: the same timestamp twice.
	var first *runtimeapi.ContainerStats
	cached := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !cached; time.Sleep(100 * time.Millisecond) {
		first = sample()
		cached = sample().Cpu.Timestamp == first.Cpu.Timestamp
	}
	if !cached {
		t.Fatal("every call sampled anew with a 1 s collection period")
	}
	time.Sleep(2500 * time.Millisecond)
	later := sample()
	if later.Cpu.Timestamp <= first.Cpu.Timestamp {
		t.Errorf("no newer sample after 2.5 s: %d then %d", first.Cpu.Timestamp, later.Cpu.Timestamp)
	}
	if later.Cpu.GetUsageNanoCores().GetValue() < 100_000_000 {
		t.Errorf("background CPU rate of a busy loop = %d nanocores", later.Cpu.GetUsageNanoCores().GetValue())
	}
}
