package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// joinCounter makes g report each caller that has joined a call, so a test can hold fn
// until every caller is waiting.
func joinCounter(g *Group, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(n)
	g.OnJoin = wg.Done
	return &wg
}

func TestGroupRunsOnce(t *testing.T) {
	const callers = 50
	g := NewGroup(time.Minute)
	joined := joinCounter(g, callers)
	release := make(chan struct{})
	var calls atomic.Int32

	type result struct {
		e      Entry
		shared bool
		err    error
	}
	results := make(chan result, callers)
	for range callers {
		go func() {
			e, shared, err := g.Do(ctx, "k", func(ctx context.Context) (Entry, error) {
				calls.Add(1)
				<-release
				return entry("upstream"), nil
			})
			results <- result{e, shared, err}
		}()
	}
	joined.Wait()
	close(release)
	var first Entry
	for i := range callers {
		r := <-results
		if r.err != nil || !r.shared || string(r.e.Body) != "upstream" {
			t.Fatalf("caller got %q shared=%v err=%v", r.e.Body, r.shared, r.err)
		}
		// Each caller has its own copy.
		if i == 0 {
			first = r.e
			first.Body[0] = 'X'
		} else if r.e.Body[0] != 'u' {
			t.Fatal("callers share one body")
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fn ran %d times for %d concurrent callers, want once", n, callers)
	}

	// Once the call is over, the next caller starts a new one.
	g.OnJoin = nil
	e, shared, err := g.Do(ctx, "k", func(context.Context) (Entry, error) { calls.Add(1); return entry("again"), nil })
	if err != nil || shared || string(e.Body) != "again" || calls.Load() != 2 {
		t.Errorf("later call: %q shared=%v err=%v calls=%d", e.Body, shared, err, calls.Load())
	}
}

func TestGroupCancelledCallerLeavesEarly(t *testing.T) {
	var g Group // the zero value works
	joined := joinCounter(&g, 2)
	release := make(chan struct{})
	fnCtxErr := make(chan error, 1)
	var hasDeadline bool
	fn := func(ctx context.Context) (Entry, error) {
		_, hasDeadline = ctx.Deadline()
		<-release
		fnCtxErr <- ctx.Err()
		return entry("upstream"), nil
	}

	cancelled, cancel := context.WithCancel(ctx)
	early := make(chan error, 1)
	go func() {
		_, _, err := g.Do(cancelled, "k", fn)
		early <- err
	}()
	other := make(chan Entry, 1)
	go func() {
		e, _, err := g.Do(ctx, "k", fn)
		if err != nil {
			t.Errorf("the other caller: %v", err)
		}
		other <- e
	}()
	joined.Wait()
	cancel()
	// The cancelled caller returns while fn is still held.
	if err := <-early; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want context.Canceled", err)
	}
	close(release)
	if e := <-other; string(e.Body) != "upstream" {
		t.Errorf("the other caller got %q", e.Body)
	}
	if err := <-fnCtxErr; err != nil {
		t.Errorf("fn's context ended with a caller: %v", err)
	}
	if !hasDeadline {
		t.Error("fn's context has no deadline; the shared call must be bounded")
	}
}

type ctxKey struct{}

func TestGroupErrorAndDoneContext(t *testing.T) {
	g := NewGroup(0)
	boom := errors.New("upstream down")
	if _, _, err := g.Do(ctx, "k", func(context.Context) (Entry, error) { return Entry{}, boom }); err != boom {
		t.Errorf("fn's error: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if _, _, err := g.Do(done, "k", func(context.Context) (Entry, error) { ran = true; return Entry{}, nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("done context: err=%v ran=%v; want Canceled without a call", err, ran)
	}
	// fn sees the values of the caller that started it.
	vctx := context.WithValue(ctx, ctxKey{}, "v")
	if _, _, err := g.Do(vctx, "k", func(c context.Context) (Entry, error) {
		if c.Value(ctxKey{}) != "v" {
			return Entry{}, errors.New("lost the caller's values")
		}
		return Entry{}, nil
	}); err != nil {
		t.Error(err)
	}
}
