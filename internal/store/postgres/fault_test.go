package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/junctionhq/junction/internal/servicetest"
)

// behindProxy returns a DSN for a new schema that reaches PostgreSQL through a fault
// proxy, and the proxy.
func behindProxy(t *testing.T) (string, *servicetest.FaultProxy) {
	t.Helper()
	u, err := url.Parse(servicetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := servicetest.NewFaultProxy(t, u.Host)
	u.Host = proxy.Addr()
	return u.String(), proxy
}

// returnsWithin runs call and fails t unless it returns within bound (generous: this
// checks that it returns at all, not how fast). It returns the time and call's error.
func returnsWithin(t *testing.T, bound time.Duration, call func() error) (time.Duration, error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(bound):
		t.Fatalf("no return within %v", bound)
		return 0, nil
	}
}

// TestBlackHoleReturnsAtDeadline: a server that stops answering in the middle of the
// pool's life (the proxy forwards nothing any more, on open connections and new ones)
// cannot hold a query past its context: pgx's context watcher breaks the connection.
// The pool then works again as soon as the server answers.
func TestBlackHoleReturnsAtDeadline(t *testing.T) {
	dsn, proxy := behindProxy(t)
	s := openDSN(t, dsn)
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy.BlackHole()
	for i := range 3 { // the first on an open connection, then on new ones
		took, err := returnsWithin(t, 30*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := s.TokenList(ctx)
			return err
		})
		t.Logf("query %d on a black hole returned after %v: %v", i+1, took.Round(time.Millisecond), err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("query %d: %v, want context.DeadlineExceeded", i+1, err)
		}
		if !s.Unavailable(err) {
			t.Errorf("query %d: Unavailable(%v) = false", i+1, err)
		}
	}
	proxy.Heal()
	if _, err := s.TokenList(context.Background()); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
}

// TestOpenGivesUpOnBlackHole: making a connection has a deadline of its own
// (ConnectTimeoutDefault), so Open on a server that accepts and never answers fails
// instead of hanging, even with a context that never ends.
func TestOpenGivesUpOnBlackHole(t *testing.T) {
	dsn, proxy := behindProxy(t)
	proxy.BlackHole()
	took, err := returnsWithin(t, 30*time.Second, func() error {
		s, err := Open(context.Background(), dsn)
		if err == nil {
			_ = s.Close()
		}
		return err
	})
	t.Logf("Open on a black hole failed after %v: %v", took.Round(time.Millisecond), err)
	if err == nil {
		t.Fatal("Open succeeded on a server that never answers")
	}
}

func TestUnavailable(t *testing.T) {
	s := &Store{}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "08006"}, true},                                // connection failure
		{&pgconn.PgError{Code: "57P01"}, true},                                // admin shutdown
		{&pgconn.PgError{Code: "57014"}, true},                                // statement timeout
		{&pgconn.PgError{Code: "53300"}, true},                                // too many connections
		{&pgconn.PgError{Code: "40001"}, true},                                // serialization failure
		{&pgconn.PgError{Code: "25006"}, true},                                // read-only standby
		{fmt.Errorf("postgres: x: %w", &pgconn.PgError{Code: "55P03"}), true}, // lock not available
		{&pgconn.PgError{Code: "23505"}, false},                               // unique violation
		{&pgconn.PgError{Code: "23502"}, false},                               // not null violation
		{&pgconn.PgError{Code: "22021"}, false},                               // invalid byte sequence (NUL)
		{&pgconn.PgError{Code: "42P01"}, false},                               // undefined table
		{&pgconn.PgError{Code: "25P02"}, false},                               // in failed transaction
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{pgconn.ErrConnClosed, true},
		{context.DeadlineExceeded, true},
		{errors.New("zero time"), false},
		{nil, false},
	} {
		if got := s.Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	s.closed.Store(true)
	if !s.Unavailable(errors.New("closed pool")) {
		t.Error("Unavailable after Close = false")
	}
}
