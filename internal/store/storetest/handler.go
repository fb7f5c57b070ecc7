package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// runHandler runs the conformance cases of handler executions.
func runHandler(t *testing.T, migrated func(t *testing.T) store.Store) {
	t.Run("HandlerPublishAndClaim", func(t *testing.T) { testHandlerPublishAndClaim(t, migrated(t)) })
	t.Run("HandlerRepublishWritesNothing", func(t *testing.T) { testHandlerRepublish(t, migrated(t)) })
	t.Run("HandlerLeaseLapses", func(t *testing.T) { testHandlerLeaseLapses(t, migrated(t)) })
	t.Run("HandlerRecordRetryDeadRequeue", func(t *testing.T) { testHandlerRecord(t, migrated(t)) })
	t.Run("HandlerListAndCounts", func(t *testing.T) { testHandlerList(t, migrated(t)) })
	t.Run("HandlerClaimConcurrent", func(t *testing.T) { testHandlerClaimConcurrent(t, migrated(t)) })
	t.Run("EventsAfter", func(t *testing.T) { testEventsAfter(t, migrated(t)) })
}

// testEventsAfter: the events after one, in time then id order, a page at a time; an
// unknown id is ErrNotFound, the newest has nothing after it.
func testEventsAfter(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// Published out of time order; two share a time and are ordered by id.
	publishWith(t, s, "ev-c", "t.c", base.Add(2*time.Second))
	publishWith(t, s, "ev-a", "t.a", base)
	publishWith(t, s, "ev-b2", "t.b", base.Add(time.Second))
	publishWith(t, s, "ev-b1", "t.b", base.Add(time.Second))
	ids := func(es []event.Event) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	got, err := s.EventsAfter(ctx, "ev-a", 10)
	if err != nil || !slices.Equal(ids(got), []string{"ev-b1", "ev-b2", "ev-c"}) {
		t.Fatalf("after ev-a: %v, %v", ids(got), err)
	}
	if got[0].Type != "t.b" || got[0].Source != "api" || string(got[0].Data) != `{"a":1}` || !got[0].Time.Equal(base.Add(time.Second)) {
		t.Errorf("event %+v", got[0])
	}
	if got, err := s.EventsAfter(ctx, "ev-a", 2); err != nil || !slices.Equal(ids(got), []string{"ev-b1", "ev-b2"}) {
		t.Errorf("a page of 2: %v, %v", ids(got), err)
	}
	if got, err := s.EventsAfter(ctx, "ev-b2", 10); err != nil || !slices.Equal(ids(got), []string{"ev-c"}) {
		t.Errorf("after ev-b2: %v, %v", ids(got), err)
	}
	if got, err := s.EventsAfter(ctx, "ev-c", 10); err != nil || len(got) != 0 {
		t.Errorf("after the newest: %v, %v", ids(got), err)
	}
	for _, id := range []string{"ev-nope", "", "bad\x00id"} {
		if _, err := s.EventsAfter(ctx, id, 10); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after %q: %v, want ErrNotFound", id, err)
		}
	}
}

func newExecution(id, handler string) store.HandlerExecution {
	return store.HandlerExecution{ID: id, Handler: handler, MaxAttempts: 3}
}

func publishWith(t testing.TB, s store.Store, id, typ string, at time.Time, xs ...store.HandlerExecution) bool {
	t.Helper()
	created, _, err := s.EventPublish(context.Background(), event.Event{ID: id, Type: typ, Source: "api", Time: at, Data: []byte(`{"a":1}`)}, nil, xs...)
	if err != nil {
		t.Fatalf("EventPublish %s: %v", id, err)
	}
	return created
}

func claimAll(t testing.TB, s store.Store, now time.Time, limit int) []store.ClaimedExecution {
	t.Helper()
	c, err := s.HandlerClaim(context.Background(), store.HandlerClaimParams{Now: now, Limit: limit, Lease: time.Minute, Owner: "w"})
	if err != nil {
		t.Fatalf("HandlerClaim: %v", err)
	}
	return c
}

func testHandlerPublishAndClaim(t *testing.T, s store.Store) {
	publishWith(t, s, "ev1", "user.created", t0, newExecution("x1", "h1"), newExecution("x2", "h2"))
	if got := claimAll(t, s, t0.Add(-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed %d executions before they were due", len(got))
	}
	got := claimAll(t, s, t0, 10)
	if len(got) != 2 {
		t.Fatalf("claimed %d executions, want 2", len(got))
	}
	c := got[0]
	if c.Execution.EventID != "ev1" || c.Execution.EventType != "user.created" || c.Execution.Status != store.HandlerPending ||
		string(c.Data) != `{"a":1}` || c.Source != "api" || !c.EventTime.Equal(store.NormalizeTime(t0)) || c.Execution.MaxAttempts != 3 {
		t.Errorf("claimed %+v", c)
	}
	if again := claimAll(t, s, t0, 10); len(again) != 0 {
		t.Errorf("leased executions claimed again: %d", len(again))
	}
}

func testHandlerRepublish(t *testing.T, s store.Store) {
	if !publishWith(t, s, "ev1", "t", t0, newExecution("x1", "h")) {
		t.Fatal("first publication not created")
	}
	if publishWith(t, s, "ev1", "t", t0, newExecution("x2", "h")) {
		t.Fatal("republication created")
	}
	if _, err := s.HandlerExecutionGet(context.Background(), "x2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("execution of a republication: %v, want ErrNotFound", err)
	}
	// An execution whose id exists fails the whole publication: nothing of it is kept.
	if _, _, err := s.EventPublish(context.Background(), event.Event{ID: "ev2", Type: "t", Time: t0}, nil, newExecution("x1", "h")); err == nil {
		t.Fatal("duplicate execution id accepted")
	}
	if _, err := s.EventGet(context.Background(), "ev2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("event of a failed publication was kept: %v", err)
	}
}

func testHandlerLeaseLapses(t *testing.T, s store.Store) {
	publishWith(t, s, "ev1", "t", t0, newExecution("x1", "h"))
	if got := claimAll(t, s, t0, 1); len(got) != 1 {
		t.Fatalf("claimed %d", len(got))
	}
	if got := claimAll(t, s, t0.Add(59*time.Second), 1); len(got) != 0 {
		t.Fatalf("claimed within the lease")
	}
	if got := claimAll(t, s, t0.Add(time.Minute), 1); len(got) != 1 || got[0].Execution.ID != "x1" {
		t.Fatalf("not claimed again after the lease: %v", got)
	}
}

func testHandlerRecord(t *testing.T, s store.Store) {
	ctx := context.Background()
	publishWith(t, s, "ev1", "t", t0, newExecution("x1", "h"), newExecution("x2", "h"))
	claimAll(t, s, t0, 10)
	next := t0.Add(time.Minute)
	err := s.HandlerRecord(ctx, []store.HandlerOutcome{
		{ID: "x1", Status: store.HandlerFailed, Attempts: 1, NextRunAt: &next, LastError: "boom", At: t0},
		{ID: "x2", Status: store.HandlerDone, Attempts: 1, At: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	x1, _ := s.HandlerExecutionGet(ctx, "x1")
	if x1.Status != store.HandlerFailed || x1.Attempts != 1 || x1.LastError != "boom" || x1.NextRunAt == nil || !x1.NextRunAt.Equal(store.NormalizeTime(next)) {
		t.Errorf("x1 = %+v", x1)
	}
	if got := claimAll(t, s, next.Add(-time.Millisecond), 10); len(got) != 0 {
		t.Errorf("claimed before its retry time")
	}
	if got := claimAll(t, s, next, 10); len(got) != 1 || got[0].Execution.ID != "x1" {
		t.Fatalf("retry not claimed: %v", got)
	}
	if _, err := s.HandlerExecutionRequeue(ctx, "x1", next); !errors.Is(err, store.ErrConflict) {
		t.Errorf("requeue of a waiting execution: %v, want ErrConflict", err)
	}
	if err := s.HandlerRecord(ctx, []store.HandlerOutcome{{ID: "x1", Status: store.HandlerDead, Attempts: 3, LastError: "gave up", At: next}}); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, s, next.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("dead or done executions claimed: %v", got)
	}
	x, err := s.HandlerExecutionRequeue(ctx, "x1", next.Add(time.Hour))
	if err != nil || x.Status != store.HandlerPending || x.Attempts != 0 || x.NextRunAt == nil {
		t.Fatalf("requeue = %+v, %v", x, err)
	}
	if got := claimAll(t, s, next.Add(time.Hour), 10); len(got) != 1 {
		t.Errorf("requeued execution not claimed")
	}
	if _, err := s.HandlerExecutionRequeue(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("requeue of nothing: %v", err)
	}
	if err := s.HandlerRecord(ctx, []store.HandlerOutcome{{ID: "x1", Status: store.HandlerFailed, Attempts: 1, At: t0}}); err == nil {
		t.Errorf("failed outcome without a next time accepted")
	}
}

func testHandlerList(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 5 {
		typ := "a.b"
		if i%2 == 1 {
			typ = "c"
		}
		publishWith(t, s, fmt.Sprintf("ev%d", i), typ, t0.Add(time.Duration(i)*time.Second), newExecution(fmt.Sprintf("x%d", i), "h"+typ))
	}
	if err := s.HandlerRecord(ctx, []store.HandlerOutcome{{ID: "x0", Status: store.HandlerDead, Attempts: 3, At: t0}}); err != nil {
		t.Fatal(err)
	}
	xs, total, err := s.HandlerExecutionList(ctx, store.HandlerFilter{Page: store.Page{Page: 1, Limit: 2}})
	if err != nil || total != 5 || len(xs) != 2 || xs[0].ID != "x4" || xs[1].ID != "x3" {
		t.Fatalf("list = %v, %d, %v", executionIDs(xs), total, err)
	}
	xs, total, _ = s.HandlerExecutionList(ctx, store.HandlerFilter{EventType: "a.b", Page: store.Page{Page: 1, Limit: 10}})
	if total != 3 || len(xs) != 3 {
		t.Errorf("by event type: %v, %d", executionIDs(xs), total)
	}
	xs, total, _ = s.HandlerExecutionList(ctx, store.HandlerFilter{Status: store.HandlerDead, Page: store.Page{Page: 1, Limit: 10}})
	if total != 1 || len(xs) != 1 || xs[0].ID != "x0" {
		t.Errorf("dead: %v, %d", executionIDs(xs), total)
	}
	counts, err := s.HandlerCounts(ctx)
	if err != nil || counts["ha.b"][store.HandlerDead] != 1 || counts["ha.b"][store.HandlerPending] != 2 || counts["hc"][store.HandlerPending] != 2 {
		t.Errorf("counts = %v, %v", counts, err)
	}
}

func executionIDs(xs []store.HandlerExecution) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.ID)
	}
	return out
}

// testHandlerClaimConcurrent: claimers racing never get the same execution.
func testHandlerClaimConcurrent(t *testing.T, s store.Store) {
	const n = 60
	for i := range n {
		publishWith(t, s, fmt.Sprintf("ev%d", i), "t", t0, newExecution(fmt.Sprintf("x%d", i), "h"))
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				got, err := s.HandlerClaim(context.Background(), store.HandlerClaimParams{Now: t0, Limit: 7, Lease: time.Minute, Owner: "w"})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					seen[c.Execution.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d distinct executions, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s claimed %d times", id, k)
		}
	}
}
