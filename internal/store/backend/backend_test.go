package backend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/deadline"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	for _, c := range []struct {
		url, backend, location string
	}{
		{"", "sqlite", "junction.db"},
		{"junction.db", "sqlite", "junction.db"},
		{"./data/j.db", "sqlite", "./data/j.db"},
		{"/var/lib/junction/j.db", "sqlite", "/var/lib/junction/j.db"},
		{"data/x:y.db", "sqlite", "data/x:y.db"},
		{`C:\junction\j.db`, "sqlite", `C:\junction\j.db`},
		{"sqlite:j.db", "sqlite", "j.db"},
		{"sqlite:/var/j.db", "sqlite", "/var/j.db"},
		{"sqlite://j.db", "sqlite", "j.db"},
		{"sqlite:///var/j.db", "sqlite", "/var/j.db"},
		{"SQLite:j.db", "sqlite", "j.db"},
		{"file:j.db", "sqlite", "j.db"},
		{"file:///tmp/j.db", "sqlite", "/tmp/j.db"},
		{"postgres://u:p@127.0.0.1:5432/test", "postgres", "postgres://u:p@127.0.0.1:5432/test"},
		{"postgresql://db.internal/junction?sslmode=require", "postgres", "postgresql://db.internal/junction?sslmode=require"},
		{"Postgres://h/db", "postgres", "Postgres://h/db"},
	} {
		got, err := parse(c.url)
		if err != nil {
			t.Errorf("parse(%q): %v", c.url, err)
			continue
		}
		if got.backend != c.backend || got.location != c.location {
			t.Errorf("parse(%q) = %s %q, want %s %q", c.url, got.backend, got.location, c.backend, c.location)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, u := range []string{
		"mysql://root:hunter2@127.0.0.1/junction",
		"redis://127.0.0.1:6379",
		"mariadb:hunter2",
		"postgres:hunter2",
		"sqlite:",
		"sqlite://",
		"file:",
	} {
		_, err := parse(u)
		if err == nil {
			t.Errorf("parse(%q) succeeded, want an error", u)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "hunter2") {
			t.Errorf("parse(%q) error shows the password: %s", u, msg)
		}
		// The message must say what would have been accepted.
		for _, form := range []string{"postgres://", "sqlite:PATH", "file:PATH", "junction.db"} {
			if !strings.Contains(msg, form) {
				t.Errorf("parse(%q) error %q does not mention %s", u, msg, form)
			}
		}
	}
	if _, err := parse("mysql://h/db"); err == nil || !strings.Contains(err.Error(), `"mysql"`) {
		t.Errorf("parse(mysql://h/db) = %v, want an error naming the scheme", err)
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"", "sqlite junction.db"},
		{"sqlite:///var/lib/junction.db", "sqlite /var/lib/junction.db"},
		{"postgres://user:hunter2@127.0.0.1:5432/test", "postgres postgres://user@127.0.0.1:5432/test"},
		{"postgres://127.0.0.1/test?sslmode=disable", "postgres postgres://127.0.0.1/test?sslmode=disable"},
		{"postgresql://user@h/db?password=hunter2&sslmode=disable&sslpassword=hunter2", "postgres postgresql://user@h/db?sslmode=disable"},
	} {
		if got := Describe(c.url); got != c.want {
			t.Errorf("Describe(%q) = %q, want %q", c.url, got, c.want)
		}
	}
	for _, u := range []string{
		"mysql://root:hunter2@127.0.0.1/junction",
		"postgres://user:hunter2@[::1/test",
		"postgres://user:hunter2@host:notaport/test",
	} {
		if got := Describe(u); strings.Contains(got, "hunter2") || got == "" {
			t.Errorf("Describe(%q) = %q, want a description without the password", u, got)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range []struct{ url, file string }{
		{"sqlite:" + filepath.Join(dir, "a.db"), "a.db"},
		{"sqlite://" + filepath.Join(dir, "b.db"), "b.db"},
		{"file:" + filepath.Join(dir, "c.db"), "c.db"},
		{filepath.Join(dir, "d.db"), "d.db"},
	} {
		s, err := Open(ctx, c.url)
		if err != nil {
			t.Fatalf("Open(%q): %v", c.url, err)
		}
		if got := s.Backend(); got != "sqlite" {
			t.Errorf("Open(%q).Backend() = %q, want sqlite", c.url, got)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, c.file)); err != nil {
			t.Errorf("Open(%q) did not create %s: %v", c.url, c.file, err)
		}
	}
}

func TestOpenDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open(context.Background(), "")
	if err != nil {
		t.Fatalf(`Open(""): %v`, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultSQLitePath)); err != nil {
		t.Errorf(`Open("") did not create %s in the working directory: %v`, DefaultSQLitePath, err)
	}
}

func TestOpenUnknownScheme(t *testing.T) {
	s, err := Open(context.Background(), "mysql://root@127.0.0.1/junction")
	if err == nil || s != nil {
		t.Errorf("Open(mysql://…) = %v, %v; want nil and an error", s, err)
	}
}

func TestOpenPostgres(t *testing.T) {
	s, err := Open(context.Background(), servicetest.PostgresDSN(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if got := s.Backend(); got != "postgres" {
		t.Errorf("Backend() = %q, want postgres", got)
	}
}

// TestOpenErrorIsNil guards against returning a typed nil pointer inside a non-nil
// interface, which a caller's "if s != nil { s.Close() }" would trip over.
func TestOpenErrorIsNil(t *testing.T) {
	for _, u := range []string{
		"sqlite:" + filepath.Join(t.TempDir(), "missing", "j.db"),
		"postgres://127.0.0.1:1/test?connect_timeout=2",
	} {
		s, err := Open(context.Background(), u)
		if err == nil || s != nil {
			t.Errorf("Open(%q) = %v, %v; want nil and an error", u, s, err)
		}
	}
}

// TestOpenAddsDeadlines: every store Open returns runs its calls under deadlines, so
// every user of the store (serve, the CLI, benchmarks) gets them.
func TestOpenAddsDeadlines(t *testing.T) {
	for _, u := range []string{"sqlite:" + filepath.Join(t.TempDir(), "j.db"), servicetest.PostgresDSN(t)} {
		s, err := Open(context.Background(), u)
		if err != nil {
			t.Fatalf("Open(%s): %v", Describe(u), err)
		}
		if _, ok := s.(*deadline.Store); !ok {
			t.Errorf("Open(%s) = %T, want a *deadline.Store", Describe(u), s)
		}
		_ = s.Close()
	}
}

// TestConformanceThroughOpen runs the conformance suite through the store Open makes:
// the deadline decorator hands every argument and result through unchanged. SQLite is
// enough: the decorator does the same for every backend. The deadlines are long here:
// the suite's concurrency cases (eight claimers racing for SQLite's one writer) are no
// workload of Junction's, and on a loaded machine under the race detector they can
// outlast the production deadlines, which TestOpenAddsDeadlines checks.
func TestConformanceThroughOpen(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "j.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		inner := s.(*deadline.Store).Unwrap().(*sqlite.Store)
		long := 10 * time.Minute
		return deadline.New(inner, inner.Unavailable, deadline.Timeouts{Call: long, Batch: long, Purge: long, Migrate: long})
	})
}
