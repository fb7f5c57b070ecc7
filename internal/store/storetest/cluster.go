package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// runCluster adds the store.ClusterStore subtests; migrated opens a fresh, migrated store.
func runCluster(t *testing.T, migrated func(t *testing.T) store.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, store.Store)
	}{
		{"LeaseAcquireRenewExpire", testLeaseAcquireRenewExpire},
		{"LeaseAcquireConcurrent", testLeaseAcquireConcurrent},
		{"LeaseRelease", testLeaseRelease},
		{"LeaseAcquireInvalid", testLeaseAcquireInvalid},
		{"NodeRegisterHeartbeatStop", testNodeRegisterHeartbeatStop},
		{"NodePrune", testNodePrune},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, migrated(t)) })
	}
}

func acquire(t *testing.T, s store.Store, name, holder string, now time.Time, ttl time.Duration) (store.Lease, bool) {
	t.Helper()
	l, held, err := s.LeaseAcquire(context.Background(), store.LeaseAcquireParams{Name: name, Holder: holder, Now: now, TTL: ttl})
	if err != nil {
		t.Fatalf("LeaseAcquire %s by %s at %v: %v", name, holder, now, err)
	}
	return l, held
}

func testLeaseAcquireRenewExpire(t *testing.T, s store.Store) {
	const ttl = 15 * time.Second
	l, held := acquire(t, s, "job-scheduler", "a", t0, ttl)
	want := store.Lease{Name: "job-scheduler", Holder: "a", AcquiredAt: t0, ExpiresAt: t0.Add(ttl)}
	if !held || l != want {
		t.Fatalf("first acquire = %+v, %v; want %+v, held", l, held, want)
	}
	// Another node is refused while the lease lasts, and told who holds it.
	if l, held := acquire(t, s, "job-scheduler", "b", t0.Add(ttl-time.Microsecond), ttl); held || l != want {
		t.Errorf("acquire by b before expiry = %+v, %v; want %+v, not held", l, held, want)
	}
	// The holder renews, keeping when it took the lease.
	renewed := t0.Add(10 * time.Second)
	if l, held := acquire(t, s, "job-scheduler", "a", renewed, ttl); !held || !l.AcquiredAt.Equal(t0) || !l.ExpiresAt.Equal(renewed.Add(ttl)) {
		t.Errorf("renewal = %+v, %v; want held until %v, acquired at %v", l, held, renewed.Add(ttl), t0)
	}
	// Another lease is its own.
	if _, held := acquire(t, s, "retention", "b", t0, ttl); !held {
		t.Error("b could not take another lease")
	}
	// Once it expires, another node takes it over.
	over := renewed.Add(ttl)
	l, held = acquire(t, s, "job-scheduler", "b", over, ttl)
	if want := (store.Lease{Name: "job-scheduler", Holder: "b", AcquiredAt: over, ExpiresAt: over.Add(ttl)}); !held || l != want {
		t.Errorf("acquire by b at expiry = %+v, %v; want %+v, held", l, held, want)
	}
	// The old holder's late renewal does not take it back.
	if l, held := acquire(t, s, "job-scheduler", "a", over.Add(time.Second), ttl); held || l.Holder != "b" {
		t.Errorf("late renewal by a = %+v, %v; want b's lease, not held", l, held)
	}
	leases, err := s.LeaseList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != 2 || leases[0].Name != "job-scheduler" || leases[0].Holder != "b" || leases[1].Name != "retention" {
		t.Errorf("LeaseList = %+v", leases)
	}
}

func testLeaseAcquireConcurrent(t *testing.T, s store.Store) {
	const n = 8
	// Twice: a free lease, then an expired one; each time exactly one node wins.
	for round, now := range []time.Time{t0, t0.Add(time.Hour)} {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		for i := range n {
			wg.Go(func() {
				holder := fmt.Sprintf("node-%d-%d", round, i)
				_, held, err := s.LeaseAcquire(context.Background(), store.LeaseAcquireParams{Name: "source:events:orders", Holder: holder, Now: now, TTL: time.Minute})
				if err != nil {
					t.Errorf("acquire by %s: %v", holder, err)
				}
				if held {
					mu.Lock()
					winners = append(winners, holder)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Errorf("round %d: %d nodes hold the lease (%v), want 1", round, len(winners), winners)
		}
	}
}

func testLeaseRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	acquire(t, s, "retention", "a", t0, time.Minute)
	if ok, err := s.LeaseRelease(ctx, "retention", "b"); err != nil || ok {
		t.Errorf("release by a node not holding it = %v, %v; want false", ok, err)
	}
	if ok, err := s.LeaseRelease(ctx, "retention", "a"); err != nil || !ok {
		t.Errorf("release by its holder = %v, %v; want true", ok, err)
	}
	if ok, err := s.LeaseRelease(ctx, "retention", "a"); err != nil || ok {
		t.Errorf("second release = %v, %v; want false", ok, err)
	}
	// Released, it is free at once, long before it would have expired.
	if _, held := acquire(t, s, "retention", "b", t0.Add(time.Second), time.Minute); !held {
		t.Error("b could not take a released lease")
	}
	if ok, err := s.LeaseRelease(ctx, "never\x00taken", "a"); err != nil || ok {
		t.Errorf("release of an unstorable name = %v, %v; want false, nil", ok, err)
	}
}

func testLeaseAcquireInvalid(t *testing.T, s store.Store) {
	for _, p := range []store.LeaseAcquireParams{
		{Name: "", Holder: "a", Now: t0, TTL: time.Second},
		{Name: "x", Holder: "", Now: t0, TTL: time.Second},
		{Name: "x\x00", Holder: "a", Now: t0, TTL: time.Second},
		{Name: "x", Holder: "a", Now: t0, TTL: 0},
		{Name: "x", Holder: "a", TTL: time.Second},
	} {
		if _, held, err := s.LeaseAcquire(context.Background(), p); err == nil || held {
			t.Errorf("LeaseAcquire(%+v) = %v, %v; want an error", p, held, err)
		}
	}
}

func testNodeRegisterHeartbeatStop(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.Node{ID: "a", Address: "10.0.0.1:8080", Version: "1.2.3", ConfigVersion: "c1", StartedAt: t0, HeartbeatAt: t0}
	b := store.Node{ID: "b", Address: "10.0.0.2:8080", Version: "1.2.3", ConfigVersion: "c1", StartedAt: t0.Add(time.Second), HeartbeatAt: t0.Add(time.Second)}
	for _, n := range []store.Node{b, a} {
		if err := s.NodeRegister(ctx, n); err != nil {
			t.Fatalf("NodeRegister %s: %v", n.ID, err)
		}
	}
	beat := t0.Add(5 * time.Second)
	if err := s.NodeHeartbeat(ctx, store.NodeHeartbeatParams{ID: "a", At: beat, ConfigVersion: "c2"}); err != nil {
		t.Fatalf("NodeHeartbeat: %v", err)
	}
	stopped := t0.Add(6 * time.Second)
	if err := s.NodeStop(ctx, "b", stopped); err != nil {
		t.Fatalf("NodeStop: %v", err)
	}
	nodes, err := s.NodeList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantA := a
	wantA.HeartbeatAt, wantA.ConfigVersion = beat, "c2"
	if len(nodes) != 2 || nodes[0] != wantA || nodes[1].ID != "b" || nodes[1].StoppedAt == nil || !nodes[1].StoppedAt.Equal(stopped) {
		t.Errorf("NodeList = %+v; want %+v then b stopped at %v", nodes, wantA, stopped)
	}
	// A restart under the same id replaces the row and clears the stop.
	b.StartedAt, b.HeartbeatAt = t0.Add(time.Minute), t0.Add(time.Minute)
	if err := s.NodeRegister(ctx, b); err != nil {
		t.Fatal(err)
	}
	nodes, err = s.NodeList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[1] != b {
		t.Errorf("after b's restart NodeList = %+v; want b as %+v", nodes, b)
	}
	for name, err := range map[string]error{
		"heartbeat": s.NodeHeartbeat(ctx, store.NodeHeartbeatParams{ID: "gone", At: beat}),
		"stop":      s.NodeStop(ctx, "gone", beat),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of an unknown node: %v, want ErrNotFound", name, err)
		}
	}
}

func testNodePrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, id := range []string{"old", "recent"} {
		at := t0.Add(time.Duration(i) * 24 * time.Hour)
		if err := s.NodeRegister(ctx, store.Node{ID: id, StartedAt: at, HeartbeatAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.NodePrune(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("NodePrune = %d, %v; want 1", n, err)
	}
	nodes, err := s.NodeList(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].ID != "recent" {
		t.Errorf("after pruning NodeList = %+v, %v; want recent only", nodes, err)
	}
}
