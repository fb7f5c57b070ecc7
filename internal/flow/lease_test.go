package flow_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/memory"
	"github.com/junctionhq/junction/internal/flow"
)

// fakeLease is a source lease the test flips.
type fakeLease struct {
	name     string
	onChange func(bool)

	mu      sync.Mutex
	held    bool
	holder  string
	stopped atomic.Bool
}

func (l *fakeLease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

func (l *fakeLease) Holder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

func (l *fakeLease) Stop(context.Context) error {
	l.stopped.Store(true)
	l.set(false, "")
	return nil
}

// set changes the holding and tells the flow, as the lease's goroutine does.
func (l *fakeLease) set(held bool, holder string) {
	l.mu.Lock()
	was := l.held
	l.held, l.holder = held, holder
	l.mu.Unlock()
	if was != held {
		l.onChange(held)
	}
}

// countingSource wraps a memory source and counts its openings and closings.
type countingSource struct {
	*memory.Source
	opened, closed *atomic.Int64
}

func (s countingSource) Open(ctx context.Context, n int) (<-chan connector.Delivery, error) {
	s.opened.Add(1)
	return s.Source.Open(ctx, n)
}

func (s countingSource) Close() error {
	s.closed.Add(1)
	return nil
}

type leaseHarness struct {
	*harness
	opened, closed atomic.Int64
	mu             sync.Mutex
	leases         []*fakeLease
}

// newLeaseHarness runs src over memory connectors whose source is a singleton (or not),
// with a lease function that hands out fake leases held by nobody yet.
func newLeaseHarness(t *testing.T, src string, singleton bool) *leaseHarness {
	t.Helper()
	cfg, diags := config.Decode("test.cai", []byte(connectors+src))
	if err := diags.Err(); err != nil {
		t.Fatalf("config: %v", err)
	}
	lh := &leaseHarness{harness: &harness{
		t: t, src: memory.NewSource(1000),
		sinks: map[string]*memory.Sink{"a": {}, "b": {}},
		dlq:   newFakeDLQ(), calls: &fakeInternal{},
	}}
	kind := memory.Kind("memory", nil, lh.sinks)
	kind.NewSource = func(connector.Settings) (connector.Source, error) {
		return countingSource{lh.src, &lh.opened, &lh.closed}, nil
	}
	kind.Singleton = singleton
	e, err := flow.New(cfg, flow.Options{
		Kinds:       map[string]connector.Kind{"memory": kind},
		Env:         connector.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.Real{}, Internal: lh.calls},
		DeadLetters: lh.dlq,
		Lease: func(name string, onChange func(bool)) (flow.SourceLease, error) {
			l := &fakeLease{name: name, onChange: onChange}
			lh.mu.Lock()
			lh.leases = append(lh.leases, l)
			lh.mu.Unlock()
			return l, nil
		},
	})
	if err != nil {
		t.Fatalf("flow.New: %v", err)
	}
	lh.engine = e
	// newFlow opened and closed the source once to check it.
	lh.opened.Store(0)
	lh.closed.Store(0)
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(lh.stop)
	return lh
}

func (lh *leaseHarness) lease() *fakeLease {
	lh.t.Helper()
	lh.mu.Lock()
	defer lh.mu.Unlock()
	if len(lh.leases) == 0 {
		lh.t.Fatal("no lease was asked for")
	}
	return lh.leases[len(lh.leases)-1]
}

const passFlow = `flow orders { source: in
    sink a { connector: a } }`

func TestSingletonSourceOpensOnlyWhileLeaseHeld(t *testing.T) {
	lh := newLeaseHarness(t, passFlow, true)
	l := lh.lease()
	if l.name != "flow-source:orders" {
		t.Fatalf("lease name = %q, want flow-source:orders", l.name)
	}

	// Another node holds it: standby, with the holder shown, and the source stays shut.
	l.set(false, "node-b")
	lh.put(`{"n":1}`)
	lh.waitFor("standby with holder node-b", func() bool {
		st := lh.status("orders")
		return st.State == flow.StateStandby && st.SourceHolder == "node-b" && st.SourceLease == "flow-source:orders"
	})
	// In standby the run loop waits for the lease instead of opening: nothing opened.
	if n := lh.opened.Load(); n != 0 {
		t.Fatalf("source opened %d times while another node holds the lease", n)
	}
	if n := lh.sinks["a"].Count(); n != 0 {
		t.Fatalf("%d messages delivered in standby", n)
	}

	// Gained: the source opens and the queued message goes through.
	l.set(true, "node-a")
	lh.settled(1)
	lh.waitFor("running", func() bool { return lh.status("orders").State == flow.StateRunning })
	if st := lh.status("orders"); st.SourceHolder != "" {
		t.Fatalf("source_holder = %q while this node holds the lease", st.SourceHolder)
	}

	// A message in flight when the lease is lost finishes (delivered, not requeued).
	release := make(chan struct{})
	var blocked atomic.Bool
	lh.sinks["a"].Fail = func([]connector.Message) error {
		if blocked.CompareAndSwap(false, true) {
			<-release
		}
		return nil
	}
	lh.put(`{"n":2}`)
	lh.waitFor("message 2 at the sink", blocked.Load)
	l.set(false, "node-b")
	if n := lh.closed.Load(); n != 0 {
		t.Fatalf("source closed (%d) before its message in flight finished", n)
	}
	close(release)
	lh.settled(2)
	lh.waitFor("standby after the loss", func() bool { return lh.status("orders").State == flow.StateStandby })
	if n := lh.closed.Load(); n != 1 {
		t.Fatalf("source closed %d times after the loss; want 1", n)
	}
	if st := lh.status("orders"); st.Counters.Requeued != 0 || st.Counters.Delivered != 2 {
		t.Fatalf("counters after the loss = %+v; want 2 delivered, none requeued", st.Counters)
	}

	// Lost: nothing more is taken until it is gained again.
	lh.put(`{"n":3}`)
	if n := lh.sinks["a"].Count(); n != 2 {
		t.Fatalf("%d messages delivered; the 3rd was taken while standing by", n)
	}
	l.set(true, "node-a")
	lh.settled(3)
	if n := lh.opened.Load(); n != 2 {
		t.Fatalf("source opened %d times; want 2 (each gain)", n)
	}

	// Stopping the flow gives the lease up after the source closed.
	lh.stop()
	if !l.stopped.Load() {
		t.Fatal("the lease was not stopped with the flow")
	}
	if n := lh.closed.Load(); n != 2 {
		t.Fatalf("source closed %d times; want 2", n)
	}
	if st := lh.status("orders"); st.State != flow.StateStopped || st.SourceLease != "" {
		t.Fatalf("after stop: state %s, source_lease %q", st.State, st.SourceLease)
	}
}

func TestSingletonFlowRestartTakesNewLease(t *testing.T) {
	lh := newLeaseHarness(t, passFlow, true)
	first := lh.lease()
	first.set(true, "node-a")
	lh.waitFor("running", func() bool { return lh.status("orders").State == flow.StateRunning })
	f, err := lh.engine.Flow("orders")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.Stop(ctx)
	if !first.stopped.Load() {
		t.Fatal("stopping the flow did not give its lease up")
	}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	second := lh.lease()
	if second == first {
		t.Fatal("a restarted flow reused its stopped lease")
	}
	// Before the store's first answer nobody is known to hold it: starting, not standby.
	if st := lh.status("orders"); st.State != flow.StateStarting {
		t.Fatalf("state before the lease's first answer = %s, want starting", st.State)
	}
	second.set(true, "node-a")
	lh.put(`{"n":1}`)
	lh.settled(1)
}

func TestNonSingletonSourceTakesNoLease(t *testing.T) {
	lh := newLeaseHarness(t, passFlow, false)
	lh.put(`{"n":1}`)
	lh.settled(1)
	lh.mu.Lock()
	n := len(lh.leases)
	lh.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d leases taken for a source that is not a singleton", n)
	}
	if st := lh.status("orders"); st.SourceLease != "" {
		t.Fatalf("source_lease = %q", st.SourceLease)
	}
}
