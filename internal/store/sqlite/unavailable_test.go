package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/junctionhq/junction/internal/store"
)

func TestUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Real driver errors: SQLITE_BUSY from a second connection that may not wait for the
	// lock another holds, and a constraint violation.
	holder, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE t (x TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	_, notNull := conn.ExecContext(ctx, "INSERT INTO t (x) VALUES (NULL)")
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, "ROLLBACK") }()
	impatient, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	_, busy := impatient.ExecContext(ctx, "INSERT INTO t (x) VALUES ('a')")

	for _, c := range []struct {
		err  error
		want bool
	}{
		{busy, true},
		{fmt.Errorf("sqlite: token create: %w", busy), true},
		{notNull, false},
		{fmt.Errorf("%w: unique", store.ErrConflict), false},
		{driver.ErrBadConn, true},
		{sql.ErrConnDone, true},
		{context.DeadlineExceeded, true},
		{errors.New("created at: zero time"), false},
		{nil, false},
	} {
		if c.err == nil && c.want {
			t.Fatal("test case without an error")
		}
		if got := s.Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if busy == nil || notNull == nil {
		t.Fatalf("driver errors not produced: busy %v, not null %v", busy, notNull)
	}

	_ = s.Close()
	_, err = s.TokenList(ctx)
	if !s.Unavailable(err) {
		t.Errorf("after Close: Unavailable(%v) = false", err)
	}
}
