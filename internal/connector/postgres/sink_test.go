package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/servicetest"
)

func newSink(tb testing.TB, s connector.Settings) connector.Sink {
	tb.Helper()
	sink, err := NewSink(s)
	if err != nil {
		tb.Fatalf("NewSink: %v", err)
	}
	tb.Cleanup(func() { _ = sink.Close() })
	return sink
}

func msgs(bodies ...string) []connector.Message {
	out := make([]connector.Message, len(bodies))
	for i, b := range bodies {
		out[i] = connector.Message{Body: []byte(b)}
	}
	return out
}

func write(tb testing.TB, sink connector.Sink, bodies ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sink.Write(ctx, msgs(bodies...)); err != nil {
		tb.Fatalf("Write: %v", err)
	}
}

// rows returns the query's rows as text, one string per row ("a|b|c", NULL as <null>).
func rows(tb testing.TB, dsn, sql string) []string {
	tb.Helper()
	conn := db(tb, dsn)
	// The simple protocol returns every value as text.
	rs, err := conn.Query(context.Background(), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals := rs.RawValues()
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "<null>"
			} else {
				parts[i] = string(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rs.Err(); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return out
}

func equal(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		tb.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestSinkInsert(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE SCHEMA other")
	t.Cleanup(func() { exec(t, db(t, dsn), "DROP SCHEMA other CASCADE") })
	exec(t, conn, `CREATE TABLE other."Orders" (seq bigserial, id text, total numeric, doc jsonb)`)
	sink := newSink(t, settings(dsn, "table", "other.Orders",
		"columns", block("id", "$.id", "total", "$.total", "doc", "$")))

	write(t, sink, `{"id":"a","total":1.5}`, `{"id":"b","total":2}`)
	write(t, sink, `{"id":"a","total":3}`)
	equal(t, "rows", rows(t, dsn, `SELECT seq, id, total, doc::text FROM other."Orders" ORDER BY seq`), []string{
		`1|a|1.5|{"id": "a", "total": 1.5}`,
		`2|b|2|{"id": "b", "total": 2}`,
		`3|a|3|{"id": "a", "total": 3}`,
	})
	if err := sink.Write(context.Background(), nil); err != nil {
		t.Errorf("Write of nothing: %v", err)
	}
}

func TestSinkUpsert(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE orders (id bigint, region text, total numeric, note text, PRIMARY KEY (id, region))")
	sink := newSink(t, settings(dsn, "table", "orders", "mode", "upsert", "key", []any{"id", "region"},
		"columns", block("id", "$.id", "region", "$.region", "total", "$.total", "note", "$.note")))

	write(t, sink, `{"id":1,"region":"eu","total":10,"note":"first"}`, `{"id":1,"region":"us","total":11}`)
	write(t, sink, `{"id":1,"region":"eu","total":12}`) // later values win; a missing note becomes NULL
	// The same key three times in one batch: no "cannot affect row a second time", last wins.
	write(t, sink, `{"id":2,"region":"eu","total":1}`, `{"id":2,"region":"eu","total":2}`, `{"id":3,"region":"eu","total":5}`,
		`{"id":2,"region":"eu","total":3,"note":"last"}`)
	equal(t, "rows", rows(t, dsn, "SELECT id, region, total, note FROM orders ORDER BY id, region"), []string{
		"1|eu|12|<null>",
		"1|us|11|<null>",
		"2|eu|3|last",
		"3|eu|5|<null>",
	})

	// Only key columns: DO NOTHING, and a repeat is no error.
	exec(t, conn, "CREATE TABLE seen (id text PRIMARY KEY)")
	keys := newSink(t, settings(dsn, "table", "seen", "mode", "upsert", "key", "id", "columns", block("id", "$.id")))
	write(t, keys, `{"id":"x"}`, `{"id":"x"}`)
	write(t, keys, `{"id":"x"}`)
	equal(t, "seen", rows(t, dsn, "SELECT id FROM seen"), []string{"x"})
}

func TestSinkColumnTypes(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, `CREATE TABLE typed (
		n numeric, big bigint, i integer, money numeric(10,2), f double precision,
		s text, v varchar(10), num_as_text text, obj_as_text text,
		j jsonb, js json, str_jsonb jsonb, num_jsonb jsonb, null_jsonb jsonb,
		at timestamptz, ok boolean, tags jsonb, missing text, explicit_null text)`)
	sink := newSink(t, settings(dsn, "table", "typed", "columns", block(
		"n", "$.n", "big", "$.big", "i", "$.i", "money", "$.money", "f", "$.f",
		"s", "$.s", "v", "$.s", "num_as_text", "$.n", "obj_as_text", "$.obj",
		"j", "$.obj", "js", "$.obj", "str_jsonb", "$.s", "num_jsonb", "$.big", "null_jsonb", "$.nothing",
		"at", "$.at", "ok", "$.ok", "tags", "$.items[*].tag", "missing", "$.no.such.path", "explicit_null", "$.null")))

	write(t, sink, `{
		"n": 12345678901234567890.123456789012345678901,
		"big": 9007199254740993,
		"i": -42,
		"money": 19.999,
		"f": 1.5e3,
		"s": "héllo <&>",
		"obj": {"a": [1, 2.50, "x"], "b": {"c": null}, "html": "<&>"},
		"at": "2024-03-01T12:30:45.123456+02:00",
		"ok": true,
		"items": [{"tag": "a"}, {"tag": "b"}],
		"null": null
	}`)
	equal(t, "values", rows(t, dsn, `SELECT n, big, i, money, f, s, v, num_as_text, obj_as_text,
		j::text, js::text, str_jsonb::text, num_jsonb::text, null_jsonb IS NULL,
		to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), ok, tags::text, missing, explicit_null FROM typed`), []string{
		strings.Join([]string{
			"12345678901234567890.123456789012345678901", // every digit: no float64 on the way
			"9007199254740993",                           // 2^53+1
			"-42",
			"20.00", // numeric(10,2) rounds as PostgreSQL does
			"1500",
			"héllo <&>",
			"héllo <&>",
			"12345678901234567890.123456789012345678901",
			`{"a":[1,2.50,"x"],"b":{"c":null},"html":"<&>"}`,
			`{"a": [1, 2.50, "x"], "b": {"c": null}, "html": "<&>"}`,
			`{"a":[1,2.50,"x"],"b":{"c":null},"html":"<&>"}`,
			`"héllo <&>"`, // a string into jsonb stays a JSON string
			"9007199254740993",
			"t",
			"2024-03-01 10:30:45.123456",
			"t",
			`["a", "b"]`,
			"<null>",
			"<null>",
		}, "|"),
	})
}

func TestSinkBadMessage(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL, doc jsonb)")
	ins := newSink(t, settings(dsn, "table", "orders", "columns", block("id", "$.id", "total", "$.total", "doc", "$")))
	ups := newSink(t, settings(dsn, "table", "orders", "mode", "upsert", "key", []any{"id"},
		"columns", block("id", "$.id", "total", "$.total", "doc", "$")))
	good := `{"id":1,"total":1}`
	for _, c := range []struct {
		name   string
		sink   connector.Sink
		bodies []string
		index  int
		want   string
	}{
		{"not JSON", ins, []string{good, `{"id":2,`, `{"id":3,"total":3}`}, 1, "not JSON"},
		{"two values", ins, []string{good, `{"id":2,"total":2} {}`}, 1, "not JSON"},
		{"key missing", ups, []string{good, `{"id":2,"total":2}`, `{"total":3}`}, 2, "column id ($.id)"},
		{"key null", ups, []string{`{"id":null,"total":3}`, good}, 0, "column id ($.id)"},
		{"not a number", ins, []string{good, `{"id":2,"total":2}`, `{"id":"x","total":3}`}, 2, "invalid input syntax for type bigint"},
		{"not null", ins, []string{good, `{"id":2}`}, 1, "total"},
		{"duplicate key on insert", ins, []string{good, `{"id":1,"total":2}`}, 1, "duplicate key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.sink.Write(context.Background(), msgs(c.bodies...))
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("Write: %v (%T), want a *MessageError", err, err)
			}
			if me.Index != c.index || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), fmt.Sprintf("message %d", c.index)) {
				t.Errorf("Write: %v (index %d), want message %d and %q", err, me.Index, c.index, c.want)
			}
			if n := count(t, conn, "orders"); n != 0 {
				t.Errorf("%d rows written, want none of the batch", n)
			}
		})
	}

	// The database's own failures are not the message's fault.
	exec(t, conn, "DROP TABLE orders")
	err := ins.Write(context.Background(), msgs(good))
	var me *MessageError
	if err == nil || errors.As(err, &me) {
		t.Fatalf("Write into a dropped table: %v, want a plain error", err)
	}
	fresh := newSink(t, settings(dsn, "table", "orders", "columns", block("id", "$.id")))
	if err := fresh.Write(context.Background(), msgs(good)); err == nil || errors.As(err, &me) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Write into a missing table: %v, want a plain error saying so", err)
	}
	exec(t, conn, "CREATE TABLE orders (id bigint)") // created later: found by the next Write
	write(t, fresh, good)
	if err := fresh.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Write(context.Background(), msgs(good)); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// After a migration changes a column's type, the first Write fails (a plain error the
// flow retries) and the next one uses the new type.
func TestSinkTableChanged(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE orders (id bigint, total numeric)")
	sink := newSink(t, settings(dsn, "table", "orders", "columns", block("id", "$.id", "total", "$.total")))
	write(t, sink, `{"id":1,"total":1.5}`)
	exec(t, conn, "ALTER TABLE orders DROP COLUMN total, ADD COLUMN total jsonb")
	err := sink.Write(context.Background(), msgs(`{"id":2,"total":{"net":2}}`))
	var me *MessageError
	if err == nil || errors.As(err, &me) {
		t.Fatalf("first Write after the change: %v, want a plain error", err)
	}
	write(t, sink, `{"id":2,"total":{"net":2}}`)
	equal(t, "rows", rows(t, dsn, "SELECT id, total::text FROM orders ORDER BY id"), []string{"1|<null>", `2|{"net": 2}`})
}

// BenchmarkSinkUpsert upserts batches of 100 over 10,000 keys (inserts first, then
// updates), each batch one transaction.
func BenchmarkSinkUpsert(b *testing.B) {
	dsn := servicetest.PostgresDSN(b)
	conn := db(b, dsn)
	exec(b, conn, "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id text, total numeric, doc jsonb)")
	sink := newSink(b, settings(dsn, "table", "orders", "mode", "upsert", "key", []any{"id"},
		"columns", block("id", "$.id", "customer_id", "$.customer.id", "total", "$.total", "doc", "$")))
	const batch = 100
	batches := make([][]connector.Message, 100)
	for i := range batches {
		batches[i] = make([]connector.Message, batch)
		for j := range batch {
			id := i*batch + j
			batches[i][j] = connector.Message{Body: fmt.Appendf(nil,
				`{"id":%d,"customer":{"id":"c%d","email":"c%d@example.com"},"total":%d.50,"items":[{"sku":"a","qty":2}]}`, id, id%97, id%97, id)}
		}
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := sink.Write(ctx, batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}
