package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
)

// TestQueueMigrationKeepsWaitingDeliveries: upgrading a database whose deliveries wait
// (due, not yet due, leased by a worker) moves each into delivery_queue so claims find
// them as before; delivered and failed ones stay out. Migrating down and up again keeps
// them too.
func TestQueueMigrationKeepsWaitingDeliveries(t *testing.T) {
	ctx := context.Background()
	s := openDSN(t, servicetest.PostgresDSN(t))
	if err := s.withMigrator(ctx, func(p *goose.Provider) error { _, err := p.UpTo(ctx, 18); return err }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	must := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	must(`INSERT INTO webhook_endpoints (id, url, secret, created_at, updated_at) VALUES ('ep', 'https://example.com', 'whsec_x', $1, $1)`, now)
	must(`INSERT INTO events (id, type, data, created_at) VALUES ('ev', 't', '{}', $1)`, now)
	for _, d := range []struct {
		id, status  string
		next, lease *time.Time
	}{
		{"d-due", "pending", new(now.Add(-time.Minute)), nil},
		{"d-later", "retrying", new(now.Add(time.Hour)), nil},
		{"d-leased", "pending", new(now.Add(-time.Minute)), new(now.Add(time.Hour))},
		{"d-lease-expired", "retrying", new(now.Add(-2 * time.Minute)), new(now.Add(-time.Second))},
		{"d-done", "delivered", nil, nil},
		{"d-failed", "failed", nil, nil},
	} {
		must(`INSERT INTO deliveries (id, endpoint_id, event_id, event_type, payload, status, max_attempts,
				next_retry_at, locked_until, locked_by, created_at, updated_at)
			VALUES ($1, 'ep', 'ev', 't', '{}', $2, 5, $3, $4, CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE 'old-worker' END, $5, $5)`,
			d.id, d.status, d.next, d.lease, now)
	}

	claimAll := func() []string {
		t.Helper()
		claimed, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: now, Limit: 10, Lease: time.Minute, Owner: "w"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range claimed {
			ids = append(ids, c.Delivery.ID)
		}
		slices.Sort(ids)
		return ids
	}
	queued := func() []string {
		t.Helper()
		rows, err := s.pool.Query(ctx, `SELECT id FROM delivery_queue ORDER BY id COLLATE "C"`)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}

	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"d-due", "d-later", "d-lease-expired", "d-leased"}
	if got := queued(); !slices.Equal(got, want) {
		t.Fatalf("queue after the upgrade = %q, want %q", got, want)
	}
	if got := claimAll(); !slices.Equal(got, []string{"d-due", "d-lease-expired"}) {
		t.Fatalf("claimed after the upgrade = %q, want the due delivery and the one whose lease expired", got)
	}

	// Down to 18 and up again: the leases just taken survive both ways.
	if err := s.withMigrator(ctx, func(p *goose.Provider) error { _, err := p.Down(ctx); return err }); err != nil {
		t.Fatalf("migrate down: %v", err)
	}
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queued(); !slices.Equal(got, want) {
		t.Fatalf("queue after down and up = %q, want %q", got, want)
	}
	if got := claimAll(); len(got) != 0 {
		t.Fatalf("claimed after down and up = %q, want nothing (every due delivery is leased)", got)
	}
}

// TestRecordTwoOutcomesOfOneDelivery: one batch may carry two outcomes of a delivery
// (its lease expired and it was claimed again before the first was recorded). They
// apply as if in order: a retry then a success leaves it delivered; a success then a
// retry leaves it delivered too, as the retry finds it out of the queue.
func TestRecordTwoOutcomesOfOneDelivery(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	createEndpoint(t, s, now)
	ds := []store.Delivery{{ID: "a", EndpointID: "ep", MaxAttempts: 5}, {ID: "b", EndpointID: "ep", MaxAttempts: 5}}
	if _, _, err := s.EventPublish(ctx, event.Event{ID: "ev", Type: "t", Time: now}, ds); err != nil {
		t.Fatal(err)
	}
	retry := func(id string) store.AttemptRecord {
		next := now.Add(time.Hour)
		return store.AttemptRecord{DeliveryID: id, EndpointID: "ep", Status: store.DeliveryRetrying, AttemptCount: 1, NextRetryAt: &next, ErrorMessage: "endpoint answered 500", At: now}
	}
	success := func(id string) store.AttemptRecord {
		return store.AttemptRecord{DeliveryID: id, EndpointID: "ep", Status: store.DeliveryDelivered, AttemptCount: 2, DeliveredAt: &now, Success: true, At: now}
	}
	if err := s.DeliveryRecord(ctx, []store.AttemptRecord{retry("a"), success("a"), success("b"), retry("b")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		d, err := s.DeliveryGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != store.DeliveryDelivered || d.AttemptCount != 2 {
			t.Errorf("delivery %s: status %s after %d attempts, want delivered after 2", id, d.Status, d.AttemptCount)
		}
	}
	var queued int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM delivery_queue`).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 0 {
		t.Errorf("%d deliveries still queued, want none", queued)
	}
}
