package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// block builds options from key, value pairs, each at its own line of test.cai.
func block(kv ...any) config.Options {
	o := config.Options{Pos: config.Pos{File: "test.cai", Line: 1, Col: 1}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Entries = append(o.Entries, config.Option{
			Pos:   config.Pos{File: "test.cai", Line: 2 + i/2, Col: 5},
			Key:   kv[i].(string),
			Value: kv[i+1],
		})
	}
	return o
}

// settings is a postgres connector at dsn with the flow's options kv.
func settings(dsn string, kv ...any) connector.Settings {
	base := block("url", dsn)
	return connector.Settings{
		Connector: &config.Connector{Name: "warehouse", Type: "postgres", Options: base},
		Options:   connector.Merge(base, block(kv...)),
		Env:       connector.Env{LookupEnv: func(string) (string, bool) { return "", false }},
	}
}

// db opens a connection for the test's own queries.
func db(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func exec(tb testing.TB, conn *pgx.Conn, sql string, args ...any) {
	tb.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func count(tb testing.TB, conn *pgx.Conn, table string) int {
	tb.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

func randomSuffix(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "postgres" || k.NewSource == nil || k.NewSink == nil || k.Check == nil {
		t.Fatalf("Kind() = %+v", k)
	}
}

func TestOptions(t *testing.T) {
	const dsn = "postgres://postgres:hunter2@127.0.0.1:5432/test?sslmode=disable"
	cols := block("id", "$.id", "doc", "$")
	for _, c := range []struct {
		name   string
		source bool
		kv     []any
		want   string // in the error; "" for none
	}{
		{"sink ok", false, []any{"table", "t", "columns", cols}, ""},
		{"sink upsert ok", false, []any{"table", "s.t", "mode", "upsert", "key", []any{"id"}, "columns", cols}, ""},
		{"sink accepts source keys", false, []any{"table", "t", "columns", cols, "cursor", "id", "batch_size", int64(5), "name", "flow"}, ""},
		{"sink without table", false, []any{"columns", cols}, "missing table"},
		{"sink without columns", false, []any{"table", "t"}, "missing columns, which a sink needs"},
		{"sink bad mode", false, []any{"table", "t", "columns", cols, "mode", "merge"}, `expected insert or upsert`},
		{"upsert without key", false, []any{"table", "t", "columns", cols, "mode", "upsert"}, "missing key: an upsert needs"},
		{"key not a column", false, []any{"table", "t", "columns", cols, "mode", "upsert", "key", []any{"nope"}}, "nope is not one of the columns"},
		{"key with insert", false, []any{"table", "t", "columns", cols, "key", "id"}, "only used with mode: upsert"},
		{"bad JSONPath", false, []any{"table", "t", "columns", block("id", "$.[")}, "invalid JSONPath"},
		{"not a JSONPath", false, []any{"table", "t", "columns", block("id", "id")}, "is not a JSONPath"},
		{"path not a string", false, []any{"table", "t", "columns", block("id", int64(1))}, "expected a JSONPath string"},
		{"columns as list for a sink", false, []any{"table", "t", "columns", []any{"a"}}, "for a sink"},
		{"bad table name", false, []any{"table", "a..b", "columns", cols}, "expected table or schema.table"},
		{"unknown key", false, []any{"table", "t", "columns", cols, "colums", cols}, "unknown setting colums; did you mean columns?"},
		{"pool size", false, []any{"table", "t", "columns", cols, "pool_size", int64(0)}, "pool_size: must be at least 1"},
		{"poll ok", true, []any{"table", "t", "cursor", "id", "columns", []any{"id", "n"}, "where", "n > 1", "poll_interval", 50 * time.Millisecond}, ""},
		{"source accepts sink keys", true, []any{"table", "t", "cursor", "id", "key", []any{"id"}}, ""},
		{"poll without cursor", true, []any{"table", "t"}, "missing cursor"},
		{"poll without table", true, []any{"cursor", "id"}, "missing table"},
		{"poll bad batch size", true, []any{"table", "t", "cursor", "id", "batch_size", int64(0)}, "batch_size: must be at least 1"},
		{"poll bad interval", true, []any{"table", "t", "cursor", "id", "poll_interval", "soon"}, "poll_interval: expected a duration"},
		{"columns as block for a source", true, []any{"table", "t", "cursor", "id", "columns", cols}, "list of column names"},
		{"listen ok", true, []any{"mode", "listen", "channel", "c"}, ""},
		{"listen without channel", true, []any{"mode", "listen"}, "missing channel"},
		{"source bad mode", true, []any{"mode", "insert", "table", "t"}, "expected poll or listen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := settings(dsn, c.kv...)
			var err error
			if c.source {
				var src connector.Source
				src, err = NewSource(s)
				if err == nil {
					_ = src.Close()
				}
			} else {
				var sink connector.Sink
				sink, err = NewSink(s)
				if err == nil {
					_ = sink.Close()
				}
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("no error, want one containing %q", c.want)
			case c.want != "":
				var oe *config.OptionError
				if !errors.As(err, &oe) || oe.Pos.File != "test.cai" || oe.Pos.Line == 0 {
					t.Errorf("error %v is not an OptionError with a position", err)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q does not contain %q", err, c.want)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the password", err)
				}
			}
		})
	}
}

func TestOptionsURL(t *testing.T) {
	base := block("url", config.Value{Parts: []config.ValuePart{{Env: "PG_URL"}}})
	s := connector.Settings{
		Connector: &config.Connector{Name: "warehouse", Type: "postgres", Options: base},
		Options:   connector.Merge(base, block("table", "t", "columns", block("id", "$.id"))),
	}
	s.Env.LookupEnv = func(string) (string, bool) { return "", false }
	if _, err := NewSink(s); err == nil || !strings.Contains(err.Error(), "PG_URL is not set") {
		t.Errorf("unset env: error %v, want one naming PG_URL", err)
	}
	s.Env.LookupEnv = func(name string) (string, bool) {
		return "postgres://u:secret@127.0.0.1:5432/db?pool_max_conns=3", name == "PG_URL"
	}
	sink, err := NewSink(s)
	if err != nil {
		t.Fatalf("env url: %v", err)
	}
	if got := sink.(*Sink).opts.pool.MaxConns; got != 3 {
		t.Errorf("MaxConns = %d, want pool_max_conns from the URL (3)", got)
	}
	_ = sink.Close()

	s.Env.LookupEnv = func(string) (string, bool) { return "postgres://u:secret@[::1", true }
	if _, err := NewSink(s); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad url: error %v, want one without the password", err)
	}
}

func TestCheck(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	conn := db(t, dsn)
	exec(t, conn, "CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric, doc jsonb)")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, c := range []struct {
		name string
		s    connector.Settings
		want string
	}{
		{"connection only", settings(dsn), ""},
		{"sink", settings(dsn, "table", "orders", "columns", block("id", "$.id", "doc", "$")), ""},
		{"poll source", settings(dsn, "table", "orders", "cursor", "id", "columns", []any{"total"}), ""},
		{"listen source", settings(dsn, "mode", "listen", "channel", "x"), ""},
		{"missing table", settings(dsn, "table", "nope", "columns", block("id", "$.id")), "table nope does not exist"},
		{"missing column", settings(dsn, "table", "orders", "columns", block("id", "$.id", "customer", "$.c")), `has no column "customer"`},
		{"missing columns", settings(dsn, "table", "orders", "columns", block("a", "$.a", "id", "$.id", "b", "$.b")), `has no columns ["a" "b"]`},
		{"missing cursor", settings(dsn, "table", "orders", "cursor", "seq"), `has no column "seq"`},
		{"unreachable", settings("postgres://postgres:hunter2@" + closedAddr(t) + "/test?sslmode=disable&connect_timeout=2"), "connect"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Check(ctx, c.s)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Check: %v, want an error containing %q", err, c.want)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("Check: %v shows the password", err)
			}
		})
	}
}
