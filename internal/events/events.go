// Package events fans container and sandbox lifecycle events out to every
// GetContainerEvents client without letting a slow client hold up the
// daemon or the other clients.
package events

import (
	"errors"
	"sync"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ErrSlowSubscriber ends a subscription whose client fell too far behind.
var ErrSlowSubscriber = errors.New("event client fell behind and was dropped; resubscribe and relist")

// DefaultBuffer is how many events a subscriber may lag behind.
const DefaultBuffer = 1024

// Broadcaster delivers each published event to every subscriber, in
// publication order.
type Broadcaster struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// New returns an empty broadcaster.
func New() *Broadcaster { return &Broadcaster{subs: map[*Subscription]struct{}{}} }

// Subscription is one client's queue.
type Subscription struct {
	b    *Broadcaster
	c    chan *runtimeapi.ContainerEventResponse
	done chan struct{}
	err  error
	once sync.Once
}

// Subscribe adds a subscriber that may lag buffer events behind.
func (b *Broadcaster) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	s := &Subscription{b: b, c: make(chan *runtimeapi.ContainerEventResponse, buffer), done: make(chan struct{})}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Publish queues ev for every subscriber. It never blocks: a subscriber
// whose queue is full is dropped with ErrSlowSubscriber.
func (b *Broadcaster) Publish(ev *runtimeapi.ContainerEventResponse) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.c <- ev:
		default:
			delete(b.subs, s)
			s.end(ErrSlowSubscriber)
		}
	}
}

// Subscribers is the number of subscriptions open now.
func (b *Broadcaster) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Events is the subscriber's queue.
func (s *Subscription) Events() <-chan *runtimeapi.ContainerEventResponse { return s.c }

// Done is closed when the subscription ends; Err then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is why the subscription ended (nil when closed by its owner).
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	s.end(nil)
}

func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}
