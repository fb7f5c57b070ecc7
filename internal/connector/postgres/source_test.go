package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest"
)

const pollEvery = 20 * time.Millisecond

func newSource(tb testing.TB, s connector.Settings) connector.Source {
	tb.Helper()
	src, err := NewSource(s)
	if err != nil {
		tb.Fatalf("NewSource: %v", err)
	}
	tb.Cleanup(func() { _ = src.Close() })
	return src
}

func open(t *testing.T, src connector.Source, inFlight int) <-chan connector.Delivery {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := src.Open(ctx, inFlight)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return ch
}

func ack(t *testing.T, ds ...connector.Delivery) {
	t.Helper()
	for _, d := range ds {
		if err := d.Ack(context.Background()); err != nil {
			t.Fatalf("Ack %s: %v", d.ID, err)
		}
	}
}

// numbers are the "n" of the deliveries.
func numbers(t *testing.T, ds []connector.Delivery) string {
	t.Helper()
	out := ""
	for _, d := range ds {
		out += fmt.Sprint(connectortest.Number(t, d.Body)) + " "
	}
	return out
}

// TestConformance runs the suite every connector passes against the local PostgreSQL:
// a sink inserting into a table, and a poll source reading it.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Kind: Kind(), Messages: 60, Batch: 7,
		Place: func(t *testing.T) (connector.Settings, connector.Settings) {
			dsn := servicetest.PostgresDSN(t)
			exec(t, db(t, dsn), "CREATE TABLE events (id bigserial PRIMARY KEY, n int NOT NULL, doc jsonb)")
			return settings(dsn, "table", "events", "cursor", "id", "poll_interval", pollEvery),
				settings(dsn, "table", "events", "columns", block("n", "$.n", "doc", "$"))
		},
	})
}

// TestPollRoundTrip: a source delivering some columns.
func TestPollRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		kv   []any
	}{
		{"some columns", []any{"columns", []any{"n"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := servicetest.PostgresDSN(t)
			exec(t, db(t, dsn), "CREATE TABLE events (id bigserial PRIMARY KEY, n int NOT NULL, doc jsonb)")
			sink := newSink(t, settings(dsn, "table", "events", "columns", block("n", "$.n", "doc", "$")))
			src := newSource(t, settings(dsn, append([]any{"table", "events", "cursor", "id",
				"batch_size", int64(40), "poll_interval", pollEvery}, c.kv...)...))
			// At most inFlight (64) messages: the suite acknowledges only after receiving all.
			connectortest.RoundTrip(t, src, sink, 60, 7)
		})
	}
}

func TestPollBody(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, `CREATE TABLE events (id bigserial PRIMARY KEY, n int, total numeric, at timestamptz, doc jsonb)`)
	exec(t, conn, `INSERT INTO events (n, total, at, doc) VALUES (7, 12345678901234567890.5, '2024-03-01T10:00:00Z', '{"a":[1]}')`)
	for _, c := range []struct {
		kv   []any
		want string // the body with "at" left out
	}{
		{nil, `map[doc:map[a:[1]] id:1 n:7 total:12345678901234567890.5]`},
		{[]any{"columns", []any{"doc", "n"}, "cursor_name", "other"}, `map[doc:map[a:[1]] n:7]`},
	} {
		src := newSource(t, settings(dsn, append([]any{"table", "events", "cursor", "id", "poll_interval", pollEvery}, c.kv...)...))
		ch := open(t, src, 4)
		d := connectortest.Receive(t, ch, 1)[0]
		body, err := decodeJSON(d.Body)
		if err != nil {
			t.Fatalf("body %s: %v", d.Body, err)
		}
		m := body.(map[string]any)
		if at, ok := m["at"]; ok {
			// row_to_json renders a timestamptz in the session's time zone.
			if tm, err := time.Parse("2006-01-02T15:04:05Z07:00", at.(string)); err != nil || !tm.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("at = %v", at)
			}
			delete(m, "at")
		} else if c.kv == nil {
			t.Errorf("body %s has no at", d.Body)
		}
		if got := fmt.Sprint(m); got != c.want {
			t.Errorf("body %s is %s, want %s", d.Body, got, c.want)
		}
		if d.Headers["table"] != "events" || d.Headers["cursor"] != "1" || d.ID != "postgres:events:1" || d.Time.IsZero() {
			t.Errorf("delivery %s headers %v time %v", d.ID, d.Headers, d.Time)
		}
		ack(t, d)
		if err := d.Ack(context.Background()); !errors.Is(err, ErrSettled) {
			t.Errorf("second Ack: %v, want ErrSettled", err)
		}
		if err := d.Nack(context.Background()); !errors.Is(err, ErrSettled) {
			t.Errorf("Nack after Ack: %v, want ErrSettled", err)
		}
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// storedCursor reads a source's row in junction_flow_cursors.
func storedCursor(t *testing.T, dsn, name string) string {
	t.Helper()
	var v string
	if err := db(t, dsn).QueryRow(context.Background(), "SELECT value FROM "+CursorTable+" WHERE name = $1", name).Scan(&v); err != nil {
		t.Fatalf("cursor %q: %v", name, err)
	}
	return v
}

func TestPollCursorPersists(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE events (id bigserial PRIMARY KEY, n int NOT NULL)")
	exec(t, conn, "INSERT INTO events (n) SELECT generate_series(0, 4)")
	s := settings(dsn, "table", "events", "cursor", "id", "poll_interval", pollEvery, "name", "flow1")

	src := newSource(t, s)
	ch := open(t, src, 10)
	got := connectortest.Receive(t, ch, 5)
	if n := numbers(t, got); n != "0 1 2 3 4 " {
		t.Fatalf("delivered %s, want 0 1 2 3 4 in cursor order", n)
	}
	for i, d := range got {
		if d.Headers["cursor"] != strconv.Itoa(i+1) {
			t.Fatalf("delivery %d has cursor %q", i, d.Headers["cursor"])
		}
	}
	// 3 is acknowledged before 0 and 1, and 2 never: the stored cursor stops after 1.
	ack(t, got[3], got[0], got[1])
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if v := storedCursor(t, dsn, "flow1:events:id"); v != "2" {
		t.Fatalf("stored cursor %q, want 2 (the end of the acknowledged prefix)", v)
	}

	src = newSource(t, s)
	ch = open(t, src, 10)
	got = connectortest.Receive(t, ch, 3)
	if n := numbers(t, got); n != "2 3 4 " {
		t.Fatalf("after reopening delivered %s, want 2 3 4", n)
	}
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	ack(t, got...)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	src = newSource(t, s)
	ch = open(t, src, 10)
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	exec(t, conn, "INSERT INTO events (n) VALUES (5)")
	d := connectortest.Receive(t, ch, 1)[0]
	if connectortest.Number(t, d.Body) != 5 {
		t.Fatalf("delivered %s, want the new row", d.Body)
	}
	ack(t, d)
	// Acknowledged while the source runs: stored by the loop, without Close.
	deadline := time.Now().Add(connectortest.Timeout)
	for storedCursor(t, dsn, "flow1:events:id") != "6" {
		if time.Now().After(deadline) {
			t.Fatal("the cursor was not stored while the source ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	// Another flow's source has its own cursor.
	other := newSource(t, settings(dsn, "table", "events", "cursor", "id", "poll_interval", pollEvery, "name", "flow2"))
	if n := numbers(t, connectortest.Receive(t, open(t, other, 10), 6)); n != "0 1 2 3 4 5 " {
		t.Fatalf("another flow got %s, want every row", n)
	}
}

func TestPollRedelivery(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopen=%v", reopen), func(t *testing.T) {
			dsn := servicetest.PostgresDSN(t)
			exec(t, db(t, dsn), "CREATE TABLE events (id bigserial PRIMARY KEY, n int NOT NULL)")
			sink := newSink(t, settings(dsn, "table", "events", "columns", block("n", "$.n")))
			s := settings(dsn, "table", "events", "cursor", "id", "poll_interval", pollEvery)
			connectortest.Redelivery(t, func() connector.Source { return newSource(t, s) }, sink, reopen)
			if v := storedCursor(t, dsn, "events:id"); v != "1" {
				t.Fatalf("stored cursor %q, want 1", v)
			}
		})
	}
}

func TestPollInFlight(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE events (id bigserial PRIMARY KEY, n int NOT NULL)")
	exec(t, conn, "INSERT INTO events (n) SELECT generate_series(0, 4)")
	src := newSource(t, settings(dsn, "table", "events", "cursor", "id", "poll_interval", time.Hour))
	ch := open(t, src, 2)

	got := connectortest.Receive(t, ch, 2)
	connectortest.Quiet(t, ch, 200*time.Millisecond) // two out: nothing more
	ack(t, got[0])                                   // wakes the loop despite the hour-long interval
	next := connectortest.Receive(t, ch, 1)[0]
	if err := got[1].Nack(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := connectortest.Receive(t, ch, 1)[0]
	if numbers(t, []connector.Delivery{got[0], got[1], next, again}) != "0 1 2 1 " {
		t.Fatalf("delivered %s, want 0 1 2 and 1 again", numbers(t, []connector.Delivery{got[0], got[1], next, again}))
	}
	connectortest.Quiet(t, ch, 100*time.Millisecond)
	ack(t, again, next)
	rest := connectortest.Receive(t, ch, 2)
	if n := numbers(t, rest); n != "3 4 " {
		t.Fatalf("then %s, want 3 4", n)
	}
	ack(t, rest...)
}

func TestPollWhereAndTimeCursor(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE events (at timestamptz UNIQUE, n int NOT NULL, label text)")
	exec(t, conn, `INSERT INTO events (at, n, label)
		SELECT '2024-01-01T00:00:00Z'::timestamptz + i * interval '1.000001 second', i, 'x' || i FROM generate_series(0, 9) i`)
	exec(t, conn, `INSERT INTO events (at, n) VALUES (NULL, 100)`) // never delivered
	s := settings(dsn, "table", "events", "cursor", "at", "columns", []any{"n", "label"},
		"where", "n % 2 = 0", "batch_size", int64(2), "poll_interval", pollEvery)

	src := newSource(t, s)
	ch := open(t, src, 3)
	var all []connector.Delivery
	for range 5 {
		d := connectortest.Receive(t, ch, 1)[0]
		all = append(all, d)
		ack(t, d)
	}
	if n := numbers(t, all); n != "0 2 4 6 8 " {
		t.Fatalf("delivered %s, want the even rows in time order", n)
	}
	if string(all[1].Body) != `{"n":2,"label":"x2"}` {
		t.Errorf("body %s", all[1].Body)
	}
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	// The stored cursor is a time, compared as one (microseconds included): a row 1 µs
	// before the last one delivered is not delivered, one after it is.
	exec(t, conn, `INSERT INTO events (at, n) VALUES ('2024-01-01T00:00:08.000007Z', 10), ('2024-01-01T00:00:09.000010Z', 12)`)
	src = newSource(t, s)
	ch = open(t, src, 3)
	d := connectortest.Receive(t, ch, 1)[0]
	if connectortest.Number(t, d.Body) != 12 {
		t.Fatalf("after reopening delivered %s, want only the row after the cursor", d.Body)
	}
	ack(t, d)
	connectortest.Quiet(t, ch, 200*time.Millisecond)
}

// A poll that fails (the table is gone for a while) is retried, and delivery goes on
// from the same place.
func TestPollRecovers(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE events (id bigint PRIMARY KEY, n int NOT NULL)")
	exec(t, conn, "INSERT INTO events VALUES (1, 0)")
	src := newSource(t, settings(dsn, "table", "events", "cursor", "id", "poll_interval", pollEvery))
	ch := open(t, src, 4)
	ack(t, connectortest.Receive(t, ch, 1)...)
	exec(t, conn, "ALTER TABLE events RENAME TO events_away")
	time.Sleep(100 * time.Millisecond) // a few failed polls
	exec(t, conn, "INSERT INTO events_away VALUES (2, 1)")
	exec(t, conn, "ALTER TABLE events_away RENAME TO events")
	d := connectortest.Receive(t, ch, 1)[0]
	if connectortest.Number(t, d.Body) != 1 {
		t.Fatalf("delivered %s, want the row added while the table was away", d.Body)
	}
	ack(t, d)
}

func TestPollOpenErrors(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	exec(t, db(t, dsn), "CREATE TABLE events (id bigserial PRIMARY KEY)")
	for _, c := range []struct {
		kv   []any
		want string
	}{
		{[]any{"table", "nope", "cursor", "id"}, "table nope does not exist"},
		{[]any{"table", "events", "cursor", "seq"}, `has no column "seq"`},
		{[]any{"table", "events", "cursor", "id", "columns", []any{"id", "x"}}, `has no column "x"`},
	} {
		src := newSource(t, settings(dsn, c.kv...))
		_, err := src.Open(context.Background(), 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open: %v, want %q", err, c.want)
		}
		_ = src.Close()
	}
	src := newSource(t, settings(dsn, "table", "events", "cursor", "id"))
	open(t, src, 1)
	if _, err := src.Open(context.Background(), 1); err == nil {
		t.Error("second Open succeeded")
	}
}

// A channel closes when the context given to Open ends.
func TestSourceContextEnd(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	exec(t, db(t, dsn), "CREATE TABLE events (id bigserial PRIMARY KEY)")
	for _, s := range []connector.Settings{
		settings(dsn, "table", "events", "cursor", "id"),
		settings(dsn, "mode", "listen", "channel", "junction_test_"+randomSuffix(t)),
	} {
		src := newSource(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := src.Open(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case _, ok := <-ch:
			if ok {
				t.Fatal("unexpected delivery")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("channel still open after the context ended")
		}
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Writers commit out of cursor order: A takes id 10 and stays open, B takes 11 and
// commits, the source polls, then A commits. Row 10 must still be delivered, before 11.
// With "B wrote first", B's transaction got its xid before A's (it wrote elsewhere
// first), so 11's xmin is older than A's xid: comparing a row's xmin with the oldest
// running transaction would deliver 11 and skip 10.
func TestPollConcurrentCommitOrder(t *testing.T) {
	for _, bWroteFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("bWroteFirst=%v", bWroteFirst), func(t *testing.T) {
			ctx := context.Background()
			dsn := servicetest.PostgresDSN(t)
			conn := db(t, dsn)
			exec(t, conn, "CREATE TABLE events (id bigserial PRIMARY KEY, n int NOT NULL)")
			exec(t, conn, "CREATE TABLE other (n int)")
			exec(t, conn, "SELECT setval('events_id_seq', 9)")
			s := settings(dsn, "table", "events", "cursor", "id", "poll_interval", pollEvery)
			src := newSource(t, s)
			ch := open(t, src, 10)
			polls := &src.(*pollSource).polls

			var got []connector.Delivery
			// until receives (and acknowledges) deliveries until done says so.
			until := func(what string, done func() bool) {
				t.Helper()
				deadline := time.After(connectortest.Timeout)
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for !done() {
					select {
					case d := <-ch:
						got = append(got, d)
						ack(t, d)
					case <-tick.C:
					case <-deadline:
						t.Fatalf("%s: timed out; delivered %s", what, numbers(t, got))
					}
				}
			}
			// polled waits for two more polls: the second began after the call.
			polled := func(what string) {
				t.Helper()
				n := polls.Load() + 2
				until(what, func() bool { return polls.Load() >= n })
			}
			polled("first polls")

			txB, err := db(t, dsn).Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = txB.Rollback(ctx) }()
			if bWroteFirst {
				if _, err := txB.Exec(ctx, "INSERT INTO other VALUES (1)"); err != nil {
					t.Fatal(err)
				}
			}
			txA, err := db(t, dsn).Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = txA.Rollback(ctx) }()
			var idA, idB int
			if err := txA.QueryRow(ctx, "INSERT INTO events (n) VALUES (10) RETURNING id").Scan(&idA); err != nil {
				t.Fatal(err)
			}
			if err := txB.QueryRow(ctx, "INSERT INTO events (n) VALUES (11) RETURNING id").Scan(&idB); err != nil {
				t.Fatal(err)
			}
			if idA != 10 || idB != 11 {
				t.Fatalf("ids %d and %d, want 10 and 11", idA, idB)
			}
			if err := txB.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			polled("polls while A is open")
			if err := txA.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			n := polls.Load() + 3
			until("after A commits", func() bool { return len(got) == 2 || polls.Load() >= n })
			if got := numbers(t, got); got != "10 11 " {
				t.Fatalf("delivered %s, want 10 11 (a row committed behind the cursor must not be skipped)", got)
			}
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			if v := storedCursor(t, dsn, "events:id"); v != "11" {
				t.Fatalf("stored cursor %q, want 11", v)
			}
			// Nothing again after a restart.
			connectortest.Quiet(t, open(t, newSource(t, s), 10), 200*time.Millisecond)
		})
	}
}
