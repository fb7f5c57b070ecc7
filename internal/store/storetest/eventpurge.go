package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// The event retention (store.WebhookStore.EventPurge). The cutoff is t0: "old" is two
// days before it, "recent" an hour after.

func mustPurgeEvents(t *testing.T, s store.Store, before time.Time, batch int) store.EventPurged {
	t.Helper()
	n, err := s.EventPurge(context.Background(), before, batch)
	if err != nil {
		t.Fatalf("EventPurge: %v", err)
	}
	return n
}

func eventKept(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	_, err := s.EventGet(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("EventGet(%s): %v", id, err)
	}
	return err == nil
}

func deliveryKept(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	_, err := s.DeliveryGet(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeliveryGet(%s): %v", id, err)
	}
	return err == nil
}

func executionKept(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	_, err := s.HandlerExecutionGet(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("HandlerExecutionGet(%s): %v", id, err)
	}
	return err == nil
}

// finished is a delivery that left the queue at `at`: delivered, or failed with or
// without a dead-letter mark.
func finished(id string, status store.DeliveryStatus, deadLettered bool, at time.Time) store.Delivery {
	d := newDelivery(id, "ep-a", "", at)
	d.Status, d.NextRetryAt = status, nil
	if status == store.DeliveryDelivered {
		d.DeliveredAt = ptr(at)
	}
	if deadLettered {
		d.DeadLetteredAt = ptr(at)
	}
	return d
}

func testEventPurge(t *testing.T, s store.Store) {
	old, recent := t0.Add(-48*time.Hour), t0.Add(time.Hour)
	mustEndpoint(t, s, newEndpoint("ep-a", old))
	retrying := newDelivery("d-retrying", "ep-a", "", old)
	retrying.Status = store.DeliveryRetrying
	mustPublish(t, s, "ev-bare", old)
	mustPublish(t, s, "ev-done", old,
		finished("d-delivered", store.DeliveryDelivered, false, old), finished("d-failed", store.DeliveryFailed, false, old))
	mustPublish(t, s, "ev-retrying", old, finished("d-sibling", store.DeliveryDelivered, false, old), retrying)
	mustPublish(t, s, "ev-pending", old, newDelivery("d-pending", "ep-a", "", old))
	mustPublish(t, s, "ev-dead", old, finished("d-dead", store.DeliveryFailed, true, old))
	mustPublish(t, s, "ev-late", old, finished("d-late", store.DeliveryDelivered, false, recent)) // delivered after the cutoff
	mustPublish(t, s, "ev-recent", recent, finished("d-recent", store.DeliveryDelivered, false, recent))
	mustPublish(t, s, "ev-at-cutoff", t0) // exactly at the cutoff: kept
	// Handler executions: done before the cutoff goes with its event; waiting, dead or
	// done after the cutoff keep theirs.
	publishWith(t, s, "ev-hx-done", "t", old, newExecution("x-done", "h"))
	publishWith(t, s, "ev-hx-pending", "t", old, newExecution("x-pending", "h"))
	publishWith(t, s, "ev-hx-dead", "t", old, newExecution("x-dead", "h"))
	publishWith(t, s, "ev-hx-late", "t", old, newExecution("x-late", "h"))
	claimAll(t, s, old, 10)
	err := s.HandlerRecord(context.Background(), []store.HandlerOutcome{
		{ID: "x-done", Status: store.HandlerDone, Attempts: 1, At: old},
		{ID: "x-pending", Status: store.HandlerFailed, Attempts: 1, NextRunAt: ptr(recent), LastError: "boom", At: old},
		{ID: "x-dead", Status: store.HandlerDead, Attempts: 3, LastError: "gave up", At: old},
		{ID: "x-late", Status: store.HandlerDone, Attempts: 1, At: recent},
	})
	if err != nil {
		t.Fatal(err)
	}

	got := mustPurgeEvents(t, s, t0, 0)
	check(t, "EventPurge counts", got, store.EventPurged{Events: 3, Deliveries: 2, HandlerExecutions: 1})
	for id, want := range map[string]bool{
		"ev-bare": false, "ev-done": false, "ev-hx-done": false,
		"ev-retrying": true, "ev-pending": true, "ev-dead": true, "ev-late": true, "ev-recent": true,
		"ev-at-cutoff": true, "ev-hx-pending": true, "ev-hx-dead": true, "ev-hx-late": true,
	} {
		if kept := eventKept(t, s, id); kept != want {
			t.Errorf("event %s kept = %v, want %v", id, kept, want)
		}
	}
	for id, want := range map[string]bool{
		"d-delivered": false, "d-failed": false,
		"d-sibling": true, "d-retrying": true, "d-pending": true, "d-dead": true, "d-late": true, "d-recent": true,
	} {
		if kept := deliveryKept(t, s, id); kept != want {
			t.Errorf("delivery %s kept = %v, want %v", id, kept, want)
		}
	}
	for id, want := range map[string]bool{"x-done": false, "x-pending": true, "x-dead": true, "x-late": true} {
		if kept := executionKept(t, s, id); kept != want {
			t.Errorf("handler execution %s kept = %v, want %v", id, kept, want)
		}
	}
	if _, total, err := s.DeadLetterList(context.Background(), store.DeliveryFilter{Page: page(1, 10)}); err != nil || total != 1 {
		t.Errorf("dead letters after the purge = %d, %v; want 1 (kept for their own retention and replay)", total, err)
	}
	check(t, "a second EventPurge", mustPurgeEvents(t, s, t0, 0), store.EventPurged{})

	// Once the retrying delivery is delivered and the dead letter purged, long enough
	// ago, their events go too.
	if err := s.DeliveryRecord(context.Background(), []store.AttemptRecord{{
		DeliveryID: "d-retrying", AttemptCount: 1, Status: store.DeliveryDelivered, DeliveredAt: ptr(old), At: old,
		EndpointID: "ep-a", Success: true,
	}}); err != nil {
		t.Fatalf("DeliveryRecord: %v", err)
	}
	if n, err := s.DeadLetterPurge(context.Background(), t0); err != nil || n != 1 {
		t.Fatalf("DeadLetterPurge = %d, %v; want 1", n, err)
	}
	got = mustPurgeEvents(t, s, t0, 0)
	check(t, "EventPurge counts after the delivery finished", got, store.EventPurged{Events: 2, Deliveries: 2})
	for _, id := range []string{"ev-retrying", "ev-dead"} {
		if eventKept(t, s, id) {
			t.Errorf("event %s kept once nothing needs it", id)
		}
	}
	for _, id := range []string{"ev-pending", "ev-late", "ev-recent"} {
		if !eventKept(t, s, id) {
			t.Errorf("event %s purged", id)
		}
	}
	// A republished id after its event was purged is a new event.
	if created, _, err := s.EventPublish(context.Background(), newEvent("ev-bare", recent), nil); err != nil || !created {
		t.Errorf("EventPublish of a purged event's id = %v, %v; want created", created, err)
	}

	if _, err := s.EventPurge(context.Background(), time.Time{}, 0); err == nil {
		t.Error("EventPurge with a zero cutoff: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.EventPurge(ctx, t0, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("EventPurge with a canceled context: %v, want context.Canceled", err)
	}
}

// testEventPurgeBatches: a backlog larger than a batch is purged batch after batch in
// one call, events kept by a waiting delivery among them.
func testEventPurgeBatches(t *testing.T, s store.Store) {
	old := t0.Add(-48 * time.Hour)
	mustEndpoint(t, s, newEndpoint("ep-a", old))
	const events, batch = 23, 5
	for i := range events {
		at := old.Add(time.Duration(i) * time.Second)
		if i%4 == 1 { // 6 of them wait for a delivery
			mustPublish(t, s, fmt.Sprintf("ev-%02d", i), at, newDelivery(fmt.Sprintf("d-%02d", i), "ep-a", "", at))
			continue
		}
		mustPublish(t, s, fmt.Sprintf("ev-%02d", i), at, finished(fmt.Sprintf("d-%02d", i), store.DeliveryDelivered, false, at))
	}
	got := mustPurgeEvents(t, s, t0, batch)
	check(t, "EventPurge in batches of 5", got, store.EventPurged{Events: 17, Deliveries: 17})
	for i := range events {
		if kept, want := eventKept(t, s, fmt.Sprintf("ev-%02d", i)), i%4 == 1; kept != want {
			t.Errorf("event %d kept = %v, want %v", i, kept, want)
		}
	}
	check(t, "EventPurge again", mustPurgeEvents(t, s, t0, batch), store.EventPurged{})
}

// testEventPurgeConcurrentRequeue: a delivery resent (POST /webhooks/deliveries/{id}/retry)
// while the purge runs is either purged before the resend, which then finds nothing, or
// resent and kept with its event; the purge never fails on the foreign keys.
func testEventPurgeConcurrentRequeue(t *testing.T, s store.Store) {
	old := t0.Add(-48 * time.Hour)
	mustEndpoint(t, s, newEndpoint("ep-a", old))
	const events = 60
	for i := range events {
		at := old.Add(time.Duration(i) * time.Millisecond)
		mustPublish(t, s, fmt.Sprintf("ev-%02d", i), at, finished(fmt.Sprintf("d-%02d", i), store.DeliveryDelivered, false, at))
	}
	requeued := make([]bool, events)
	done := make(chan error, 1)
	go func() {
		_, err := s.EventPurge(context.Background(), t0, 4)
		done <- err
	}()
	for i := events - 1; i >= 0; i -= 2 { // from the newest, towards the purge
		_, err := s.DeliveryRequeue(context.Background(), fmt.Sprintf("d-%02d", i), old)
		switch {
		case err == nil:
			requeued[i] = true
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("DeliveryRequeue(d-%02d): %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("EventPurge beside resends: %v", err)
	}
	for i := range events {
		id := fmt.Sprintf("d-%02d", i)
		if requeued[i] {
			if d := mustGetDelivery(t, s, id); d.Status != store.DeliveryPending {
				t.Errorf("resent %s is %s, want pending", id, d.Status)
			}
			if !eventKept(t, s, fmt.Sprintf("ev-%02d", i)) {
				t.Errorf("event of resent %s purged", id)
			}
			continue
		}
		if i%2 == 0 && (deliveryKept(t, s, id) || eventKept(t, s, fmt.Sprintf("ev-%02d", i))) {
			t.Errorf("%s or its event kept; nothing needs them", id)
		}
	}
}
