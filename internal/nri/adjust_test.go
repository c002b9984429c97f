package nri

import (
	"errors"
	"slices"
	"testing"

	"github.com/containerd/nri/pkg/api"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func baseSpec() *rspec.Spec {
	return &rspec.Spec{
		Process: &rspec.Process{Args: []string{"sh"}, Env: []string{"PATH=/bin", "KEEP=1"}},
		Linux:   &rspec.Linux{Resources: &rspec.LinuxResources{}},
		Mounts:  []rspec.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
	}
}

func TestAdjustRefusesHostileInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		adj  func(a *api.ContainerAdjustment)
	}{
		{"mount escaping with ..", func(a *api.ContainerAdjustment) {
			a.AddMount(&api.Mount{Destination: "/x/../../etc", Source: "/etc", Type: "bind"})
		}},
		{"mount over the root", func(a *api.ContainerAdjustment) { a.AddMount(&api.Mount{Destination: "/", Source: "/", Type: "bind"}) }},
		{"relative mount destination", func(a *api.ContainerAdjustment) {
			a.AddMount(&api.Mount{Destination: "etc", Source: "/etc", Type: "bind"})
		}},
		{"relative bind source", func(a *api.ContainerAdjustment) {
			a.AddMount(&api.Mount{Destination: "/data", Source: "data", Type: "bind"})
		}},
		{"unknown mount type", func(a *api.ContainerAdjustment) {
			a.AddMount(&api.Mount{Destination: "/data", Source: "/dev/sda1", Type: "ext4"})
		}},
		{"device outside /dev", func(a *api.ContainerAdjustment) {
			a.AddDevice(&api.LinuxDevice{Path: "/etc/shadow", Type: "c", Major: 1, Minor: 3})
		}},
		{"device path escaping /dev", func(a *api.ContainerAdjustment) {
			a.AddDevice(&api.LinuxDevice{Path: "/dev/../etc/x", Type: "c", Major: 1, Minor: 3})
		}},
		{"bad device type", func(a *api.ContainerAdjustment) {
			a.AddDevice(&api.LinuxDevice{Path: "/dev/x", Type: "z", Major: 1, Minor: 3})
		}},
		{"relative hook", func(a *api.ContainerAdjustment) {
			a.AddHooks(&api.Hooks{Prestart: []*api.Hook{{Path: "hook.sh"}}})
		}},
		{"unknown rlimit", func(a *api.ContainerAdjustment) { a.AddRlimit("RLIMIT_BOGUS", 10, 5) }},
		{"soft rlimit above hard", func(a *api.ContainerAdjustment) { a.AddRlimit("RLIMIT_NOFILE", 10, 50) }},
		{"env key with =", func(a *api.ContainerAdjustment) { a.AddEnv("A=B", "c") }},
		{"cpu shares out of range", func(a *api.ContainerAdjustment) { a.SetLinuxCPUShares(1) }},
		{"bad cpuset", func(a *api.ContainerAdjustment) { a.SetLinuxCPUSetCPUs("0-x") }},
		{"unified key with a slash", func(a *api.ContainerAdjustment) { a.AddLinuxUnified("../memory.max", "1") }},
		{"oom score out of range", func(a *api.ContainerAdjustment) { a.SetLinuxOomScoreAdj(intp(5000)) }},
		{"relative cgroups path", func(a *api.ContainerAdjustment) { a.SetLinuxCgroupsPath("pods/../x") }},
		{"namespaces", func(a *api.ContainerAdjustment) {
			a.AddOrReplaceNamespace(&api.LinuxNamespace{Type: "network", Path: "/proc/1/ns/net"})
		}},
		{"sysctl", func(a *api.ContainerAdjustment) {
			a.Linux = &api.LinuxContainerAdjustment{Sysctl: map[string]string{"kernel.panic": "1"}}
		}},
		{"RDT class", func(a *api.ContainerAdjustment) { a.SetLinuxRDTClass("gold") }},
		{"CDI without a registry", func(a *api.ContainerAdjustment) { a.AddCDIDevice(&api.CDIDevice{Name: "vendor.com/gpu=0"}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adj := &api.ContainerAdjustment{}
			tc.adj(adj)
			spec := baseSpec()
			err := Adjust(spec, adj, Limits{})
			if !errors.Is(err, ErrAdjustment) {
				t.Fatalf("Adjust = %v, want ErrAdjustment", err)
			}
			if !slices.Equal(spec.Process.Env, baseSpec().Process.Env) || len(spec.Mounts) != 1 {
				t.Errorf("a refused adjustment changed the spec: %+v", spec)
			}
		})
	}
}

func TestAdjustApplies(t *testing.T) {
	adj := &api.ContainerAdjustment{}
	adj.AddEnv("INJECTED", "yes")
	adj.RemoveEnv("KEEP")
	adj.AddAnnotation("nri.test/a", "b")
	adj.AddMount(&api.Mount{Destination: "/data", Source: "/var/lib/data", Type: "bind", Options: []string{"rbind", "ro"}})
	adj.AddDevice(&api.LinuxDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229})
	adj.AddRlimit("RLIMIT_NOFILE", 2048, 1024)
	adj.SetLinuxCPUSetCPUs("0")
	adj.SetLinuxMemoryLimit(64 << 20)
	adj.SetLinuxCgroupsPath("/kubepods/pod1/ctr")
	adj.SetLinuxOomScoreAdj(intp(500))
	adj.AddHooks(&api.Hooks{Prestart: []*api.Hook{{Path: "/usr/bin/true"}}})
	spec := baseSpec()
	if err := Adjust(spec, adj, Limits{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(spec.Process.Env, "INJECTED=yes") || slices.Contains(spec.Process.Env, "KEEP=1") {
		t.Errorf("env = %v, want INJECTED=yes added and KEEP removed", spec.Process.Env)
	}
	if spec.Annotations["nri.test/a"] != "b" {
		t.Errorf("annotations = %v", spec.Annotations)
	}
	if !slices.ContainsFunc(spec.Mounts, func(m rspec.Mount) bool { return m.Destination == "/data" && m.Source == "/var/lib/data" }) {
		t.Errorf("mounts = %+v, want /data", spec.Mounts)
	}
	if !slices.ContainsFunc(spec.Linux.Devices, func(d rspec.LinuxDevice) bool { return d.Path == "/dev/fuse" && d.Major == 10 }) {
		t.Errorf("devices = %+v, want /dev/fuse", spec.Linux.Devices)
	}
	if len(spec.Process.Rlimits) != 1 || spec.Process.Rlimits[0].Hard != 2048 {
		t.Errorf("rlimits = %+v", spec.Process.Rlimits)
	}
	if r := spec.Linux.Resources; r.CPU.Cpus != "0" || *r.Memory.Limit != 64<<20 {
		t.Errorf("resources = cpus %q memory %v", r.CPU.Cpus, *r.Memory.Limit)
	}
	if spec.Linux.CgroupsPath != "/kubepods/pod1/ctr" || *spec.Process.OOMScoreAdj != max(500, ownOOMScoreAdj) {
		t.Errorf("cgroups path %q, oom_score_adj %d", spec.Linux.CgroupsPath, *spec.Process.OOMScoreAdj)
	}
	if spec.Hooks == nil || len(spec.Hooks.Prestart) != 1 {
		t.Errorf("hooks = %+v", spec.Hooks)
	}
}

func intp(v int) *int { return &v }
