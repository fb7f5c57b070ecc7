package websocket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{Kind: Kind()})
}

// feeds is a Junction whose one websocket integration, Ticker, receives numbered
// messages as fast as they are taken.
type feeds struct {
	connector.Internal
	params   map[string]any
	received atomic.Int64 // messages the feed has read off its connection
}

func (f *feeds) Feed(name string, params map[string]any) (connector.Feed, error) {
	if name != "Ticker" {
		return nil, fmt.Errorf("integration %q is not declared", name)
	}
	f.params = params
	return func(ctx context.Context, receive func(context.Context, connector.FeedMessage) error) error {
		for seq := uint64(1); ; seq++ {
			f.received.Add(1)
			if err := receive(ctx, connector.FeedMessage{Body: fmt.Appendf(nil, `{"n":%d}`, seq), Connection: 1, Seq: seq, Time: time.Now()}); err != nil {
				return nil // ctx ended
			}
		}
	}, nil
}

func open(t *testing.T, in connector.Internal, block string, inFlight int) (<-chan connector.Delivery, context.CancelFunc) {
	t.Helper()
	s := connectortest.Settings(t, "websocket", "ticks", block, "")
	s.Env.Internal = in
	src, err := Kind().NewSource(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Open(ctx, inFlight)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		for range ch { // the source closes its channel once stopped
		}
	})
	return ch, cancel
}

// TestInFlightHoldsTheFeed: the source takes a message from the feed only when a place
// among the flow's in-flight ones is free, so a flow that does not settle stops the
// reading; Ack frees a place; Nack hands the message out again before newer ones.
func TestInFlightHoldsTheFeed(t *testing.T) {
	f := &feeds{}
	ch, _ := open(t, f, `integration: "Ticker"
params: { symbol: "btcusdt", depth: 5 }`, 3)
	got := connectortest.Receive(t, ch, 3)
	connectortest.Quiet(t, ch, 50*time.Millisecond)
	if n := f.received.Load(); n != 4 {
		t.Fatalf("the feed read %d messages with 3 unsettled; want 3 and the fourth waiting for a place", n)
	}
	if fmt.Sprint(f.params) != "map[depth:5 symbol:btcusdt]" {
		t.Errorf("params %v", f.params)
	}
	d := got[0]
	if d.ID != "websocket:Ticker:1:1" || d.Headers["integration"] != "Ticker" || d.Headers["sequence"] != "1" || d.Headers["message_type"] != "text" {
		t.Errorf("delivery %s %v", d.ID, d.Headers)
	}

	ctx := context.Background()
	if err := got[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := got[0].Ack(ctx); !errors.Is(err, ErrSettled) {
		t.Errorf("second Ack: %v", err)
	}
	next := connectortest.Receive(t, ch, 1)[0]
	if connectortest.Number(t, next.Body) != 4 {
		t.Errorf("after an Ack: message %s", next.Body)
	}
	if err := got[1].Nack(ctx); err != nil {
		t.Fatal(err)
	}
	again := connectortest.Receive(t, ch, 1)[0]
	if connectortest.Number(t, again.Body) != 2 {
		t.Errorf("after a Nack of message 2: message %s", again.Body)
	}
	connectortest.Quiet(t, ch, 50*time.Millisecond)
}

// TestSettleAfterStop: messages handed out stay settleable after the source stopped.
func TestSettleAfterStop(t *testing.T) {
	ch, cancel := open(t, &feeds{}, `integration: "Ticker"`, 2)
	got := connectortest.Receive(t, ch, 2)
	cancel()
	for range ch {
	}
	if err := got[0].Ack(context.Background()); err != nil {
		t.Error(err)
	}
	if err := got[1].Nack(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, c := range []struct {
		in    connector.Internal
		block string
		want  string
	}{
		{nil, `integration: "Ticker"`, "needs a running Junction server"},
		{&feeds{}, `integration: "Tickr"`, `websocket connector ticks: integration "Tickr" is not declared`},
	} {
		s := connectortest.Settings(t, "websocket", "ticks", c.block, "")
		s.Env.Internal = c.in
		src, err := Kind().NewSource(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Open(context.Background(), 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open with %s: %v, want %q", c.block, err, c.want)
		}
	}
	s := connectortest.Settings(t, "websocket", "ticks", `integration: "Ticker"
params: "btcusdt"`, "")
	if _, err := Kind().NewSource(s); err == nil || !strings.Contains(err.Error(), "expected a block") {
		t.Errorf("params not a block: %v", err)
	}
}
