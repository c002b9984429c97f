package fuzz

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ref is "@": the first object of the kind the field names that the
// sequence has seen so far; refN is the N-th (images count the base
// images first: @0 busybox, @1 pause).
const ref = "@"

func refN(n int) string { return "@" + string(rune(n)) }

// seedPod is a pod as critest makes one; opts adjust it.
func seedPod(name string, opts ...func(*runtimeapi.PodSandboxConfig)) *runtimeapi.PodSandboxConfig {
	p := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "fuzz", Uid: "uid-" + name, Attempt: 0},
		Hostname:     name,
		LogDirectory: "/podlogs/" + name, // below the scratch directory
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"fuzz.svc.cluster.local"}, Options: []string{"ndots:5"}},
		Labels:       map[string]string{"app": name},
		Annotations:  map[string]string{"fuzz": "seed"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
			Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// seedCtr is a busybox container running cmd.
func seedCtr(name string, cmd []string, opts ...func(*runtimeapi.ContainerConfig)) *runtimeapi.ContainerConfig {
	cc := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: baseImages[0]},
		Command:  cmd,
		LogPath:  name + "/0.log",
		Envs:     []*runtimeapi.KeyValue{{Key: "FUZZ", Value: []byte("1")}},
		Labels:   map[string]string{"ctr": name},
		Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
			Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512, MemoryLimitInBytes: 64 << 20},
		},
	}
	for _, o := range opts {
		o(cc)
	}
	return cc
}

func create(p *runtimeapi.PodSandboxConfig, cc *runtimeapi.ContainerConfig) call {
	return c("CreateContainer", &runtimeapi.CreateContainerRequest{PodSandboxId: ref, Config: cc, SandboxConfig: p})
}

// seeds are critest-like call sequences; together they call every method.
func seeds() [][]call {
	sleeper := []string{"sleep", "60"}
	p1 := seedPod("lifecycle")
	p2 := seedPod("ctr")
	p3 := seedPod("update")
	p4 := seedPod("stream", func(p *runtimeapi.PodSandboxConfig) {
		p.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 0}}
	})
	p5 := seedPod("events")
	p6 := seedPod("checkpoint")
	p7 := seedPod("sharedpid", func(p *runtimeapi.PodSandboxConfig) {
		p.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	})
	p8 := seedPod("hostnet", func(p *runtimeapi.PodSandboxConfig) {
		p.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
		p.Linux.Sysctls = nil
	})
	return [][]call{
		{
			c("Version", &runtimeapi.VersionRequest{Version: "v1"}),
			c("Status", &runtimeapi.StatusRequest{Verbose: true}),
			c("RuntimeConfig", &runtimeapi.RuntimeConfigRequest{}),
			c("ImageFsInfo", &runtimeapi.ImageFsInfoRequest{}),
			c("ListImages", &runtimeapi.ListImagesRequest{}),
			c("ListMetricDescriptors", &runtimeapi.ListMetricDescriptorsRequest{}),
			c("ListPodSandboxMetrics", &runtimeapi.ListPodSandboxMetricsRequest{}),
		},
		{
			c("PullImage", &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/k8s-staging-cri-tools/test-image-1:latest"}}),
			c("ImageStatus", &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: refN(2)}, Verbose: true}),
			c("ListImages", &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: refN(2)}}}),
			c("StreamImages", &runtimeapi.StreamImagesRequest{}),
			c("RemoveImage", &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: refN(2)}}),
			c("ImageStatus", &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p1}),
			c("PodSandboxStatus", &runtimeapi.PodSandboxStatusRequest{PodSandboxId: ref, Verbose: true}),
			c("ListPodSandbox", &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
				Id: ref, State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}, LabelSelector: map[string]string{"app": "lifecycle"}}}),
			c("PodSandboxStats", &runtimeapi.PodSandboxStatsRequest{PodSandboxId: ref}),
			c("ListPodSandboxStats", &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{Id: ref}}),
			c("StopPodSandbox", &runtimeapi.StopPodSandboxRequest{PodSandboxId: ref}),
			c("RemovePodSandbox", &runtimeapi.RemovePodSandboxRequest{PodSandboxId: ref}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p2}),
			create(p2, seedCtr("sleeper", sleeper)),
			c("StartContainer", &runtimeapi.StartContainerRequest{ContainerId: ref}),
			c("ExecSync", &runtimeapi.ExecSyncRequest{ContainerId: ref, Cmd: []string{"echo", "hello"}, Timeout: 2}),
			c("ContainerStatus", &runtimeapi.ContainerStatusRequest{ContainerId: ref, Verbose: true}),
			c("ListContainers", &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
				PodSandboxId: ref, State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}, LabelSelector: map[string]string{"ctr": "sleeper"}}}),
			c("StopContainer", &runtimeapi.StopContainerRequest{ContainerId: ref, Timeout: 1}),
			c("RemoveContainer", &runtimeapi.RemoveContainerRequest{ContainerId: ref}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p3}),
			create(p3, seedCtr("updated", sleeper)),
			c("StartContainer", &runtimeapi.StartContainerRequest{ContainerId: ref}),
			c("UpdateContainerResources", &runtimeapi.UpdateContainerResourcesRequest{ContainerId: ref, Linux: &runtimeapi.LinuxContainerResources{
				CpuShares: 256, CpuQuota: 50000, CpuPeriod: 100000, MemoryLimitInBytes: 128 << 20}}),
			c("ReopenContainerLog", &runtimeapi.ReopenContainerLogRequest{ContainerId: ref}),
			c("ContainerStats", &runtimeapi.ContainerStatsRequest{ContainerId: ref}),
			c("ListContainerStats", &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: ref}}),
			c("UpdatePodSandboxResources", &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: ref,
				Resources: &runtimeapi.LinuxContainerResources{CpuShares: 1024, MemoryLimitInBytes: 256 << 20}}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p4}),
			create(p4, seedCtr("tty", sleeper, func(cc *runtimeapi.ContainerConfig) { cc.Tty, cc.Stdin = true, true })),
			c("StartContainer", &runtimeapi.StartContainerRequest{ContainerId: ref}),
			c("Exec", &runtimeapi.ExecRequest{ContainerId: ref, Cmd: []string{"echo", "hi"}, Stdout: true, Stderr: true}),
			c("Attach", &runtimeapi.AttachRequest{ContainerId: ref, Stdin: true, Tty: true, Stdout: true}),
			c("PortForward", &runtimeapi.PortForwardRequest{PodSandboxId: ref, Port: []int32{80}}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p5}),
			create(p5, seedCtr("listed", sleeper)),
			c("GetContainerEvents", &runtimeapi.GetEventsRequest{}),
			c("StreamPodSandboxes", &runtimeapi.StreamPodSandboxesRequest{Filter: &runtimeapi.PodSandboxFilter{Id: ref}}),
			c("StreamContainers", &runtimeapi.StreamContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: ref}}),
			c("StreamContainerStats", &runtimeapi.StreamContainerStatsRequest{}),
			c("StreamPodSandboxStats", &runtimeapi.StreamPodSandboxStatsRequest{}),
			c("StreamPodSandboxMetrics", &runtimeapi.StreamPodSandboxMetricsRequest{}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p6}),
			create(p6, seedCtr("ckpt", sleeper)),
			c("StartContainer", &runtimeapi.StartContainerRequest{ContainerId: ref}),
			c("CheckpointContainer", &runtimeapi.CheckpointContainerRequest{ContainerId: ref, Location: "/ckpt.tar", Timeout: 2}),
			c("CheckpointPod", &runtimeapi.CheckpointPodRequest{PodSandboxId: ref, OutputPath: "/pod.tar"}),
			c("RestorePod", &runtimeapi.RestorePodRequest{CheckpointPath: "/pod.tar", Config: seedPod("restored")}),
			c("UpdateRuntimeConfig", &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &runtimeapi.RuntimeConfig{
				NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: "10.244.0.0/24"}}}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p7}),
			create(p7, seedCtr("first", sleeper, func(cc *runtimeapi.ContainerConfig) {
				cc.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
			})),
			c("StartContainer", &runtimeapi.StartContainerRequest{ContainerId: ref}),
			create(p7, seedCtr("second", []string{"echo", "done"}, func(cc *runtimeapi.ContainerConfig) {
				cc.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET, TargetId: ref}
			})),
			c("StartContainer", &runtimeapi.StartContainerRequest{ContainerId: refN(1)}),
			c("ExecSync", &runtimeapi.ExecSyncRequest{ContainerId: ref, Cmd: []string{"id"}, Timeout: 1}),
		},
		{
			c("RunPodSandbox", &runtimeapi.RunPodSandboxRequest{Config: p8}),
			create(p8, seedCtr("privileged", sleeper, func(cc *runtimeapi.ContainerConfig) {
				cc.Mounts = []*runtimeapi.Mount{
					{ContainerPath: "/host-dir", HostPath: "/dir", Propagation: runtimeapi.MountPropagation_PROPAGATION_PRIVATE},
					{ContainerPath: "/host-file", HostPath: "/file", Readonly: true},
					{ContainerPath: "/image", Image: &runtimeapi.ImageSpec{Image: refN(0)}, Readonly: true},
				}
				cc.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/fuzz-null", HostPath: "/dev/null", Permissions: "rwm"}}
				cc.Linux.SecurityContext.Privileged = true
				cc.Linux.SecurityContext.Seccomp = &runtimeapi.SecurityProfile{
					ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/seccomp.json"}
				cc.WorkingDir = "/tmp"
			})),
			c("StartContainer", &runtimeapi.StartContainerRequest{ContainerId: ref}),
			c("ExecSync", &runtimeapi.ExecSyncRequest{ContainerId: ref, Cmd: []string{"pwd"}, Timeout: 1}),
		},
	}
}

// TestMethodsAreEveryServiceMethod checks the fuzzer's method table
// against the gRPC service descriptions the daemon registers: every
// unary method and every stream of both services.
func TestMethodsAreEveryServiceMethod(t *testing.T) {
	var want []string
	for _, sd := range []grpc.ServiceDesc{runtimeapi.RuntimeService_ServiceDesc, runtimeapi.ImageService_ServiceDesc} {
		for _, m := range sd.Methods {
			want = append(want, "/"+sd.ServiceName+"/"+m.MethodName)
		}
		for _, s := range sd.Streams {
			want = append(want, "/"+sd.ServiceName+"/"+s.StreamName)
		}
	}
	slices.Sort(want)
	if got := methodNames(methods); !slices.Equal(got, want) {
		t.Errorf("fuzzed methods:\n  %s\nwant every method of both services:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	n := map[string]int{}
	for _, m := range methods {
		n[m.Service]++
	}
	t.Logf("%d methods: RuntimeService %d, ImageService %d", len(methods), n["RuntimeService"], n["ImageService"])
}

// TestSeedsCallEveryMethod checks that the seeds, decoded as the fuzzer
// decodes them, call every method: each starts the fuzzer off on a
// well-formed request.
func TestSeedsCallEveryMethod(t *testing.T) {
	called := map[string]bool{}
	for i, s := range seeds() {
		got := decode(encode(s...))
		if len(got) != min(len(s), maxCalls) {
			t.Errorf("seed %d: %d calls decode to %d (maxCalls %d)", i, len(s), len(got), maxCalls)
		}
		for _, cl := range got {
			called[cl.M.FullName] = true
		}
	}
	for _, m := range methods {
		if !called[m.FullName] {
			t.Errorf("no seed calls %s", m.FullName)
		}
	}
}

// TestCorpusDecodes checks the committed corpus files are in the fuzzing
// engine's format and decode to at least one call.
func TestCorpusDecodes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzCRI", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no corpus in testdata/fuzz/FuzzCRI")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := parseCorpusFile(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(decode(data)) == 0 {
			t.Errorf("%s decodes to no call", f)
		}
	}
}
