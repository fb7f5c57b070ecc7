package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// runEventLog adds the store.EventLogStore subtests; migrated opens a fresh, migrated store.
func runEventLog(t *testing.T, migrated func(t *testing.T) store.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, store.Store)
	}{
		{"EventLogOrderAndCursor", testEventLogOrderAndCursor},
		{"EventLogPatterns", testEventLogPatterns},
		{"EventLogConcurrentPublish", testEventLogConcurrentPublish},
		{"EventLogInvalid", testEventLogInvalid},
		{"FlowEventCursorsPrune", testFlowEventCursorsPrune},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, migrated(t)) })
	}
}

func publishTyped(t testing.TB, s store.Store, id, typ string) {
	t.Helper()
	e := event.Event{ID: id, Type: typ, Data: []byte(`{"id":"` + id + `"}`), Source: "api", Time: t0}
	if created, _, err := s.EventPublish(context.Background(), e, nil); err != nil || !created {
		t.Fatalf("EventPublish(%s) = %v, %v; want created", id, created, err)
	}
}

// readLog reads every event after q.After (pages of q.Limit), waiting up to 30 s until
// there are at least want: PostgreSQL returns an event only once every transaction older
// than its own has ended, and other tests share the server.
func readLog(t *testing.T, s store.Store, q store.EventLogQuery, want int) []store.LoggedEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out []store.LoggedEvent
		after := q.After
		for {
			p, err := s.EventLogRead(context.Background(), store.EventLogQuery{After: after, Patterns: q.Patterns, Limit: q.Limit})
			if err != nil {
				t.Fatalf("EventLogRead after %+v: %v", after, err)
			}
			if len(p.Events) > q.Limit {
				t.Fatalf("EventLogRead returned %d events, limit %d", len(p.Events), q.Limit)
			}
			out = append(out, p.Events...)
			if len(p.Events) < q.Limit {
				break
			}
			after = p.Events[len(p.Events)-1].Position
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loggedIDs(es []store.LoggedEvent) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testEventLogOrderAndCursor(t *testing.T, s store.Store) {
	ctx := context.Background()
	publishTyped(t, s, "evt-before", "order.created")
	start, created, err := s.FlowEventCursorStart(ctx, "orders", t0)
	if err != nil || !created {
		t.Fatalf("FlowEventCursorStart = %+v, %v, %v; want created", start, created, err)
	}
	if again, created, err := s.FlowEventCursorStart(ctx, "orders", t0); err != nil || created || again != start {
		t.Fatalf("second FlowEventCursorStart = %+v, %v, %v; want %+v, not created", again, created, err, start)
	}
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("evt-%d", i)
		publishTyped(t, s, id, "order.created")
		want = append(want, id)
	}
	// A republished event is not logged again.
	if created, _, err := s.EventPublish(ctx, event.Event{ID: "evt-3", Type: "order.created", Data: []byte(`{}`), Time: t0}, nil); err != nil || created {
		t.Fatalf("republish = %v, %v; want not created", created, err)
	}
	// The event published before the flow's cursor was made is behind it; the rest come
	// in publish order, in pages.
	got := readLog(t, s, store.EventLogQuery{After: start, Limit: 3}, len(want))
	check(t, "events after the new cursor", loggedIDs(got), want)
	for i := 1; i < len(got); i++ {
		if !got[i-1].Position.Before(got[i].Position) {
			t.Errorf("position of %s (%+v) is not before %s's (%+v)", got[i-1].ID, got[i-1].Position, got[i].ID, got[i].Position)
		}
	}
	if got[0].Type != "order.created" || string(got[0].Data) != `{"id":"evt-0"}` || got[0].Source != "api" || !got[0].Time.Equal(t0) {
		t.Errorf("first event = %+v", got[0].Event)
	}

	// The cursor moves forward, never back.
	if err := s.FlowEventCursorSet(ctx, "orders", got[3].Position, t0); err != nil {
		t.Fatalf("FlowEventCursorSet: %v", err)
	}
	if err := s.FlowEventCursorSet(ctx, "orders", got[1].Position, t0); err != nil {
		t.Fatalf("FlowEventCursorSet back: %v", err)
	}
	pos, created, err := s.FlowEventCursorStart(ctx, "orders", t0)
	if err != nil || created || pos != got[3].Position {
		t.Fatalf("cursor = %+v, %v, %v; want %+v", pos, created, err, got[3].Position)
	}
	check(t, "events after the stored cursor", loggedIDs(readLog(t, s, store.EventLogQuery{After: pos, Limit: 100}, 3)), want[4:])
	// Another flow's cursor is its own, made at the current end of the log.
	other, _, err := s.FlowEventCursorStart(ctx, "audit", t0)
	if err != nil {
		t.Fatalf("FlowEventCursorStart audit: %v", err)
	}
	publishTyped(t, s, "evt-late", "order.created")
	check(t, "events after audit's new cursor", loggedIDs(readLog(t, s, store.EventLogQuery{After: other, Limit: 100}, 1)), []string{"evt-late"})
	// Set on a flow without a cursor stores it.
	if err := s.FlowEventCursorSet(ctx, "fresh", got[5].Position, t0); err != nil {
		t.Fatalf("FlowEventCursorSet fresh: %v", err)
	}
	if pos, created, err := s.FlowEventCursorStart(ctx, "fresh", t0); err != nil || created || pos != got[5].Position {
		t.Fatalf("fresh cursor = %+v, %v, %v; want %+v", pos, created, err, got[5].Position)
	}
}

func testEventLogPatterns(t *testing.T, s store.Store) {
	start, _, err := s.FlowEventCursorStart(context.Background(), "f", t0)
	if err != nil {
		t.Fatalf("FlowEventCursorStart: %v", err)
	}
	for i, typ := range []string{"order.created", "orders.created", "order.refund.made", "refund.created", "order", "ping"} {
		publishTyped(t, s, fmt.Sprintf("evt-%d", i), typ)
	}
	all := readLog(t, s, store.EventLogQuery{After: start, Limit: 100}, 6)
	check(t, "every event", loggedIDs(all), []string{"evt-0", "evt-1", "evt-2", "evt-3", "evt-4", "evt-5"})
	for _, c := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{"*"}, []string{"evt-0", "evt-1", "evt-2", "evt-3", "evt-4", "evt-5"}},
		{[]string{"order.*"}, []string{"evt-0", "evt-2"}},
		{[]string{"order.*", "refund.created"}, []string{"evt-0", "evt-2", "evt-3"}},
		{[]string{"order"}, []string{"evt-4"}},
		{[]string{"ping", "*"}, []string{"evt-0", "evt-1", "evt-2", "evt-3", "evt-4", "evt-5"}},
		{[]string{"nothing.*"}, nil},
	} {
		got := readLog(t, s, store.EventLogQuery{After: start, Patterns: c.patterns, Limit: 1}, len(c.want))
		if ids := loggedIDs(got); !slices.Equal(ids, c.want) {
			t.Errorf("patterns %q: %q, want %q", c.patterns, ids, c.want)
		}
	}
}

// testEventLogConcurrentPublish: events published concurrently are each read once, and a
// reader that follows the log while they are published misses none.
func testEventLogConcurrentPublish(t *testing.T, s store.Store) {
	start, _, err := s.FlowEventCursorStart(context.Background(), "f", t0)
	if err != nil {
		t.Fatalf("FlowEventCursorStart: %v", err)
	}
	const n = 80
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				publishTyped(t, s, fmt.Sprintf("evt-%d-%d", w, i), "order.created")
			}
		})
	}
	seen := map[string]int{}
	after := start
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		p, err := s.EventLogRead(context.Background(), store.EventLogQuery{After: after, Limit: 7})
		if err != nil {
			t.Fatalf("EventLogRead: %v", err)
		}
		for _, e := range p.Events {
			seen[e.ID]++
			after = e.Position
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("the reader saw %d events, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s read %d times", id, c)
		}
	}
}

func testEventLogInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, q := range []store.EventLogQuery{
		{Limit: 0},
		{Limit: 1001},
		{Limit: 1, Patterns: []string{""}},
		{Limit: 1, After: store.EventPosition{Seq: -1}},
		{Limit: 1, After: store.EventPosition{ID: "a\x00b"}},
	} {
		if _, err := s.EventLogRead(ctx, q); !isValidationError(err) {
			t.Errorf("EventLogRead(%+v) = %v; want a validation error", q, err)
		}
	}
	if _, _, err := s.FlowEventCursorStart(ctx, "", t0); !isValidationError(err) {
		t.Errorf("FlowEventCursorStart without a flow = %v; want a validation error", err)
	}
	if err := s.FlowEventCursorSet(ctx, "f", store.EventPosition{}, time.Time{}); !isValidationError(err) {
		t.Errorf("FlowEventCursorSet at the zero time = %v; want a validation error", err)
	}
}

// testFlowEventCursorsPrune: the cursors of flows no longer declared go once unmoved
// since the time given; a declared flow's cursor stays however old.
func testFlowEventCursorsPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := func(flow string, at time.Time) (store.EventPosition, bool) {
		t.Helper()
		pos, created, err := s.FlowEventCursorStart(ctx, flow, at)
		if err != nil {
			t.Fatalf("FlowEventCursorStart(%s): %v", flow, err)
		}
		return pos, created
	}
	start("declared", t0)
	start("removed", t0)
	moved, _ := start("removed-but-moved", t0)
	moved.Seq++
	if err := s.FlowEventCursorSet(ctx, "removed-but-moved", moved, t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("FlowEventCursorSet: %v", err)
	}
	start("removed-lately", t0.Add(2*time.Hour))

	n, err := s.FlowEventCursorsPrune(ctx, []string{"declared", "never-started"}, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("FlowEventCursorsPrune = %d, %v; want 1 (removed)", n, err)
	}
	later := t0.Add(3 * time.Hour)
	if _, created := start("removed", later); !created {
		t.Error("the cursor of a removed flow unused past the grace is still there")
	}
	for _, kept := range []string{"declared", "removed-lately"} {
		if _, created := start(kept, later); created {
			t.Errorf("cursor %s was pruned", kept)
		}
	}
	if pos, created := start("removed-but-moved", later); created || pos != moved {
		t.Errorf("moved cursor = %+v (created %v); want it kept at %+v", pos, created, moved)
	}
	// No flow declared: every cursor unused since before goes.
	if n, err := s.FlowEventCursorsPrune(ctx, nil, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("FlowEventCursorsPrune with nothing declared = %d, %v; want 1 (declared)", n, err)
	}
	if _, err := s.FlowEventCursorsPrune(ctx, nil, time.Time{}); !isValidationError(err) {
		t.Errorf("FlowEventCursorsPrune before the zero time = %v; want a validation error", err)
	}
}
