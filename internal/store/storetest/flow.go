package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// runFlow adds the store.FlowStore subtests; migrated opens a fresh, migrated store.
func runFlow(t *testing.T, migrated func(t *testing.T) store.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, store.Store)
	}{
		{"FlowDeadLetterAddGet", testFlowDeadLetterAddGet},
		{"FlowDeadLetterText", testFlowDeadLetterText},
		{"FlowDeadLetterConflict", testFlowDeadLetterConflict},
		{"FlowDeadLetterInvalid", testFlowDeadLetterInvalid},
		{"FlowDeadLetterList", testFlowDeadLetterList},
		{"FlowDeadLetterDelete", testFlowDeadLetterDelete},
		{"FlowDeadLetterSetAccepted", testFlowDeadLetterSetAccepted},
		{"FlowDeadLetterCounts", testFlowDeadLetterCounts},
		{"FlowDeadLetterConcurrent", testFlowDeadLetterConcurrent},
		{"FlowCanceledContext", testFlowCanceledContext},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, migrated(t)) })
	}
}

// newFlowDeadLetter is a dead letter of flow in queue, created at the given time, with
// every field set to a value that reads back unchanged.
func newFlowDeadLetter(id, flow, queue string, created time.Time) store.FlowDeadLetter {
	return store.FlowDeadLetter{
		ID: id, Flow: flow, Queue: queue, Step: "call crm", Error: "HTTP 503: upstream busy",
		Body: []byte(`{"order": 42,  "lines": [1, 2]}`), Headers: map[string]string{"routing_key": "orders." + id},
		SourceID: "msg-" + id, Attempts: 3, CreatedAt: created,
	}
}

func mustAddFlowDeadLetter(t *testing.T, s store.Store, d store.FlowDeadLetter) {
	t.Helper()
	if err := s.FlowDeadLetterAdd(context.Background(), d); err != nil {
		t.Fatalf("FlowDeadLetterAdd(%s): %v", d.ID, err)
	}
}

func mustGetFlowDeadLetter(t *testing.T, s store.Store, id string) store.FlowDeadLetter {
	t.Helper()
	d, err := s.FlowDeadLetterGet(context.Background(), id)
	if err != nil {
		t.Fatalf("FlowDeadLetterGet(%s): %v", id, err)
	}
	return d
}

func mustFlowDeadLetterCounts(t *testing.T, s store.Store) map[string]int {
	t.Helper()
	counts, err := s.FlowDeadLetterCounts(context.Background())
	if err != nil {
		t.Fatalf("FlowDeadLetterCounts: %v", err)
	}
	return counts
}

func flowDeadLetterIDs(ds []store.FlowDeadLetter) []string {
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func testFlowDeadLetterAddGet(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC+9", 9*3600)
	// A body that is not text at all, headers with several entries, a time not in UTC
	// and finer than a microsecond.
	full := store.FlowDeadLetter{
		ID: "dl-full", Flow: "order-sync", Queue: "failed-orders", Step: "sink warehouse",
		Error: `insert order: duplicate key "orders_pkey"`,
		Body:  []byte{0x00, 0xff, 0xfe, '{', '}', 0x00, '\n'},
		Headers: map[string]string{
			"routing_key": "orders.created", "content-type": "application/json", "x-empty": "",
		},
		SourceID: "amqp-delivery-7", Attempts: 5,
		CreatedAt: time.Date(2025, 3, 15, 0, 9, 26, 535897999, zone),
		// The first message the steps made went to two sinks, the second to none.
		Accepted: [][]string{{"warehouse", "audit"}, {}},
	}
	want := full
	want.CreatedAt = t0
	mustAddFlowDeadLetter(t, s, full)
	check(t, "FlowDeadLetterGet", mustGetFlowDeadLetter(t, s, full.ID), want)

	// Only what is required: no queue, step, error, body, headers or source id.
	minimal := store.FlowDeadLetter{ID: "dl-min", Flow: "order-sync", CreatedAt: t0}
	mustAddFlowDeadLetter(t, s, minimal)
	got := mustGetFlowDeadLetter(t, s, minimal.ID)
	check(t, "FlowDeadLetterGet(minimal)", got, minimal)
	// Both backends read missing headers back the same way: an empty map, not nil, so
	// callers can range over and index it without a check.
	if got.Headers == nil || len(got.Headers) != 0 {
		t.Errorf("dead letter without headers reads back headers %#v, want an empty map", got.Headers)
	}
	if len(got.Body) != 0 {
		t.Errorf("dead letter without a body reads back body %q, want empty", got.Body)
	}

	// An empty map is stored like a nil one.
	empty := store.FlowDeadLetter{ID: "dl-empty", Flow: "order-sync", Headers: map[string]string{}, Body: []byte{}, CreatedAt: t0}
	mustAddFlowDeadLetter(t, s, empty)
	check(t, "FlowDeadLetterGet(empty headers)", mustGetFlowDeadLetter(t, s, empty.ID), empty)

	if _, err := s.FlowDeadLetterGet(context.Background(), "dl-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FlowDeadLetterGet of an unknown ID: err = %v, want ErrNotFound", err)
	}
}

// testFlowDeadLetterText stores texts PostgreSQL's text type cannot hold as given (a step
// error may quote any bytes a call returned; source ids and headers come from the source):
// the dead letter is stored anyway, with the same replacement on both backends.
func testFlowDeadLetterText(t *testing.T, s store.Store) {
	d := newFlowDeadLetter("dl-text", "order-sync", "failed", t0)
	d.Step, d.Error, d.SourceID = "step\x00", "HTTP 500: \xff\xfe body", "id-\xc3"
	d.Headers = map[string]string{"x-bin\x00": "v\xff", "ok": "plain"}
	mustAddFlowDeadLetter(t, s, d)
	want := d
	want.Step, want.Error, want.SourceID = "step\uFFFD", "HTTP 500: \uFFFD body", "id-\uFFFD"
	want.Headers = map[string]string{"x-bin\uFFFD": "v\uFFFD", "ok": "plain"}
	check(t, "dead letter with non-UTF-8 texts", mustGetFlowDeadLetter(t, s, d.ID), want)
}

func testFlowDeadLetterConflict(t *testing.T, s store.Store) {
	first := newFlowDeadLetter("dl-1", "order-sync", "failed", t0)
	mustAddFlowDeadLetter(t, s, first)
	dup := newFlowDeadLetter("dl-1", "other-flow", "other", t0.Add(time.Hour))
	if err := s.FlowDeadLetterAdd(context.Background(), dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FlowDeadLetterAdd with a duplicate ID: err = %v, want ErrConflict", err)
	}
	check(t, "dead letter after a conflicting add", mustGetFlowDeadLetter(t, s, first.ID), first)
	check(t, "counts after a conflicting add", mustFlowDeadLetterCounts(t, s), map[string]int{"order-sync": 1})
}

func testFlowDeadLetterInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	with := func(change func(*store.FlowDeadLetter)) store.FlowDeadLetter {
		d := newFlowDeadLetter("dl-bad", "order-sync", "failed", t0)
		change(&d)
		return d
	}
	for name, d := range map[string]store.FlowDeadLetter{
		"empty id":          with(func(d *store.FlowDeadLetter) { d.ID = "" }),
		"empty flow":        with(func(d *store.FlowDeadLetter) { d.Flow = "" }),
		"zero time":         with(func(d *store.FlowDeadLetter) { d.CreatedAt = time.Time{} }),
		"year 10000":        with(func(d *store.FlowDeadLetter) { d.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"negative attempts": with(func(d *store.FlowDeadLetter) { d.Attempts = -1 }),
		"NUL in the id":     with(func(d *store.FlowDeadLetter) { d.ID = "dl\x00" }),
		"non-UTF-8 flow":    with(func(d *store.FlowDeadLetter) { d.Flow = "order\xff" }),
		"NUL in the queue":  with(func(d *store.FlowDeadLetter) { d.Queue = "failed\x00" }),
	} {
		if err := s.FlowDeadLetterAdd(ctx, d); !isValidationError(err) {
			t.Errorf("FlowDeadLetterAdd with %s: err = %v, want a validation error", name, err)
		}
	}
	if _, total, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Page: page(1, 100)}); err != nil || total != 0 {
		t.Errorf("FlowDeadLetterList total = %d, %v; want 0 (invalid adds store nothing)", total, err)
	}
	for _, p := range []store.Page{page(0, 10), page(1, 0), page(1, 101), page(-1, 10)} {
		if _, _, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Page: p}); !isValidationError(err) {
			t.Errorf("FlowDeadLetterList(%+v): err = %v, want a validation error", p, err)
		}
	}
	// The same dead letter, valid, is stored.
	mustAddFlowDeadLetter(t, s, with(func(*store.FlowDeadLetter) {}))
}

func testFlowDeadLetterList(t *testing.T, s store.Store) {
	ctx := context.Background()
	second := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	// Added out of order; b2 and b3 tie on time (newest first, then ID descending).
	for _, d := range []store.FlowDeadLetter{
		newFlowDeadLetter("b3", "flow-b", "q-1", second(5)),
		newFlowDeadLetter("a1", "flow-a", "q-1", second(1)),
		newFlowDeadLetter("a3", "flow-a", "q-2", second(3)),
		newFlowDeadLetter("b2", "flow-b", "q-2", second(5)),
		newFlowDeadLetter("a2", "flow-a", "q-1", second(2)),
		newFlowDeadLetter("b1", "flow-b", "q-1", second(4)),
	} {
		mustAddFlowDeadLetter(t, s, d)
	}

	for _, c := range []struct {
		filter store.FlowDeadLetterFilter
		want   []string
		total  int
	}{
		{store.FlowDeadLetterFilter{Page: page(1, 4)}, []string{"b3", "b2", "b1", "a3"}, 6},
		{store.FlowDeadLetterFilter{Page: page(2, 4)}, []string{"a2", "a1"}, 6},
		{store.FlowDeadLetterFilter{Page: page(3, 4)}, nil, 6},
		{store.FlowDeadLetterFilter{Page: page(1, 100)}, []string{"b3", "b2", "b1", "a3", "a2", "a1"}, 6},
		{store.FlowDeadLetterFilter{Flow: "flow-a", Page: page(1, 2)}, []string{"a3", "a2"}, 3},
		{store.FlowDeadLetterFilter{Flow: "flow-a", Page: page(2, 2)}, []string{"a1"}, 3},
		{store.FlowDeadLetterFilter{Queue: "q-2", Page: page(1, 10)}, []string{"b2", "a3"}, 2},
		{store.FlowDeadLetterFilter{Flow: "flow-b", Queue: "q-1", Page: page(1, 10)}, []string{"b3", "b1"}, 2},
		{store.FlowDeadLetterFilter{Flow: "flow-b", Queue: "q-3", Page: page(1, 10)}, nil, 0},
		{store.FlowDeadLetterFilter{Flow: "flow-unknown", Page: page(1, 10)}, nil, 0},
	} {
		got, total, err := s.FlowDeadLetterList(ctx, c.filter)
		if err != nil {
			t.Fatalf("FlowDeadLetterList(%+v): %v", c.filter, err)
		}
		if ids := flowDeadLetterIDs(got); !slices.Equal(ids, c.want) || total != c.total {
			t.Errorf("FlowDeadLetterList(%+v) = %q, total %d; want %q, total %d", c.filter, ids, total, c.want, c.total)
		}
	}

	// Listed dead letters are whole, as Get returns them.
	got, _, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Flow: "flow-a", Page: page(1, 1)})
	if err != nil || len(got) != 1 {
		t.Fatalf("FlowDeadLetterList(limit 1) = %v, %v", got, err)
	}
	check(t, "listed dead letter", got[0], newFlowDeadLetter("a3", "flow-a", "q-2", second(3)))
}

func testFlowDeadLetterDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	gone := newFlowDeadLetter("dl-gone", "order-sync", "failed", t0)
	kept := newFlowDeadLetter("dl-kept", "order-sync", "failed", t0)
	mustAddFlowDeadLetter(t, s, gone)
	mustAddFlowDeadLetter(t, s, kept)

	if err := s.FlowDeadLetterDelete(ctx, gone.ID); err != nil {
		t.Fatalf("FlowDeadLetterDelete: %v", err)
	}
	if _, err := s.FlowDeadLetterGet(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FlowDeadLetterGet of a deleted dead letter: err = %v, want ErrNotFound", err)
	}
	if err := s.FlowDeadLetterDelete(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FlowDeadLetterDelete twice: err = %v, want ErrNotFound", err)
	}
	if err := s.FlowDeadLetterDelete(ctx, "dl-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FlowDeadLetterDelete of an unknown ID: err = %v, want ErrNotFound", err)
	}
	check(t, "dead letter not deleted", mustGetFlowDeadLetter(t, s, kept.ID), kept)
	got, total, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Page: page(1, 10)})
	if err != nil || total != 1 || !slices.Equal(flowDeadLetterIDs(got), []string{kept.ID}) {
		t.Errorf("FlowDeadLetterList after the delete = %q, total %d, %v; want [%s], total 1", flowDeadLetterIDs(got), total, err, kept.ID)
	}

	// The ID is free again: a replay that fails once more may dead-letter it anew.
	mustAddFlowDeadLetter(t, s, gone)
	check(t, "dead letter added again after its delete", mustGetFlowDeadLetter(t, s, gone.ID), gone)
}

// testFlowDeadLetterSetAccepted: a replay that reached more sinks records them; the rest
// of the dead letter stays as it was.
func testFlowDeadLetterSetAccepted(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := newFlowDeadLetter("dl-acc", "order-sync", "failed", t0)
	d.Accepted = [][]string{{"warehouse"}}
	mustAddFlowDeadLetter(t, s, d)
	check(t, "Accepted as added", mustGetFlowDeadLetter(t, s, d.ID).Accepted, [][]string{{"warehouse"}})

	d.Accepted = [][]string{{"warehouse", "audit"}, {"warehouse"}}
	if err := s.FlowDeadLetterSetAccepted(ctx, d.ID, d.Accepted); err != nil {
		t.Fatalf("FlowDeadLetterSetAccepted: %v", err)
	}
	check(t, "dead letter after FlowDeadLetterSetAccepted", mustGetFlowDeadLetter(t, s, d.ID), d)
	listed, _, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Flow: "order-sync", Page: page(1, 10)})
	if err != nil || len(listed) != 1 {
		t.Fatalf("FlowDeadLetterList = %v, %v", listed, err)
	}
	check(t, "listed dead letter", listed[0], d)

	// Nothing accepted reads back as nil.
	if err := s.FlowDeadLetterSetAccepted(ctx, d.ID, [][]string{}); err != nil {
		t.Fatalf("FlowDeadLetterSetAccepted(empty): %v", err)
	}
	if got := mustGetFlowDeadLetter(t, s, d.ID).Accepted; got != nil {
		t.Errorf("Accepted after setting none = %#v, want nil", got)
	}
	if err := s.FlowDeadLetterSetAccepted(ctx, "dl-unknown", [][]string{{"warehouse"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FlowDeadLetterSetAccepted of an unknown ID: err = %v, want ErrNotFound", err)
	}
}

func testFlowDeadLetterCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	if counts := mustFlowDeadLetterCounts(t, s); counts == nil || len(counts) != 0 {
		t.Errorf("FlowDeadLetterCounts with no dead letters = %#v, want an empty map", counts)
	}
	for i, flow := range []string{"flow-a", "flow-b", "flow-a", "flow-c", "flow-a"} {
		// Queues do not split a flow's count.
		mustAddFlowDeadLetter(t, s, newFlowDeadLetter(fmt.Sprintf("dl-%d", i), flow, fmt.Sprintf("q-%d", i%2), t0))
	}
	check(t, "FlowDeadLetterCounts", mustFlowDeadLetterCounts(t, s), map[string]int{"flow-a": 3, "flow-b": 1, "flow-c": 1})

	// A flow whose last dead letter is gone is absent, not zero.
	for _, id := range []string{"dl-1", "dl-0"} {
		if err := s.FlowDeadLetterDelete(ctx, id); err != nil {
			t.Fatalf("FlowDeadLetterDelete(%s): %v", id, err)
		}
	}
	check(t, "FlowDeadLetterCounts after deletes", mustFlowDeadLetterCounts(t, s), map[string]int{"flow-a": 2, "flow-c": 1})
}

// testFlowDeadLetterConcurrent adds dead letters from many goroutines at once, as the
// flows of a busy server do, each add answered only once it is stored.
func testFlowDeadLetterConcurrent(t *testing.T, s store.Store) {
	const (
		writers   = 8
		perWriter = 10
	)
	ctx := context.Background()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range perWriter {
				d := newFlowDeadLetter(fmt.Sprintf("dl-%d-%d", w, i), fmt.Sprintf("flow-%d", w%2), "failed", t0.Add(time.Duration(i)*time.Second))
				if err := s.FlowDeadLetterAdd(ctx, d); err != nil {
					t.Errorf("FlowDeadLetterAdd(%s): %v", d.ID, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	const half = writers / 2 * perWriter
	check(t, "FlowDeadLetterCounts", mustFlowDeadLetterCounts(t, s), map[string]int{"flow-0": half, "flow-1": half})
}

func testFlowCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := newFlowDeadLetter("dl-1", "order-sync", "failed", t0)
	if err := s.FlowDeadLetterAdd(ctx, d); err == nil {
		t.Error("FlowDeadLetterAdd with a canceled context succeeded")
	}
	if _, _, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Page: page(1, 10)}); err == nil {
		t.Error("FlowDeadLetterList with a canceled context succeeded")
	}
	if _, err := s.FlowDeadLetterGet(context.Background(), d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FlowDeadLetterAdd with a canceled context stored the dead letter: err = %v", err)
	}
}
