package wsclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/transform"
	"github.com/junctionhq/junction/internal/wsclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func dialer(url string) wsclient.Dialer {
	return func(ctx context.Context) (*websocket.Conn, error) {
		c, _, err := websocket.Dial(ctx, url, nil)
		return c, err
	}
}

func path(t *testing.T, p string) *transform.Path { return pathB(t, p) }

func pathB(tb testing.TB, p string) *transform.Path {
	tb.Helper()
	x, err := transform.CompilePath(p)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// subscription makes the fake's SUBSCRIBE with a fresh id each time, awaiting its
// acknowledgement.
func subscription(t *testing.T, stream string) func() (*wsclient.Request, error) {
	var id atomic.Int64
	return func() (*wsclient.Request, error) {
		n := id.Add(1)
		msg := fmt.Sprintf(`{"method":"SUBSCRIBE","params":[%q],"id":%d}`, stream, n)
		return &wsclient.Request{Message: []byte(msg), Reply: &wsclient.Match{Path: path(t, "$.id"), Value: fmt.Sprint(n), Error: path(t, "$.error")}}, nil
	}
}

// tick is a ticker message as the fake sends it.
type tick struct {
	E   string `json:"e"`
	Seq int64  `json:"seq"`
}

// collector keeps what a feed received.
type collector struct {
	mu    sync.Mutex
	ticks map[int][]int64 // seq per connection, in order received
	other int
}

func (c *collector) receive(_ context.Context, m wsclient.Message) error {
	var x tick
	_ = json.Unmarshal(m.Data, &x)
	c.mu.Lock()
	defer c.mu.Unlock()
	if x.E == "24hrTicker" {
		if c.ticks == nil {
			c.ticks = map[int][]int64{}
		}
		c.ticks[m.Connection] = append(c.ticks[m.Connection], x.Seq)
	} else {
		c.other++
	}
	return nil
}

func (c *collector) on(conn int) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ticks[conn])
}

// statuses records what a feed or caller reported.
type statuses struct {
	mu   sync.Mutex
	errs []error
	ok   int
}

func (s *statuses) status(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.ok++
		return
	}
	s.errs = append(s.errs, err)
}

func (s *statuses) failures() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// runFeed runs a feed until the test ends.
func runFeed(t *testing.T, o wsclient.FeedOptions, receive func(context.Context, wsclient.Message) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wsclient.Feed(ctx, o, receive) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Feed returned %v", err)
		}
	})
}

// TestFeedResubscribesAfterDrop: a dropped connection is made again and subscribed
// again; every ticker message the fake wrote on the new connection arrives, in order,
// and so do those of the first (the drop came after they were read).
func TestFeedResubscribesAfterDrop(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{TickEvery: time.Millisecond})
	var got collector
	var st statuses
	runFeed(t, wsclient.FeedOptions{
		Options:   wsclient.Options{Name: "Ticker", Dial: dialer(fake.URL()), Status: st.status},
		Subscribe: subscription(t, "btcusdt@ticker"),
		Reconnect: retry.Policy{Initial: time.Millisecond, Max: 10 * time.Millisecond},
	}, got.receive)

	testkit.WaitFor(t, "20 ticks on the first connection", func() bool { return len(got.on(1)) >= 20 })
	fake.Drop()
	testkit.WaitFor(t, "20 ticks on the second connection", func() bool { return len(got.on(2)) >= 20 })
	fake.Pause(true)
	// A message being written when the fake paused is still sent: compare until equal.
	testkit.WaitFor(t, "every tick sent on the second connection, in order", func() bool { return slices.Equal(got.on(2), fake.Sent()[1].Seqs) })
	sent := fake.Sent()
	if have := got.on(1); len(have) > len(sent[0].Seqs) || !slices.Equal(have, sent[0].Seqs[:len(have)]) {
		t.Errorf("first connection: received %v, not a prefix of what was sent %v", have, sent[0].Seqs)
	}
	subs := 0
	for _, m := range fake.Received() {
		if strings.Contains(m, `"SUBSCRIBE"`) {
			subs++
		}
	}
	if subs != 2 {
		t.Errorf("%d subscriptions sent, want one per connection: %v", subs, fake.Received())
	}
	if f := st.failures(); len(f) != 1 || !strings.Contains(f[0].Error(), "closed") && !strings.Contains(f[0].Error(), "EOF") {
		t.Errorf("failures reported: %v, want the drop", f)
	}
}

// TestFeedBackoff: failed attempts wait an exponential back-off, capped; a connection
// that stayed up for the longest delay starts it afresh.
func TestFeedBackoff(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var up atomic.Bool // the upstream accepts connections
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{})
	var attempts atomic.Int32
	dial := func(ctx context.Context) (*websocket.Conn, error) {
		attempts.Add(1)
		if !up.Load() {
			return nil, errors.New("connection refused")
		}
		return dialer(fake.URL())(ctx)
	}
	runFeed(t, wsclient.FeedOptions{
		Options:   wsclient.Options{Name: "Ticker", Dial: dial, Clock: clk},
		Reconnect: retry.Policy{Backoff: retry.BackoffExponential, Initial: 100 * time.Millisecond, Multiplier: 2, Max: time.Second},
	}, func(context.Context, wsclient.Message) error { return nil })

	// advance lets the feed's next wait end, once it waits.
	advance := func(n int32) {
		t.Helper()
		testkit.WaitFor(t, fmt.Sprintf("attempt %d to wait", n), func() bool { return attempts.Load() == n && clk.Sleepers() == 1 })
		slept := clk.Slept()
		clk.Advance(slept[len(slept)-1])
	}
	for n := int32(1); n <= 6; n++ {
		advance(n)
	}
	testkit.WaitFor(t, "attempt 7 to wait", func() bool { return attempts.Load() == 7 && clk.Sleepers() == 1 })
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second, time.Second}
	if got := clk.Slept(); !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}

	// Attempt 8 connects; it stays up for the longest delay, then drops.
	up.Store(true)
	clk.Advance(time.Second)
	testkit.WaitFor(t, "a connection", func() bool { return fake.Open() == 1 })
	up.Store(false)
	clk.Advance(time.Second)
	fake.Drop()
	testkit.WaitFor(t, "the wait after the drop", func() bool { return attempts.Load() == 8 && clk.Sleepers() == 1 })
	if got := clk.Slept(); len(got) != 8 || got[7] != 100*time.Millisecond {
		t.Errorf("after a connection that stayed up: waits %v, want the first delay again", got)
	}
}

// TestFeedHeartbeatTimeout: a connection that stops answering pings is closed and made
// again; messages flow once the upstream answers.
func TestFeedHeartbeatTimeout(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{TickEvery: 5 * time.Millisecond})
	var got collector
	var st statuses
	runFeed(t, wsclient.FeedOptions{
		Options: wsclient.Options{Name: "Ticker", Dial: dialer(fake.URL()), Status: st.status, Timeout: time.Second,
			Heartbeat: wsclient.Heartbeat{Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond}},
		Subscribe: subscription(t, "ethusdt@ticker"),
		Reconnect: retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond},
	}, got.receive)

	testkit.WaitFor(t, "ticks", func() bool { return len(got.on(fake.Connections())) >= 3 })
	pings := fake.Pings()
	testkit.WaitFor(t, "pings", func() bool { return fake.Pings() > pings })
	before := len(st.failures())
	fake.Freeze(true)
	testkit.WaitFor(t, "a heartbeat failure", func() bool {
		for _, err := range st.failures()[before:] {
			if errors.Is(err, wsclient.ErrHeartbeat) {
				return true
			}
		}
		return false
	})
	fake.Freeze(false)
	testkit.WaitFor(t, "ticks on a new connection", func() bool {
		n := fake.Connections()
		return n >= 2 && len(got.on(n)) >= 3
	})
	if open := fake.Open(); open != 1 {
		t.Errorf("%d connections open, want the one in use", open)
	}
}

// TestFeedBackPressure: a receiver that holds a message stops the reading; the upstream
// is held back by TCP instead of Junction buffering, the heartbeat does not mistake the
// held connection for a dead one, and once the receiver goes on every message written
// arrives, in order.
func TestFeedBackPressure(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{TickEvery: time.Millisecond, Padding: 64 << 10})
	release := make(chan struct{})
	var heldOn atomic.Int64 // the connection the held message came on
	var got collector
	var st statuses
	var id atomic.Int64
	runFeed(t, wsclient.FeedOptions{
		// An application-level heartbeat: a ping frame the fake could not answer while its
		// writes are held up would make it close the connection after 5 s (the library's
		// limit on writing a pong), which a slow test machine can reach.
		Options: wsclient.Options{Name: "Ticker", Dial: dialer(fake.URL()), Status: st.status,
			Heartbeat: wsclient.Heartbeat{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, Message: func() *wsclient.Request {
				n := fmt.Sprint(id.Add(1))
				return &wsclient.Request{Message: []byte(`{"method":"ping","id":"hb-` + n + `"}`), Reply: &wsclient.Match{Path: path(t, "$.id"), Value: "hb-" + n}}
			}}},
		Subscribe: subscription(t, "btcusdt@ticker"),
		Reconnect: retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond},
	}, func(ctx context.Context, m wsclient.Message) error {
		if err := got.receive(ctx, m); err != nil {
			return err
		}
		if len(got.on(m.Connection)) == 5 && heldOn.CompareAndSwap(0, int64(m.Connection)) {
			select { // the flow is busy
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})

	testkit.WaitFor(t, "the receiver to hold a message", func() bool { return heldOn.Load() != 0 })
	conn := int(heldOn.Load())
	testkit.WaitFor(t, "TCP to push back on the upstream", func() bool { return fake.Backlogged(300 * time.Millisecond) })
	if n := len(got.on(conn)); n != 5 {
		t.Fatalf("%d messages received while the receiver held the fifth", n)
	}
	connections := fake.Connections()
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for len(got.on(conn)) < 40 {
		if time.Now().After(deadline) {
			t.Fatalf("the backlog did not drain: %d messages on connection %d; %d connections; failures %v", len(got.on(conn)), conn, fake.Connections(), st.failures())
		}
		time.Sleep(2 * time.Millisecond)
	}
	fake.Pause(true)
	// A message being written when the fake paused is still sent: compare until equal.
	deadline = time.Now().Add(30 * time.Second)
	for !slices.Equal(got.on(conn), fake.Sent()[conn-1].Seqs) {
		if time.Now().After(deadline) {
			t.Fatalf("received %d messages on connection %d, the fake sent %d; %d connections; failures %v", len(got.on(conn)), conn, len(fake.Sent()[conn-1].Seqs), fake.Connections(), st.failures())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if n := fake.Connections(); n != connections {
		t.Errorf("%d connections after %d: the held connection was taken for dead", n, connections)
	}
}

// TestFeedRefusedSubscription: a subscription the upstream refuses fails the
// connection with the refusal, and the feed tries again later.
func TestFeedRefusedSubscription(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{})
	var st statuses
	runFeed(t, wsclient.FeedOptions{
		Options:   wsclient.Options{Name: "Ticker", Dial: dialer(fake.URL()), Status: st.status},
		Subscribe: subscription(t, "dogeusdt@ticker"),
		Reconnect: retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond},
	}, func(context.Context, wsclient.Message) error { return nil })

	testkit.WaitFor(t, "two refusals", func() bool { return len(st.failures()) >= 2 })
	var refused *wsclient.RefusedError
	if err := st.failures()[0]; !errors.As(err, &refused) || !strings.Contains(refused.Refusal, `unknown stream \"dogeusdt@ticker\"`) {
		t.Fatalf("failure %v, want the fake's refusal", err)
	}
}

// TestFeedSubscribeFailsForGood: a subscription that cannot be built ends the feed with
// that error, without connecting.
func TestFeedSubscribeFailsForGood(t *testing.T) {
	err := wsclient.Feed(context.Background(), wsclient.FeedOptions{
		Options:   wsclient.Options{Name: "Ticker", Dial: func(context.Context) (*websocket.Conn, error) { panic("dialled") }},
		Subscribe: func() (*wsclient.Request, error) { return nil, errors.New("symbol: required") },
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "symbol: required") {
		t.Fatalf("Feed = %v", err)
	}
}

// TestCaller: concurrent calls on one connection each get their own reply; a refusal
// is found; a call without an answer ends with its context; a lost connection fails
// the calls on it, and the next call connects again.
func TestCaller(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{})
	var st statuses
	k := wsclient.NewCaller(wsclient.Options{Name: "Ticker", Dial: dialer(fake.URL()), Status: st.status})
	t.Cleanup(k.Close)
	price := func(symbol, id string) *wsclient.Request {
		return &wsclient.Request{
			Message: fmt.Appendf(nil, `{"method":"ticker.price","params":{"symbol":%q},"id":%q}`, symbol, id),
			Reply:   &wsclient.Match{Path: path(t, "$.id"), Value: id, Error: path(t, "$.error")},
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprintf("call-%d", i)
			reply, err := k.Call(ctx, price("BTCUSDT", id))
			if err != nil || !strings.Contains(string(reply), `"id":"`+id+`"`) {
				t.Errorf("call %s: %s, %v", id, reply, err)
			}
		})
	}
	wg.Wait()
	if n := fake.Connections(); n != 1 {
		t.Errorf("%d connections for 20 calls, want one shared", n)
	}

	reply, err := k.Call(ctx, price("NOPE", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	m := price("NOPE", "bad").Reply
	if refusal, ok := m.Refusal(reply); !ok || !strings.Contains(refusal, "Invalid symbol") {
		t.Errorf("refusal of %s = %q, %v", reply, refusal, ok)
	}

	fake.Freeze(true)
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = k.Call(short, price("BTCUSDT", "unanswered"))
	stop()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered call: %v", err)
	}

	lost := make(chan error, 1)
	go func() {
		_, err := k.Call(ctx, price("BTCUSDT", "cut"))
		lost <- err
	}()
	testkit.WaitFor(t, "the request to be sent", func() bool { return strings.Contains(strings.Join(fake.Received(), ""), "cut") || fake.Open() == 1 })
	fake.Drop()
	var ce *wsclient.ConnectionError
	if err := <-lost; !errors.As(err, &ce) {
		t.Errorf("call on a dropped connection: %v, want a ConnectionError", err)
	}
	fake.Freeze(false)
	if reply, err := k.Call(ctx, price("ETHUSDT", "after")); err != nil || !strings.Contains(string(reply), "ETHUSDT") {
		t.Errorf("call after the drop: %s, %v", reply, err)
	}
	if n := fake.Connections(); n != 2 {
		t.Errorf("%d connections, want a second after the drop", n)
	}
	k.Close()
	if _, err := k.Call(ctx, price("BTCUSDT", "closed")); !errors.Is(err, wsclient.ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

// TestCallerHeartbeatMessage: an application-level heartbeat is sent and its reply is
// taken by the heartbeat, not mistaken for anything else; one left unanswered closes
// the connection.
func TestCallerHeartbeatMessage(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{})
	var st statuses
	var id atomic.Int64
	k := wsclient.NewCaller(wsclient.Options{Name: "Ticker", Dial: dialer(fake.URL()), Status: st.status,
		Heartbeat: wsclient.Heartbeat{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, Message: func() *wsclient.Request {
			n := fmt.Sprint(id.Add(1))
			return &wsclient.Request{Message: []byte(`{"method":"ping","id":` + n + `}`), Reply: &wsclient.Match{Path: path(t, "$.id"), Value: n}}
		}}})
	t.Cleanup(k.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := k.Call(ctx, &wsclient.Request{Message: []byte(`{"method":"ping","id":"first"}`), Reply: &wsclient.Match{Path: path(t, "$.id"), Value: "first"}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "three heartbeats", func() bool { return strings.Count(strings.Join(fake.Received(), ""), `"ping"`) >= 4 })
	if f := st.failures(); len(f) > 0 {
		t.Fatalf("answered heartbeats failed the connection: %v", f)
	}
	fake.Freeze(true)
	testkit.WaitFor(t, "the heartbeat to fail", func() bool {
		f := st.failures()
		return len(f) > 0 && errors.Is(f[0], wsclient.ErrHeartbeat)
	})
}

func TestText(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{"7", "7"}, {json.Number("7"), "7"}, {int64(7), "7"}, {7.5, "7.5"}, {nil, "null"}, {true, "true"},
		{map[string]any{"a": json.Number("1")}, `{"a":1}`},
	} {
		if got := wsclient.Text(c.v); got != c.want {
			t.Errorf("Text(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
