package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/testkit"
)

// TestLeaseHolderAndNextTry: a node that does not hold a lease knows who does, and
// tries again when that node's lease runs out rather than a whole renewal interval
// later, so a dead holder's duty moves within the time to live of its last renewal.
func TestLeaseHolderAndNextTry(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const ttl, renew = 15 * time.Second, 5 * time.Second
	if _, held, err := st.LeaseAcquire(ctx, store.LeaseAcquireParams{Name: "flow-source:f", Holder: "a", Now: now.Add(-14 * time.Second), TTL: ttl}); err != nil || !held {
		t.Fatalf("a's acquire = %v, %v", held, err)
	}
	b, err := NewLease(LeaseOptions{Store: st, Name: "flow-source:f", Holder: "b", TTL: ttl, Renew: renew, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if h := b.Holder(); h != "" {
		t.Fatalf("Holder before any answer = %q", h)
	}
	b.try(ctx)
	if b.Held() || b.Holder() != "a" {
		t.Fatalf("b: held %v, holder %q; want a's", b.Held(), b.Holder())
	}
	// a's lease runs out in 1 s: b tries then (and a millisecond), not in 5 s.
	if w := b.nextTry(); w != time.Second+time.Millisecond {
		t.Fatalf("b's next try in %v; want 1.001s", w)
	}
	now = now.Add(time.Second + time.Millisecond)
	b.try(ctx)
	if !b.Held() || b.Holder() != "b" {
		t.Fatalf("after a's expiry: b held %v, holder %q", b.Held(), b.Holder())
	}
	if w := b.nextTry(); w != renew {
		t.Fatalf("holder's next try in %v; want the renewal interval", w)
	}
	// A lease that does not expire before the next renewal interval does not bring it forward.
	c, _ := NewLease(LeaseOptions{Store: st, Name: "flow-source:f", Holder: "c", TTL: ttl, Renew: renew, Clock: clock})
	c.try(ctx)
	if c.Holder() != "b" || c.nextTry() != renew {
		t.Fatalf("c: holder %q, next try %v", c.Holder(), c.nextTry())
	}
}

// TestSoloNodeFreesStaleLeases: on a store one process uses (SQLite), a restarted node
// under a new id takes the leases its previous life left at once instead of waiting out
// their time to live; a node that is not solo leaves them.
func TestSoloNodeFreesStaleLeases(t *testing.T) {
	for _, solo := range []bool{true, false} {
		st := openStore(t)
		ctx := context.Background()
		if _, held, err := st.LeaseAcquire(ctx, store.LeaseAcquireParams{Name: "retention", Holder: "old", Now: time.Now(), TTL: time.Hour}); err != nil || !held {
			t.Fatalf("old's acquire = %v, %v", held, err)
		}
		n, err := New(Options{Store: st, ID: "new", Solo: solo, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		l, err := n.Lease(ctx, "retention", nil)
		if err != nil {
			t.Fatal(err)
		}
		if solo {
			testkit.WaitFor(t, "the solo node to take the lease", l.Held)
		} else {
			testkit.WaitFor(t, "an answer", func() bool { return l.Holder() != "" })
			if l.Held() || l.Holder() != "old" {
				t.Errorf("not solo: held %v by %q; want old's lease left alone", l.Held(), l.Holder())
			}
		}
		if err := n.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNodeForgetsStoppedLease: a lease stopped on its own (a flow stopped, a runtime
// replaced) is dropped from its node, released in the store, and not stopped again by
// the node's Stop.
func TestNodeForgetsStoppedLease(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	n, err := New(Options{Store: st, ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var c changes
	l, err := n.Lease(ctx, "flow-source:f", c.add)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the lease", l.Held)
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	left := len(n.leases)
	n.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d leases still listed on the node", left)
	}
	if rows, _ := st.LeaseList(ctx); len(rows) != 0 {
		t.Fatalf("lease rows after Stop: %+v", rows)
	}
	if l.Holder() != "" {
		t.Fatalf("Holder after Stop = %q", l.Holder())
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.list(); len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("OnChange calls = %v; want gained, given up", got)
	}
}
