package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// TestClaimCommitSettingStaysInItsTransaction: a claim commits without waiting for the
// WAL flush; that setting must end with the claim, or publications made later on the
// same pooled connection would be acknowledged before they are durable.
func TestClaimCommitSettingStaysInItsTransaction(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	now := time.Now().UTC()
	createEndpoint(t, s, now)
	if _, _, err := s.EventPublish(ctx, event.Event{ID: "ev", Type: "t", Time: now}, []store.Delivery{{ID: "d", EndpointID: "ep"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		got, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: now, Limit: 1, Lease: time.Minute, Owner: "w"})
		if want := map[bool]int{true: 1}[i == 0]; err != nil || len(got) != want {
			t.Fatalf("claim %d: %d, %v", i, len(got), err)
		}
	}
	conns := s.pool.AcquireAllIdle(ctx)
	if len(conns) == 0 {
		t.Fatal("no idle connection to check")
	}
	for _, c := range conns {
		var setting string
		if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&setting); err != nil || setting != "on" {
			t.Errorf("synchronous_commit = %q, %v on a pooled connection after claims, want on", setting, err)
		}
		c.Release()
	}
}

// TestPublishGroupGivesEachCallItsOutcome: concurrent publications are committed in
// batches (publish.go); each caller must still get its own outcome, and one that fails
// (here a delivery ID already taken) must fail alone, not its batch.
func TestPublishGroupGivesEachCallItsOutcome(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	now := time.Now().UTC()
	createEndpoint(t, s, now)
	if _, _, err := s.EventPublish(ctx, event.Event{ID: "first", Type: "t", Time: now}, []store.Delivery{{ID: "taken", EndpointID: "ep"}}); err != nil {
		t.Fatal(err)
	}
	const publishers = 40
	errs := make([]error, publishers)
	counts := make([]int, publishers)
	created := make([]bool, publishers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range publishers {
		wg.Go(func() {
			ds := []store.Delivery{{ID: fmt.Sprintf("d-%d-a", i), EndpointID: "ep"}, {ID: fmt.Sprintf("d-%d-b", i), EndpointID: "ep"}}
			if i == 7 {
				ds[1].ID = "taken"
			}
			<-start
			created[i], counts[i], errs[i] = s.EventPublish(ctx, event.Event{ID: fmt.Sprintf("ev-%d", i), Type: "t", Time: now}, ds)
		})
	}
	close(start)
	wg.Wait()
	for i := range publishers {
		switch {
		case i == 7 && errs[i] == nil:
			t.Errorf("publication %d with a delivery ID already taken succeeded", i)
		case i != 7 && (errs[i] != nil || !created[i] || counts[i] != 2):
			t.Errorf("publication %d: created %v, %d deliveries, %v; want created, 2, nil", i, created[i], counts[i], errs[i])
		}
	}
	if _, err := s.EventGet(ctx, "ev-7"); err == nil {
		t.Error("the failed publication's event was stored")
	}
	if _, total, err := s.DeliveryList(ctx, store.DeliveryFilter{EndpointID: "ep", Page: store.Page{Page: 1, Limit: 100}}); err != nil || total != 1+2*(publishers-1) {
		t.Errorf("deliveries stored: %d, %v; want %d", total, err, 1+2*(publishers-1))
	}
}

// TestPublishGroupWithOneEventTwice: publications of one event ID that meet in a batch
// (a client retrying POST /events while its first request is still being committed)
// create the event once, with the deliveries of one of them; the others learn it exists
// and how many deliveries it has.
func TestPublishGroupWithOneEventTwice(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	now := time.Now().UTC()
	createEndpoint(t, s, now)
	const publishers = 40
	created, counts, errs := make([]bool, publishers), make([]int, publishers), make([]error, publishers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range publishers {
		wg.Go(func() {
			id := "twice"
			if i%2 == 1 {
				id = fmt.Sprintf("once-%d", i)
			}
			ds := []store.Delivery{{ID: fmt.Sprintf("d-%d-a", i), EndpointID: "ep"}, {ID: fmt.Sprintf("d-%d-b", i), EndpointID: "ep"}}
			<-start
			created[i], counts[i], errs[i] = s.EventPublish(ctx, event.Event{ID: id, Type: "t", Time: now}, ds)
		})
	}
	close(start)
	wg.Wait()
	firsts := 0
	for i := range publishers {
		if errs[i] != nil || counts[i] != 2 {
			t.Errorf("publication %d: %d deliveries, %v; want 2, nil", i, counts[i], errs[i])
		}
		if created[i] && i%2 == 0 {
			firsts++
		}
		if !created[i] && i%2 == 1 {
			t.Errorf("publication %d of an event of its own: not created", i)
		}
	}
	if firsts != 1 {
		t.Errorf("event \"twice\" created by %d publications, want 1", firsts)
	}
	var stored int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE event_id = 'twice'`).Scan(&stored); err != nil || stored != 2 {
		t.Errorf("deliveries of event \"twice\": %d, %v; want 2", stored, err)
	}
}

// TestClaimKeepsTheQueueFast: without statistics the planner sorted the whole queue on
// every claim, and with autovacuum's round of a minute claims read through pages of
// dead index entries (analyze.go). Claims must get delivery_queue analyzed once it has
// changed well past autovacuum's threshold, and vacuumed once it holds thousands of dead
// rows, whether autovacuum runs or not.
func TestClaimKeepsTheQueueFast(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	// Autovacuum must not be the one that does it here.
	if _, err := s.pool.Exec(ctx, `ALTER TABLE delivery_queue SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	createEndpoint(t, s, now)
	for i := range 30 {
		ds := make([]store.Delivery, 100)
		for j := range ds {
			ds[j] = store.Delivery{ID: fmt.Sprintf("d-%d-%d", i, j), EndpointID: "ep"}
		}
		if _, _, err := s.EventPublish(ctx, event.Event{ID: fmt.Sprintf("ev-%d", i), Type: "t", Time: now}, ds); err != nil {
			t.Fatal(err)
		}
	}
	// Each claim and each outcome leaves a dead queue row: 6,000 in all.
	for {
		claimed, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: now, Limit: 500, Lease: time.Minute, Owner: "w"})
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) == 0 {
			break
		}
		records := make([]store.AttemptRecord, len(claimed))
		for i, c := range claimed {
			records[i] = store.AttemptRecord{DeliveryID: c.Delivery.ID, EndpointID: "ep", Status: store.DeliveryDelivered,
				AttemptCount: 1, DeliveredAt: &now, Success: true, At: now, CircuitGeneration: c.Endpoint.CircuitGeneration}
		}
		if err := s.DeliveryRecord(ctx, records); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: now, Limit: 1, Lease: time.Minute, Owner: "w"}); err != nil {
			t.Fatal(err)
		}
		var analyzed, vacuumed bool
		err := s.pool.QueryRow(ctx, `SELECT last_analyze IS NOT NULL, last_vacuum IS NOT NULL
			FROM pg_stat_user_tables WHERE relid = 'delivery_queue'::regclass`).Scan(&analyzed, &vacuumed)
		if err != nil {
			t.Fatal(err)
		}
		if analyzed && vacuumed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery_queue analyzed %v, vacuumed %v, 30 s after 3,000 deliveries went through it; want both", analyzed, vacuumed)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPublishAfterClose: a publication on a closed store fails at once rather than
// waiting for committers that have stopped, and closing twice is harmless.
func TestPublishAfterClose(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	now := time.Now().UTC()
	if _, _, err := s.EventPublish(ctx, event.Event{ID: "before", Type: "t", Time: now}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EventPublish(ctx, event.Event{ID: "after", Type: "t", Time: now}, nil); err == nil || !s.Unavailable(err) {
		t.Errorf("EventPublish after Close: %v, want an error the store calls unavailable", err)
	}
}
