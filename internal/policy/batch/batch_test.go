package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recorder is a Send that answers "resp-<req>" for each request and remembers the batches.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	hold    chan struct{} // when set, Send waits for it to close
}

func (r *recorder) send(_ context.Context, reqs []int) ([]string, error) {
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(reqs))
	r.mu.Unlock()
	resps := make([]string, len(reqs))
	for i, q := range reqs {
		resps[i] = fmt.Sprint("resp-", q)
	}
	return resps, nil
}

func (r *recorder) sent() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

func newBatcher(t *testing.T, size int, delay time.Duration, c clock.Clock, send func(context.Context, []int) ([]string, error)) *Batcher[int, string] {
	t.Helper()
	b, err := New(Config[int, string]{MaxSize: size, MaxDelay: delay, Clock: c, Send: send})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

type result struct {
	req  int
	resp string
	err  error
}

// submitAll submits reqs concurrently and returns a channel of their results.
func submitAll(ctx context.Context, b *Batcher[int, string], reqs ...int) <-chan result {
	out := make(chan result, len(reqs))
	for _, q := range reqs {
		go func() {
			resp, err := b.Submit(ctx, q)
			out <- result{q, resp, err}
		}()
	}
	return out
}

// waitFor polls cond until it holds: the goroutines under test are at a known point.
// It asserts no duration; a condition that never holds ends in the test timeout.
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

// checkRouted reads n results and checks each caller got the response to its own request.
func checkRouted(t *testing.T, results <-chan result, n int) {
	t.Helper()
	for range n {
		r := <-results
		if r.err != nil || r.resp != fmt.Sprint("resp-", r.req) {
			t.Errorf("caller of %d got %q, %v", r.req, r.resp, r.err)
		}
	}
}

func TestSizeFlush(t *testing.T) {
	rec := &recorder{}
	// The clock never moves, so only the size can send a batch.
	b := newBatcher(t, 5, time.Hour, clock.NewFake(start), rec.send)
	checkRouted(t, submitAll(context.Background(), b, 1, 2, 3, 4, 5), 5)
	got := rec.sent()
	if len(got) != 1 || len(got[0]) != 5 {
		t.Fatalf("batches %v, want one of 5", got)
	}
	slices.Sort(got[0])
	if !slices.Equal(got[0], []int{1, 2, 3, 4, 5}) {
		t.Errorf("batch %v, want 1…5", got[0])
	}
}

func TestDelayFlush(t *testing.T) {
	rec := &recorder{}
	clk := clock.NewFake(start)
	b := newBatcher(t, 10, 5*time.Second, clk, rec.send)
	results := submitAll(context.Background(), b, 1, 2, 3)
	waitFor(func() bool { return b.pendingLen() == 3 && clk.Sleepers() == 1 })

	clk.Advance(5*time.Second - time.Nanosecond)
	// Advance wakes due sleepers before it returns, so a still-registered sleeper proves
	// the batch was not sent early.
	if clk.Sleepers() != 1 || b.pendingLen() != 3 || len(rec.sent()) != 0 {
		t.Fatalf("sent before MaxDelay: %v", rec.sent())
	}
	clk.Advance(time.Nanosecond)
	checkRouted(t, results, 3)
	if got := rec.sent(); len(got) != 1 || len(got[0]) != 3 {
		t.Fatalf("batches %v, want one of 3", got)
	}

	// The next batch gets its own MaxDelay, counted from its own first request.
	clk.Advance(time.Minute)
	results = submitAll(context.Background(), b, 4)
	waitFor(func() bool { return b.pendingLen() == 1 && clk.Sleepers() == 1 })
	clk.Advance(5 * time.Second)
	checkRouted(t, results, 1)
	if got := rec.sent(); len(got) != 2 || !slices.Equal(got[1], []int{4}) {
		t.Errorf("batches %v, want a second one of [4]", got)
	}
}

func TestSizeFlushStopsTheTimerForThatBatch(t *testing.T) {
	rec := &recorder{}
	clk := clock.NewFake(start)
	b := newBatcher(t, 2, 5*time.Second, clk, rec.send)
	first := submitAll(context.Background(), b, 1)
	waitFor(func() bool { return clk.Sleepers() == 1 })
	checkRouted(t, submitAll(context.Background(), b, 2), 1) // fills the batch
	checkRouted(t, first, 1)
	waitFor(func() bool { return clk.Sleepers() == 0 })

	// A batch started later must not be sent at the first batch's deadline.
	clk.Advance(4 * time.Second)
	results := submitAll(context.Background(), b, 3)
	waitFor(func() bool { return b.pendingLen() == 1 && clk.Sleepers() == 1 })
	clk.Advance(time.Second)
	if clk.Sleepers() != 1 || b.pendingLen() != 1 {
		t.Fatalf("second batch sent at the first one's deadline: %v", rec.sent())
	}
	clk.Advance(4 * time.Second)
	checkRouted(t, results, 1)
}

func TestResultsRoutedToTheirCallers(t *testing.T) {
	const n = 100
	rec := &recorder{}
	b := newBatcher(t, 10, time.Hour, clock.NewFake(start), rec.send)
	reqs := make([]int, n)
	for i := range reqs {
		reqs[i] = i * 7
	}
	checkRouted(t, submitAll(context.Background(), b, reqs...), n)
	got := rec.sent()
	var all []int
	for _, batch := range got {
		if len(batch) != 10 {
			t.Errorf("batch of %d, want 10", len(batch))
		}
		all = append(all, batch...)
	}
	slices.Sort(all)
	if len(got) != 10 || !slices.Equal(all, reqs) {
		t.Errorf("%d batches holding %v, want 10 holding every request once", len(got), all)
	}
}

func TestSendErrorFansOut(t *testing.T) {
	boom := errors.New("upstream down")
	b := newBatcher(t, 3, time.Hour, clock.NewFake(start), func(context.Context, []int) ([]string, error) {
		return nil, boom
	})
	results := submitAll(context.Background(), b, 1, 2, 3)
	for range 3 {
		if r := <-results; !errors.Is(r.err, boom) {
			t.Errorf("caller of %d: %v, want the Send error", r.req, r.err)
		}
	}
}

func TestWrongResponseCount(t *testing.T) {
	for _, extra := range []int{-1, 1} {
		b := newBatcher(t, 3, time.Hour, clock.NewFake(start), func(_ context.Context, reqs []int) ([]string, error) {
			return make([]string, len(reqs)+extra), nil
		})
		results := submitAll(context.Background(), b, 1, 2, 3)
		for range 3 {
			if r := <-results; !errors.Is(r.err, ErrResponseCount) {
				t.Errorf("%+d responses: caller of %d got %q, %v; want ErrResponseCount", extra, r.req, r.resp, r.err)
			}
		}
	}
}

func TestCancelledCallerIsRemoved(t *testing.T) {
	rec := &recorder{}
	clk := clock.NewFake(start)
	b := newBatcher(t, 10, 5*time.Second, clk, rec.send)
	ctx, cancel := context.WithCancel(context.Background())
	leaving := submitAll(ctx, b, 1)
	staying := submitAll(context.Background(), b, 2)
	waitFor(func() bool { return b.pendingLen() == 2 })

	cancel()
	if r := <-leaving; !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled caller: %q, %v", r.resp, r.err)
	}
	if n := b.pendingLen(); n != 1 {
		t.Errorf("%d requests pending after one caller left, want 1", n)
	}
	waitFor(func() bool { return clk.Sleepers() == 1 })
	clk.Advance(5 * time.Second)
	checkRouted(t, staying, 1)
	if got := rec.sent(); len(got) != 1 || !slices.Equal(got[0], []int{2}) {
		t.Errorf("batches %v, want [[2]]", got)
	}

	// When the last caller leaves, the batch and its timer go.
	ctx, cancel = context.WithCancel(context.Background())
	leaving = submitAll(ctx, b, 3)
	waitFor(func() bool { return b.pendingLen() == 1 && clk.Sleepers() == 1 })
	cancel()
	<-leaving
	waitFor(func() bool { return clk.Sleepers() == 0 })
	if b.pendingLen() != 0 || len(rec.sent()) != 1 {
		t.Errorf("empty batch still pending or sent: %d, %v", b.pendingLen(), rec.sent())
	}
}

func TestCancelledAfterSendStopsWaiting(t *testing.T) {
	rec := &recorder{hold: make(chan struct{})}
	b := newBatcher(t, 2, time.Hour, clock.NewFake(start), rec.send)
	ctx, cancel := context.WithCancel(context.Background())
	leaving := submitAll(ctx, b, 1)
	waitFor(func() bool { return b.pendingLen() == 1 })
	staying := submitAll(context.Background(), b, 2) // fills the batch; Send is held
	waitFor(func() bool { return b.pendingLen() == 0 })
	cancel()
	if r := <-leaving; !errors.Is(r.err, context.Canceled) {
		t.Errorf("caller cancelled during Send: %q, %v", r.resp, r.err)
	}
	close(rec.hold)
	checkRouted(t, staying, 1)
	if got := rec.sent(); len(got) != 1 || len(got[0]) != 2 {
		t.Errorf("batches %v: the request of the caller who left after the send is part of it", got)
	}
}

func TestCloseFlushesAndWaits(t *testing.T) {
	rec := &recorder{hold: make(chan struct{})}
	var finished atomic.Bool
	send := func(ctx context.Context, reqs []int) ([]string, error) {
		defer finished.Store(true)
		return rec.send(ctx, reqs)
	}
	b, err := New(Config[int, string]{MaxSize: 10, MaxDelay: time.Hour, Clock: clock.NewFake(start), Send: send})
	if err != nil {
		t.Fatal(err)
	}
	results := submitAll(context.Background(), b, 1, 2)
	waitFor(func() bool { return b.pendingLen() == 2 })

	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	waitFor(func() bool { return b.pendingLen() == 0 })
	close(rec.hold)
	<-closed
	if !finished.Load() {
		t.Error("Close returned before the Send it started had finished")
	}
	checkRouted(t, results, 2)
	if got := rec.sent(); len(got) != 1 || len(got[0]) != 2 {
		t.Errorf("batches %v, want the two pending requests sent by Close", got)
	}
	if _, err := b.Submit(context.Background(), 3); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	b.Close() // twice is fine
}

func TestSubmitWithDoneContext(t *testing.T) {
	rec := &recorder{}
	b := newBatcher(t, 1, time.Hour, clock.NewFake(start), rec.send)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Submit(ctx, 1); !errors.Is(err, context.Canceled) || b.pendingLen() != 0 {
		t.Errorf("done context: %v, %d pending", err, b.pendingLen())
	}
	// MaxSize 1 sends every request on its own, at once.
	if resp, err := b.Submit(context.Background(), 2); resp != "resp-2" || err != nil {
		t.Errorf("MaxSize 1: %q, %v", resp, err)
	}
}

func TestRealClock(t *testing.T) {
	// No Clock: the real one. Only the outcome is checked, not how long it took.
	rec := &recorder{}
	b := newBatcher(t, 100, time.Millisecond, nil, rec.send)
	checkRouted(t, submitAll(context.Background(), b, 1, 2), 2)
}

func TestNewValidates(t *testing.T) {
	send := (&recorder{}).send
	for name, cfg := range map[string]Config[int, string]{
		"size 0":   {MaxSize: 0, MaxDelay: time.Second, Send: send},
		"delay 0":  {MaxSize: 1, MaxDelay: 0, Send: send},
		"no Send":  {MaxSize: 1, MaxDelay: time.Second},
		"negative": {MaxSize: -1, MaxDelay: -time.Second, Send: send},
	} {
		if b, err := New(cfg); err == nil {
			b.Close()
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// TestNewStartsNothing: a Batcher built and dropped (a configuration that was rejected)
// leaves no goroutine behind, and one closed before its first request closes at once.
func TestNewStartsNothing(t *testing.T) {
	r := &recorder{}
	dropped, err := New(Config[int, string]{MaxSize: 2, MaxDelay: time.Second, Send: r.send})
	if err != nil || dropped == nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
	b := newBatcher(t, 2, time.Second, clock.NewFake(start), r.send)
	b.Close()
	if _, err := b.Submit(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
}
