package image

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPullGroupSharesOneRun(t *testing.T) {
	g := pullGroup{m: map[string]*flight{}}
	var runs, joins atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		runs.Add(1)
		<-release
		return "id", nil
	}
	var wg sync.WaitGroup
	results := make([]string, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = g.do(context.Background(), "k", 0, fn, func() { joins.Add(1) }, func() {})
		}()
	}
	for joins.Load() != 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if runs.Load() != 1 {
		t.Errorf("fn ran %d times for 4 concurrent callers; want 1", runs.Load())
	}
	for i, r := range results {
		if r != "id" {
			t.Errorf("caller %d got %q", i, r)
		}
	}
	// Once finished, the next call runs again.
	if _, err := g.do(context.Background(), "k", 0, func(context.Context) (string, error) { return "", errors.New("x") }, func() {}, func() {}); err == nil {
		t.Error("a call after the flight ended reused its result")
	}
}

func TestPullGroupCancelsOnlyWhenEveryCallerLeaves(t *testing.T) {
	g := pullGroup{m: map[string]*flight{}}
	started := make(chan struct{})
	cancelled := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return "", ctx.Err()
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	var abandoned atomic.Int32
	errs := make(chan error, 2)
	go func() { _, err := g.do(ctx1, "k", 0, fn, func() {}, func() { abandoned.Add(1) }); errs <- err }()
	<-started
	joined := make(chan struct{})
	go func() {
		_, err := g.do(ctx2, "k", 0, fn, func() { close(joined) }, func() { abandoned.Add(1) })
		errs <- err
	}()
	<-joined
	cancel1()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v", err)
	}
	select {
	case <-cancelled:
		t.Fatal("the pull was cancelled while a caller still waited")
	case <-time.After(100 * time.Millisecond):
	}
	cancel2()
	<-errs
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the pull was not cancelled after every caller left")
	}
	if abandoned.Load() != 1 {
		t.Errorf("abandoned called %d times; want 1", abandoned.Load())
	}
}

func TestPullGroupAbandonedFlightDoesNotEvictItsSuccessor(t *testing.T) {
	g := pullGroup{m: map[string]*flight{}}
	firstDone := make(chan struct{})
	first := func(ctx context.Context) (string, error) {
		<-ctx.Done()
		<-firstDone // finish only after the second flight started
		return "", ctx.Err()
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	go func() { cancel1() }()
	g.do(ctx1, "k", 0, first, func() {}, func() {})

	release := make(chan struct{})
	var runs atomic.Int32
	second := func(context.Context) (string, error) { runs.Add(1); <-release; return "id", nil }
	res := make(chan string, 2)
	go func() { id, _ := g.do(context.Background(), "k", 0, second, func() {}, func() {}); res <- id }()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(firstDone) // the abandoned flight ends while the second runs
	time.Sleep(50 * time.Millisecond)
	joined := make(chan struct{})
	go func() {
		id, _ := g.do(context.Background(), "k", 0, second, func() { close(joined) }, func() {})
		res <- id
	}()
	select {
	case <-joined:
	case <-time.After(5 * time.Second):
		t.Fatal("a caller did not join the running flight: the abandoned one evicted it")
	}
	close(release)
	if a, b := <-res, <-res; a != "id" || b != "id" || runs.Load() != 1 {
		t.Fatalf("results %q %q after %d runs; want one run shared", a, b, runs.Load())
	}
}

func TestPullGroupLimitRefusesNewKeysButLetsCallersJoin(t *testing.T) {
	g := pullGroup{m: map[string]*flight{}}
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(context.Context) (string, error) { close(started); <-release; return "id", nil }
	res := make(chan error, 2)
	go func() { _, err := g.do(context.Background(), "a", 1, fn, func() {}, func() {}); res <- err }()
	<-started
	if _, err := g.do(context.Background(), "b", 1, fn, func() {}, func() {}); !errors.Is(err, ErrPullLimit) || !strings.Contains(err.Error(), "max_concurrent_pulls = 1") {
		t.Fatalf("a second image at the limit: %v", err)
	}
	joined := make(chan struct{})
	go func() {
		_, err := g.do(context.Background(), "a", 1, fn, func() { close(joined) }, func() {})
		res <- err
	}()
	<-joined
	close(release)
	for range 2 {
		if err := <-res; err != nil {
			t.Fatalf("pull of the image in flight: %v", err)
		}
	}
	if _, err := g.do(context.Background(), "b", 1, func(context.Context) (string, error) { return "b", nil }, func() {}, func() {}); err != nil {
		t.Fatalf("after the first pull ended: %v", err)
	}
}
