package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
)

// retentionFixture stores, two days before now, an event nothing refers to and an event
// whose only delivery is a dead letter marked then.
func retentionFixture(t *testing.T, st store.Store, now time.Time) {
	t.Helper()
	old := now.Add(-48 * time.Hour)
	ctx := context.Background()
	if _, _, err := st.EventPublish(ctx, event.Event{ID: "ev-old", Type: "order.created", Source: "api", Time: old, Data: json.RawMessage(`{}`)}, nil); err != nil {
		t.Fatal(err)
	}
	dead := store.Delivery{
		ID: "d-dead", EndpointID: "ep-gone", EventType: "order.created", Payload: []byte(`{}`),
		Status: store.DeliveryFailed, AttemptCount: 5, MaxAttempts: 5, DeadLetteredAt: &old, CreatedAt: old, UpdatedAt: old,
	}
	if _, _, err := st.EventPublish(ctx, event.Event{ID: "ev-dead", Type: "order.created", Source: "api", Time: old, Data: json.RawMessage(`{}`)}, []store.Delivery{dead}); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, st store.Store, id string) bool {
	t.Helper()
	_, err := st.EventGet(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRetentionPurgesOnlyWhileHeld: a node that does not hold the retention lease
// leaves old events and dead letters alone; once it holds it, the next run purges the
// dead letter past its retention and then the events past theirs, the dead letter's
// among them, and logs the counts.
func TestRetentionPurgesOnlyWhileHeld(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		now := time.Now().UTC()
		retentionFixture(t, st, now)
		var held atomic.Bool
		var asked atomic.Int64
		s := fastSettings()
		s.DeadLetterRetention = 24 * time.Hour
		e := newHookEnv(t, st, s, webhook.Options{
			Clock: clock.NewFake(now), EventRetention: 24 * time.Hour, PurgeEvery: 5 * time.Millisecond,
			PurgeHeld: func() bool { asked.Add(1); return held.Load() },
		})
		e.run(t)
		// Two answers of "not held": the first run has finished by the second.
		testkit.WaitFor(t, "the retention runs to ask for the lease", func() bool { return asked.Load() >= 2 })
		for _, id := range []string{"ev-old", "ev-dead"} {
			if !stored(t, st, id) {
				t.Fatalf("event %s purged by a node without the retention lease", id)
			}
		}
		if _, err := st.DeliveryGet(context.Background(), "d-dead"); err != nil {
			t.Fatalf("dead letter purged by a node without the retention lease: %v", err)
		}

		held.Store(true)
		testkit.WaitFor(t, "the old events purged once the lease is held", func() bool {
			return !stored(t, st, "ev-old") && !stored(t, st, "ev-dead")
		})
		if _, err := st.DeliveryGet(context.Background(), "d-dead"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("dead letter past its retention: %v, want purged", err)
		}
		testkit.WaitFor(t, "the purge logged", func() bool { return strings.Contains(e.logs.String(), "events past retention purged") })
	})
}

// TestEventRetentionZeroKeepsEvents: with no event retention the events stay while the
// dead letters still get theirs.
func TestEventRetentionZeroKeepsEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		now := time.Now().UTC()
		retentionFixture(t, st, now)
		s := fastSettings()
		s.DeadLetterRetention = 24 * time.Hour
		e := newHookEnv(t, st, s, webhook.Options{Clock: clock.NewFake(now), PurgeEvery: 5 * time.Millisecond})
		e.run(t)
		testkit.WaitFor(t, "the dead letter purged", func() bool {
			_, err := st.DeliveryGet(context.Background(), "d-dead")
			return errors.Is(err, store.ErrNotFound)
		})
		// Each run purges dead letters, then events: once the next run has begun, the
		// one that purged the dead letter is over.
		e.store.waitPurges(t, 1)
		for _, id := range []string{"ev-old", "ev-dead"} {
			if !stored(t, st, id) {
				t.Errorf("event %s purged with no event retention", id)
			}
		}
	})
}
