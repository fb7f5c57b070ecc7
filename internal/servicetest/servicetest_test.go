package servicetest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a testing.TB whose Skipf and Fatalf record instead of ending the real test.
// Like the real ones they stop the calling goroutine, so a helper that wrongly carried on
// after them would be caught too. Everything else goes to the real test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record runs fn in its own goroutine, as the testing package runs a test, so that Goexit
// ends fn and not the caller.
func record(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

// closedAddr returns a loopback address nothing listens on: the port was just in use, so
// no other service owns it, and a connect is refused at once.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

func TestRequire(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer listener.Close()
	open, closed := listener.Addr().String(), closedAddr(t)

	for _, c := range []struct {
		name               string
		addr, required     string
		wantSkip, wantFail bool
	}{
		{"reachable", open, "", false, false},
		{"reachable and required", open, "1", false, false},
		{"unreachable", closed, "", true, false},
		{"unreachable, required=0", closed, "0", true, false},
		{"unreachable and required", closed, "1", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvRequireServices, c.required)
			start := time.Now()
			r := record(t, func(tb testing.TB) { Require(tb, "Fake MQ", c.addr) })
			if r.skipped != c.wantSkip || r.failed != c.wantFail {
				t.Fatalf("skipped=%v failed=%v (%q), want skipped=%v failed=%v", r.skipped, r.failed, r.msg, c.wantSkip, c.wantFail)
			}
			if (r.skipped || r.failed) && (!strings.Contains(r.msg, "Fake MQ") || !strings.Contains(r.msg, c.addr)) {
				t.Errorf("message %q does not name the service and %s", r.msg, c.addr)
			}
			if r.failed && !strings.Contains(r.msg, EnvRequireServices) {
				t.Errorf("failure message %q does not say why it is not a skip", r.msg)
			}
			if d := time.Since(start); d > dialTimeout+time.Second {
				t.Errorf("Require took %v", d)
			}
		})
	}
}

func TestRedisAddrOverride(t *testing.T) {
	addr := closedAddr(t)
	t.Setenv(EnvRedisAddr, addr)
	t.Setenv(EnvRequireServices, "")
	r := record(t, func(tb testing.TB) { RedisAddr(tb) })
	if !r.skipped || !strings.Contains(r.msg, "Redis") || !strings.Contains(r.msg, addr) {
		t.Errorf("RedisAddr with nothing at %s: skipped=%v message %q, want a skip naming Redis and the address", addr, r.skipped, r.msg)
	}
}

func TestRedisAddr(t *testing.T) {
	addr := RedisAddr(t)
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		t.Fatalf("RedisAddr returned %s, which does not answer: %v", addr, err)
	}
	_ = conn.Close()
}

func TestPostgresDSNUnreachable(t *testing.T) {
	addr := closedAddr(t)
	t.Setenv(EnvPostgresURL, "postgres://postgres:hunter2@"+addr+"/test?sslmode=disable")
	for _, required := range []string{"", "1"} {
		t.Setenv(EnvRequireServices, required)
		r := record(t, func(tb testing.TB) { PostgresDSN(tb) })
		if r.skipped == (required == "1") || r.failed != (required == "1") {
			t.Errorf("%s=%q: skipped=%v failed=%v, want the other", EnvRequireServices, required, r.skipped, r.failed)
		}
		if !strings.Contains(r.msg, "PostgreSQL") || !strings.Contains(r.msg, addr) {
			t.Errorf("message %q does not name PostgreSQL and %s", r.msg, addr)
		}
		if strings.Contains(r.msg, "hunter2") {
			t.Errorf("message %q shows the password", r.msg)
		}
	}
}

func TestPostgresDSNNotAURL(t *testing.T) {
	t.Setenv(EnvPostgresURL, "mysql://root:hunter2@127.0.0.1/test")
	r := record(t, func(tb testing.TB) { PostgresDSN(tb) })
	if !r.failed || strings.Contains(r.msg, "hunter2") {
		t.Errorf("failed=%v message %q, want a failure that hides the value", r.failed, r.msg)
	}
}

func TestPostgresDSN(t *testing.T) {
	admin := connect(t, PostgresDSN(t))
	var schema string
	t.Run("isolated schema", func(t *testing.T) {
		dsn := PostgresDSN(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("PostgresDSN returned an invalid URL: %v", err)
		}
		schema = u.Query().Get("search_path")
		if !strings.HasPrefix(schema, "junction_test_") || len(schema) > 63 {
			t.Fatalf("search_path = %q, want a junction_test_ schema name PostgreSQL accepts", schema)
		}
		conn := connect(t, dsn)
		var current string
		if err := conn.QueryRow(context.Background(), "SELECT current_schema()").Scan(&current); err != nil {
			t.Fatalf("current_schema: %v", err)
		}
		if current != schema {
			t.Errorf("current_schema() = %q, want %q", current, schema)
		}
		if _, err := conn.Exec(context.Background(), "CREATE TABLE t (id int)"); err != nil {
			t.Fatalf("create table in the schema: %v", err)
		}
		if other := PostgresDSN(t); other == dsn {
			t.Errorf("two calls returned the same DSN %s", dsn)
		}
	})
	var exists bool
	err := admin.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists)
	if err != nil {
		t.Fatalf("look up schema: %v", err)
	}
	if schema == "" || exists {
		t.Errorf("schema %q still exists after its test ended", schema)
	}
}

func TestSchemaName(t *testing.T) {
	long := strings.Repeat("TestSomethingVeryLong/With Spaces-and.dots", 5)
	a, err := schemaName(long)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := schemaName(long)
	if a == b {
		t.Errorf("two schema names for one test are equal: %s", a)
	}
	if len(a) > 63 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		t.Errorf("schemaName = %q, want at most 63 of [a-z0-9_]", a)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
