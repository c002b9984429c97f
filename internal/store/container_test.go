package store

import (
	"context"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/oci"
)

func TestContainerStateFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := &Container{
		ID: GenerateID(), Name: "k8s_c_p_ns_uid_0", SandboxID: GenerateID(),
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c", Attempt: 2},
			Labels:   map[string]string{"a": "b"},
			Envs:     []*runtimeapi.KeyValue{{Key: "K", Value: []byte("V")}},
		},
		ImageName: "busybox", ImageID: "abc", ImageRef: "docker.io/library/busybox@sha256:abc",
		StopSignal: "SIGINT", Dir: dir, RootFS: "/r",
		Mounts: []*runtimeapi.Mount{{ContainerPath: "/d", HostPath: "/h", Readonly: true}},
		UID:    1000, GID: 1000, SupplementalGroups: []int64{1000, 10},
		CreatedAt: time.Unix(100, 5),
		Runtime:   oci.Container{ID: "x", Handler: "runc", Bundle: "/b", LogPath: "/l", PID: 42, PIDStartTime: 7},
	}
	c.SetCreated(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 1 << 20})
	c.SetStarted(time.Unix(200, 0))
	c.SetResources(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 2 << 20})
	if !c.SetExited(3, time.Unix(300, 0), "Error", "boom") || c.SetExited(4, time.Now(), "", "") {
		t.Fatal("SetExited must record the first exit only")
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := LoadContainer(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status()
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 3 || st.Reason != "Error" || st.Message != "boom" ||
		!st.StartedAt.Equal(time.Unix(200, 0)) || !st.FinishedAt.Equal(time.Unix(300, 0)) || st.Resources.GetMemoryLimitInBytes() != 2<<20 {
		t.Errorf("status after reload %+v", st)
	}
	if got.ID != c.ID || got.Config.GetMetadata().GetAttempt() != 2 || string(got.Config.Envs[0].Value) != "V" ||
		got.Runtime.PID != 42 || got.Runtime.PIDStartTime != 7 || len(got.Mounts) != 1 || !got.Mounts[0].Readonly ||
		got.ImageRef != c.ImageRef || len(got.SupplementalGroups) != 2 || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Errorf("reloaded %+v", got)
	}
}

func TestSetStartedKeepsAnEarlierExit(t *testing.T) {
	c := &Container{}
	c.SetCreated(nil)
	c.SetExited(0, time.Now(), "Completed", "")
	c.SetStarted(time.Now())
	if c.State() != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("state %s; an exit recorded before the start must stay", c.State())
	}
}

func TestContainerNamesReturnTheFirstID(t *testing.T) {
	cs := NewContainers()
	ctx := context.Background()
	id, owner, err := cs.Names.Reserve(ctx, "n", "a")
	if err != nil || !owner || id != "a" {
		t.Fatal(id, owner, err)
	}
	cs.Names.Finish("n", "a")
	if id, owner, _ := cs.Names.Reserve(ctx, "n", "b"); owner || id != "a" {
		t.Fatalf("second reserve got %s owner=%v; want a", id, owner)
	}
}
