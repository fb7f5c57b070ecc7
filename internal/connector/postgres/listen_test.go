package postgres

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest"
)

func TestListen(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	// Channels are shared by the whole server: a unique one per test, and mixed case to
	// show that the name is quoted, not folded.
	channel := "Junction_test_" + randomSuffix(t)
	src := newSource(t, settings(dsn, "mode", "listen", "channel", channel))
	ch := open(t, src, 1)

	conn := db(t, dsn)
	var pid uint32
	if err := conn.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	exec(t, conn, "SELECT pg_notify($1, 'other channel')", channel+"_x")
	for _, p := range []string{`{"n":0}`, `{"n":1}`, `not JSON at all`} {
		exec(t, conn, "SELECT pg_notify($1, $2)", channel, p)
	}

	first := connectortest.Receive(t, ch, 1)[0]
	if string(first.Body) != `{"n":0}` || first.Headers["channel"] != channel ||
		first.Headers["pid"] != strconv.FormatUint(uint64(pid), 10) || first.Time.IsZero() {
		t.Fatalf("delivery %s %q headers %v", first.ID, first.Body, first.Headers)
	}
	// inFlight is 1: the next waits until this one is settled.
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	if err := first.Nack(context.Background()); err != nil { // frees the slot, no redelivery
		t.Fatal(err)
	}
	if err := first.Ack(context.Background()); err != ErrSettled {
		t.Errorf("Ack after Nack: %v, want ErrSettled", err)
	}
	for _, want := range []string{`{"n":1}`, `not JSON at all`} {
		d := connectortest.Receive(t, ch, 1)[0]
		if string(d.Body) != want {
			t.Fatalf("delivered %q, want %q", d.Body, want)
		}
		ack(t, d)
	}
	connectortest.Quiet(t, ch, 200*time.Millisecond)
}

func TestListenOpenError(t *testing.T) {
	src := newSource(t, settings("postgres://postgres@"+closedAddr(t)+"/test?sslmode=disable&connect_timeout=2",
		"mode", "listen", "channel", "c"))
	if _, err := src.Open(context.Background(), 1); err == nil {
		t.Fatal("Open with nothing listening succeeded")
	}
}

// After its connection is killed the source connects and LISTENs again; notifications
// sent meanwhile are lost, so the test sends until one arrives.
func TestListenReconnects(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	channel := "junction_test_" + randomSuffix(t)
	src := newSource(t, settings(dsn, "mode", "listen", "channel", channel))
	ch := open(t, src, 4)
	conn := db(t, dsn)
	listener := func() (pid int) {
		err := conn.QueryRow(context.Background(),
			`SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`, `LISTEN "`+channel+`"`).Scan(&pid)
		if err != nil {
			t.Fatalf("find the listening connection: %v", err)
		}
		return pid
	}
	old := listener()
	exec(t, conn, "SELECT pg_terminate_backend($1)", old)
	deadline := time.After(connectortest.Timeout)
	for i := 0; ; i++ {
		exec(t, conn, "SELECT pg_notify($1, $2)", channel, strconv.Itoa(i))
		select {
		case d := <-ch:
			if _, err := strconv.Atoi(string(d.Body)); err != nil {
				t.Fatalf("delivered %q", d.Body)
			}
			ack(t, d)
			if pid := listener(); pid == old {
				t.Fatalf("still listening on connection %d", pid)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notification after the connection was killed")
		}
	}
}
