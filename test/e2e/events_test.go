package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// A client that subscribes and never reads must not hold up the events of
// another: its server-side sends block on gRPC flow control once its
// window (64 KiB) is full, which 120 events carrying pod and container
// statuses are meant to exceed. Dropping a client that falls past its
// queue is tested in internal/events.
func TestStalledEventClientDoesNotDelayAnother(t *testing.T) {
	d := containerDaemon(t)
	ctx, cancel := context.WithCancel(framework.Ctx(t))
	defer cancel()
	if _, err := d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{}); err != nil {
		t.Fatal(err) // the stalled client: never read
	}
	fast, err := d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan *runtimeapi.ContainerEventResponse, 4096)
	go func() {
		for {
			ev, err := fast.Recv()
			if err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	podID, pc := pod(t, d, "events")
	const n = 30
	ids := map[string]int{}
	for i := 0; i < n; i++ {
		id := run(t, d, podID, pc, ctrConfig(fmt.Sprintf("e%d", i), []string{"true"}))
		waitExited(t, d, id, 30*time.Second)
		if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		ids[id] = i
	}
	want := []runtimeapi.ContainerEventType{
		runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
	}
	seen := map[string][]runtimeapi.ContainerEventType{}
	complete := 0
	deadline := time.After(5 * time.Second) // after the last RemoveContainer returned
	for complete < n {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the reading client's stream ended")
			}
			if _, ours := ids[ev.ContainerId]; !ours {
				continue
			}
			got := append(seen[ev.ContainerId], ev.ContainerEventType)
			seen[ev.ContainerId] = got
			if k := len(got) - 1; k >= len(want) || got[k] != want[k] {
				t.Fatalf("container %d events %v, want %v in order", ids[ev.ContainerId], got, want)
			}
			if len(got) == len(want) {
				complete++
			}
		case <-deadline:
			t.Fatalf("the reading client had all events of %d of %d containers 5 s after the last removal", complete, n)
		}
	}
}
