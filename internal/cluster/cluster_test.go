package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// cutOff is a store a test can cut this node off from: every call fails, as when the
// node's database connection is lost.
type cutOff struct {
	Store
	off  atomic.Bool
	hang atomic.Bool // calls hang until their context ends instead: a black-holed database
}

var errCutOff = errors.New("cut off")

func (c *cutOff) LeaseAcquire(ctx context.Context, p store.LeaseAcquireParams) (store.Lease, bool, error) {
	if c.hang.Load() {
		<-ctx.Done()
		return store.Lease{}, false, ctx.Err()
	}
	if c.off.Load() {
		return store.Lease{}, false, errCutOff
	}
	return c.Store.LeaseAcquire(ctx, p)
}

func (c *cutOff) NodeHeartbeat(ctx context.Context, p store.NodeHeartbeatParams) error {
	if c.off.Load() {
		return errCutOff
	}
	return c.Store.NodeHeartbeat(ctx, p)
}

// changes records a lease's OnChange calls.
type changes struct {
	mu  sync.Mutex
	got []bool
}

func (c *changes) add(held bool) {
	c.mu.Lock()
	c.got = append(c.got, held)
	c.mu.Unlock()
}

func (c *changes) list() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.got...)
}

// TestLeaseTakenOverWhenHolderStopsRenewing: node a holds the lease; cut off from the
// database it can no longer renew, gives the lease up when its time to live runs out,
// and node b, trying all along, takes it over — never while a still believes it holds
// it. Then a, reconnected, does not get it back while b renews.
func TestLeaseTakenOverWhenHolderStopsRenewing(t *testing.T) {
	st := openStore(t)
	const ttl, renew = 300 * time.Millisecond, 50 * time.Millisecond
	ctx := context.Background()
	aStore := &cutOff{Store: st}
	var aChanges, bChanges changes
	a, err := NewLease(LeaseOptions{Store: aStore, Name: "job-scheduler", Holder: "a", TTL: ttl, Renew: renew, OnChange: aChanges.add})
	if err != nil {
		t.Fatal(err)
	}
	a.Start(ctx)
	testkit.WaitFor(t, "a to take the lease", a.Held)

	var overlap atomic.Bool
	b, err := NewLease(LeaseOptions{Store: st, Name: "job-scheduler", Holder: "b", TTL: ttl, Renew: renew, OnChange: func(held bool) {
		if held && a.Held() {
			overlap.Store(true)
		}
		bChanges.add(held)
	}})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(ctx)
	defer b.Stop(ctx)
	// b keeps trying while a renews: several rounds of b's tries pass without a gain.
	leases, _ := st.LeaseList(ctx)
	first := leases[0].ExpiresAt
	testkit.WaitFor(t, "a to renew a few times", func() bool {
		l, _ := st.LeaseList(ctx)
		return len(l) == 1 && l[0].ExpiresAt.Sub(first) >= 3*renew
	})
	if b.Held() || !a.Held() {
		t.Fatalf("while a renews: a held %v, b held %v", a.Held(), b.Held())
	}

	cut := time.Now()
	aStore.off.Store(true)
	testkit.WaitFor(t, "b to take the lease over", b.Held)
	took := time.Since(cut)
	if a.Held() {
		t.Error("a still believes it holds the lease after b took it")
	}
	if overlap.Load() {
		t.Error("b gained the lease while a still held it")
	}
	if took > ttl+renew+5*time.Second { // generous: scheduling on a loaded machine under -race
		t.Errorf("takeover took %v, the time to live is %v", took, ttl)
	}
	if got := aChanges.list(); len(got) != 2 || !got[0] || got[1] {
		t.Errorf("a's changes = %v, want [true false]", got)
	}
	// Reconnected, a finds b's lease and stays without it.
	aStore.off.Store(false)
	l, _ := st.LeaseList(ctx)
	seen := l[0].ExpiresAt
	testkit.WaitFor(t, "b to renew after a reconnected", func() bool {
		l, _ := st.LeaseList(ctx)
		return l[0].ExpiresAt.Sub(seen) >= 2*renew
	})
	if a.Held() || !b.Held() {
		t.Errorf("after a reconnected: a held %v, b held %v", a.Held(), b.Held())
	}
	if err := a.Stop(ctx); err != nil {
		t.Error(err)
	}
	if got := bChanges.list(); len(got) != 1 || !got[0] {
		t.Errorf("b's changes = %v, want [true]", got)
	}
	t.Logf("takeover %v after the holder was cut off (time to live %v, renewal every %v)", took.Round(time.Millisecond), ttl, renew)
}

// TestLeaseReleasedAtStop: a lease given up at Stop is free at once, long before its
// time to live would let another node take it.
func TestLeaseReleasedAtStop(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	var aChanges changes
	a, err := NewLease(LeaseOptions{Store: st, Name: "retention", Holder: "a", TTL: time.Hour, Renew: 10 * time.Millisecond, OnChange: aChanges.add})
	if err != nil {
		t.Fatal(err)
	}
	a.Start(ctx)
	testkit.WaitFor(t, "a to take the lease", a.Held)
	b, err := NewLease(LeaseOptions{Store: st, Name: "retention", Holder: "b", TTL: time.Hour, Renew: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(ctx)
	defer b.Stop(ctx)
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Held() {
		t.Error("a holds the lease after Stop")
	}
	testkit.WaitFor(t, "b to take the released lease", b.Held)
	if got := aChanges.list(); len(got) != 2 || !got[0] || got[1] {
		t.Errorf("a's changes = %v, want [true false]", got)
	}
}

func TestLeaseOptions(t *testing.T) {
	st := openStore(t)
	for _, o := range []LeaseOptions{
		{Name: "x", Holder: "a"},
		{Store: st, Holder: "a"},
		{Store: st, Name: "x"},
		{Store: st, Name: "x", Holder: "a", TTL: time.Second, Renew: time.Second},
		{Store: st, Name: "x", Holder: "a", TTL: -time.Second},
	} {
		if _, err := NewLease(o); err == nil {
			t.Errorf("NewLease(%+v) succeeded", o)
		}
	}
	l, err := NewLease(LeaseOptions{Store: st, Name: "x", Holder: "a"})
	if err != nil || l.opts.TTL != TTLDefault || l.opts.Renew != TTLDefault/3 {
		t.Errorf("defaults: %+v, %v", l, err)
	}
}

// TestNodeHeartbeatsAndStops: a node registers, heartbeats, shows a new configuration
// version at once, holds its leases in the status, and at Stop is marked stopped with
// its leases released; a node that stopped heartbeating shows as down.
func TestNodeHeartbeatsAndStops(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	const ttl, renew = 400 * time.Millisecond, 50 * time.Millisecond
	shared := map[string]string{"circuits": "per-node"}
	a, err := New(Options{Store: st, ID: "a", Address: "127.0.0.1:1", Version: "v1", ConfigVersion: "c1", TTL: ttl, Renew: renew, SharedState: shared})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// b registers and then dies: it never heartbeats.
	bStore := &cutOff{Store: st}
	b, err := New(Options{Store: bStore, ID: "b", Address: "127.0.0.1:2", Version: "v1", ConfigVersion: "c1", TTL: ttl, Renew: renew})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	bStore.off.Store(true)
	defer b.Stop(ctx)

	lease, err := a.Lease(ctx, "job-scheduler", nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "a to hold its lease", lease.Held)
	var registered time.Time
	nodes, _ := st.NodeList(ctx)
	for _, n := range nodes {
		if n.ID == "a" {
			registered = n.HeartbeatAt
		}
	}
	testkit.WaitFor(t, "a heartbeat", func() bool {
		nodes, _ := st.NodeList(ctx)
		return len(nodes) == 2 && nodes[0].HeartbeatAt.After(registered)
	})
	a.SetConfigVersion("c2")
	var s Status
	testkit.WaitFor(t, "b down and a's new configuration", func() bool {
		s, err = a.Status(ctx)
		return err == nil && len(s.Nodes) == 2 && s.Nodes[1].State == NodeDown && s.Nodes[0].ConfigVersion == "c2"
	})
	got := s.Nodes[0]
	if got.ID != "a" || !got.Self || got.State != NodeUp || got.Address != "127.0.0.1:1" || len(got.Leases) != 1 || got.Leases[0] != "job-scheduler" || got.ConfigDiffers {
		t.Errorf("a in the status = %+v", got)
	}
	if s.SharedState["circuits"] != "per-node" || s.LeaseTTL != ttl.Seconds() {
		t.Errorf("status = %+v", s)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if lease.Held() {
		t.Error("the lease is held after the node stopped")
	}
	nodes, _ = st.NodeList(ctx)
	leases, _ := st.LeaseList(ctx)
	if nodes[0].StoppedAt == nil || len(leases) != 0 {
		t.Errorf("after Stop: node %+v, leases %+v", nodes[0], leases)
	}
}

func TestStatusConfigDiffers(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	node := func(id, version string, silent time.Duration, stopped bool) store.Node {
		n := store.Node{ID: id, ConfigVersion: version, StartedAt: now.Add(-time.Hour), HeartbeatAt: now.Add(-silent)}
		if stopped {
			n.StoppedAt = &n.HeartbeatAt
		}
		return n
	}
	for _, c := range []struct {
		name  string
		nodes []store.Node
		want  map[string]bool // id → differs
	}{
		{"agree", []store.Node{node("a", "x", 0, false), node("b", "x", 0, false)}, map[string]bool{}},
		{"one of three", []store.Node{node("a", "x", 0, false), node("b", "y", 0, false), node("c", "x", 0, false)}, map[string]bool{"b": true}},
		{"tie", []store.Node{node("a", "x", 0, false), node("b", "y", 0, false)}, map[string]bool{"a": true, "b": true}},
		{"down and stopped nodes do not count", []store.Node{node("a", "x", 0, false), node("b", "y", time.Minute, false), node("c", "z", 0, true)}, map[string]bool{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := status(c.nodes, nil, now, 15*time.Second, "a")
			for _, n := range s.Nodes {
				if n.ConfigDiffers != c.want[n.ID] {
					t.Errorf("%s differs = %v, want %v", n.ID, n.ConfigDiffers, c.want[n.ID])
				}
			}
		})
	}
	s := status([]store.Node{node("a", "x", 0, false), node("b", "x", 16*time.Second, false), node("c", "x", 0, true)},
		[]store.Lease{{Name: "retention", Holder: "a", ExpiresAt: now.Add(time.Second)}, {Name: "old", Holder: "a", ExpiresAt: now}},
		now, 15*time.Second, "a")
	if s.Nodes[0].State != NodeUp || s.Nodes[1].State != NodeDown || s.Nodes[2].State != NodeStopped {
		t.Errorf("states = %s %s %s", s.Nodes[0].State, s.Nodes[1].State, s.Nodes[2].State)
	}
	if len(s.Nodes[0].Leases) != 1 || s.Nodes[0].Leases[0] != "retention" {
		t.Errorf("a's leases = %v, want the unexpired one", s.Nodes[0].Leases)
	}
}

// TestLeaseGivenUpWhenRenewalHangs: node a holds the lease and its database stops
// answering (a black hole: the renewal neither succeeds nor fails). a must give the lease
// up (OnChange(false), which stops its duty) by the lease's local deadline, before node
// b can take it over; a renewal call left hanging must not hold the step-down back.
func TestLeaseGivenUpWhenRenewalHangs(t *testing.T) {
	st := openStore(t)
	const ttl, renew = 600 * time.Millisecond, 100 * time.Millisecond
	ctx := context.Background()
	aStore := &cutOff{Store: st}
	var aGaveUp atomic.Bool
	a, err := NewLease(LeaseOptions{Store: aStore, Name: "flow-source:x", Holder: "a", TTL: ttl, Renew: renew, OnChange: func(held bool) {
		if !held {
			aGaveUp.Store(true)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	a.Start(ctx)
	defer a.Stop(ctx)
	testkit.WaitFor(t, "a to take the lease", a.Held)

	aStore.hang.Store(true)
	cut := time.Now()
	var overlap atomic.Bool
	b, err := NewLease(LeaseOptions{Store: st, Name: "flow-source:x", Holder: "b", TTL: ttl, Renew: renew, OnChange: func(held bool) {
		if held && !aGaveUp.Load() {
			overlap.Store(true)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(ctx)
	defer b.Stop(ctx)
	testkit.WaitFor(t, "b to take the lease over", b.Held)
	if overlap.Load() {
		t.Errorf("b gained the lease %v after a's database stopped answering, while a had not yet given it up", time.Since(cut).Round(time.Millisecond))
	}
	testkit.WaitFor(t, "a to give the lease up", aGaveUp.Load)
}
