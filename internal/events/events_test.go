package events

import (
	"errors"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func ev(id string, t runtimeapi.ContainerEventType) *runtimeapi.ContainerEventResponse {
	return &runtimeapi.ContainerEventResponse{ContainerId: id, ContainerEventType: t}
}

func TestEverySubscriberGetsEventsInOrder(t *testing.T) {
	b := New()
	s1, s2 := b.Subscribe(10), b.Subscribe(10)
	defer s1.Close()
	defer s2.Close()
	seq := []runtimeapi.ContainerEventType{
		runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
	}
	for _, typ := range seq {
		b.Publish(ev("c1", typ))
	}
	for _, s := range []*Subscription{s1, s2} {
		for i, want := range seq {
			got := <-s.Events()
			if got.ContainerEventType != want {
				t.Fatalf("event %d = %v, want %v", i, got.ContainerEventType, want)
			}
		}
	}
}

func TestSlowSubscriberIsDroppedWithoutDelayingOthers(t *testing.T) {
	b := New()
	slow := b.Subscribe(2)
	fast := b.Subscribe(100)
	defer fast.Close()
	for i := 0; i < 50; i++ {
		b.Publish(ev("c", runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT))
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("a subscriber 48 events behind was not dropped")
	}
	if !errors.Is(slow.Err(), ErrSlowSubscriber) {
		t.Errorf("Err = %v", slow.Err())
	}
	if n := len(fast.Events()); n != 50 {
		t.Errorf("fast subscriber has %d events queued, want 50", n)
	}
	if b.Subscribers() != 1 {
		t.Errorf("subscribers = %d, want 1", b.Subscribers())
	}
}

func TestCloseRemovesTheSubscriber(t *testing.T) {
	b := New()
	s := b.Subscribe(1)
	s.Close()
	s.Close()
	if b.Subscribers() != 0 || s.Err() != nil {
		t.Fatalf("subscribers = %d, err = %v", b.Subscribers(), s.Err())
	}
	b.Publish(ev("c", runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT))
}
