package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/testkit"
)

// dialEvents opens GET /events/ws with a bearer token; the connection gives up after 30 s.
func dialEvents(t *testing.T, base, token, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if header == nil {
		header = http.Header{}
	}
	header.Set("Authorization", "Bearer "+token)
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/events/ws"+query, &websocket.DialOptions{HTTPHeader: header})
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func readEvent(t *testing.T, c *websocket.Conn) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type %v", typ)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("message %q: %v", data, err)
	}
	return out, nil
}

// TestEventSocket: the WebSocket carries the bus's matching events as JSON messages,
// outlives the server's write and read timeouts, and refuses another site's page.
func TestEventSocket(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus))
	e.srv.SetStreamForTest(16, 20*time.Millisecond)
	e.ts = httptest.NewUnstartedServer(e.srv.Handler())
	e.ts.Config.WriteTimeout = 200 * time.Millisecond
	e.ts.Config.ReadTimeout = 200 * time.Millisecond
	e.ts.Start()
	t.Cleanup(e.ts.Close)

	if _, resp, err := dialEvents(t, e.ts.URL, e.user, "", http.Header{"Origin": {"https://elsewhere.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin handshake: %v %v", resp, err)
	}
	if _, resp, err := dialEvents(t, e.ts.URL, e.user, "?types=not a pattern", nil); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad pattern: %v %v", resp, err)
	}
	if _, resp, err := dialEvents(t, e.ts.URL, "jct_nobody", "", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a bad token: %v %v", resp, err)
	}

	c, _, err := dialEvents(t, e.ts.URL, e.user, "?types=order.*", nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the socket to watch the bus", bus.Watched)
	// Quiet for three write timeouts: pings keep it open, and the next event still comes.
	time.Sleep(3 * e.ts.Config.WriteTimeout) // the time to outlast is the point of the test
	bus.Publish(event.Event{ID: "evt_1", Type: "billing.paid", Data: json.RawMessage(`{}`)})
	bus.Publish(event.Event{ID: "evt_2", Type: "order.created", Source: "api", Data: json.RawMessage(`{"n":1}`)})
	got, err := readEvent(t, c)
	if err != nil || got["id"] != "evt_2" || got["type"] != "order.created" || got["source"] != "api" || fmt.Sprint(got["data"]) != "map[n:1]" {
		t.Fatalf("event %v, %v", got, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	testkit.WaitFor(t, "the socket to stop watching", func() bool { return !bus.Watched() })
}

// TestEventSocketOverflowClosesIt: a client that stops reading is closed with 1013.
func TestEventSocketOverflowClosesIt(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus))
	e.srv.SetStreamForTest(4, time.Hour)
	e.start()
	c, _, err := dialEvents(t, e.ts.URL, e.user, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the socket to watch the bus", bus.Watched)
	big := json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)
	deadline := time.Now().Add(30 * time.Second)
	for bus.Watched() {
		if time.Now().After(deadline) {
			t.Fatal("the socket still watches")
		}
		bus.Publish(event.Event{Type: "bulk.item", Data: big})
	}
	c.SetReadLimit(1 << 20)
	for {
		_, err := readEvent(t, c)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != websocket.StatusTryAgainLater || !strings.Contains(err.Error(), "read too slowly") {
			t.Fatalf("closed with %v", err)
		}
		break
	}
}

// TestThousandStreams: 1,000 clients watch at once and each gets every event.
func TestThousandStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 streams skipped in -short mode")
	}
	const clients, events = 1000, 5
	bus := newBus(t)
	e := newEnv(t, withEvents(bus)).start()
	e.ts.Client().Transport.(*http.Transport).MaxConnsPerHost = 0
	streams := make([]*sseStream, clients)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			streams[i] = openStream(t, e.ts.URL, e.user, "?types=load.*")
			if _, err := streams[i].next(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range events {
		bus.Publish(event.Event{ID: fmt.Sprint("evt_", i), Type: "load.tick", Data: json.RawMessage(`{}`)})
	}
	var failed sync.Map
	for i, s := range streams {
		wg.Go(func() {
			for n := range events {
				if m := s.event(); m.ID != fmt.Sprint("evt_", n) {
					failed.Store(i, m.ID)
					return
				}
			}
		})
	}
	wg.Wait()
	failed.Range(func(k, v any) bool {
		t.Errorf("client %v got %v out of order", k, v)
		return true
	})
}

// TestEventSocketResumes: a WebSocket opened with ?last_event_id= first gets the stored
// events after that one, then the live ones, each once.
func TestEventSocketResumes(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus), func(o *testOptions) { o.EventLog = o.Store })
	e.start()
	base := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	for i, typ := range []string{"order.a", "billing.b", "order.c"} {
		ev := event.Event{ID: fmt.Sprintf("evt_%d", i+1), Type: typ, Source: "api", Time: base.Add(time.Duration(i) * time.Second), Data: json.RawMessage(`{}`)}
		if _, _, err := e.store.EventPublish(context.Background(), ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := dialEvents(t, e.ts.URL, e.user, "?types=order.*&last_event_id=evt_1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readEvent(t, c); err != nil || got["id"] != "evt_3" {
		t.Fatalf("resumed %v, %v", got, err)
	}
	testkit.WaitFor(t, "the socket to watch the bus", bus.Watched)
	bus.Publish(event.Event{ID: "evt_3", Type: "order.c", Data: json.RawMessage(`{}`)}) // the live copy
	bus.Publish(event.Event{ID: "evt_4", Type: "order.d", Data: json.RawMessage(`{}`)})
	if got, err := readEvent(t, c); err != nil || got["id"] != "evt_4" {
		t.Errorf("live after resuming %v, %v", got, err)
	}
}

// TestStalledClientDoesNotSlowOthers: a stream whose client reads nothing fills its own
// queue and is cut off; a client that reads gets every event meanwhile, on SSE and on the
// WebSocket alike. The test publishes in rounds and waits for the readers each round, so
// only the stalled client can fall behind.
func TestStalledClientDoesNotSlowOthers(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus))
	e.srv.SetStreamForTest(16, time.Hour)
	e.start()
	stalled := openStream(t, e.ts.URL, e.user, "") // never read after this
	if _, err := stalled.next(); err != nil {
		t.Fatal(err)
	}
	reader := openStream(t, e.ts.URL, e.user, "")
	if _, err := reader.next(); err != nil {
		t.Fatal(err)
	}
	socket, _, err := dialEvents(t, e.ts.URL, e.user, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	socket.SetReadLimit(1 << 20)
	// The socket watches once its handshake is done: markers are published until one
	// arrives there; the readers skip them.
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				bus.Publish(event.Event{Type: "marker"})
			}
		}
	}()
	for {
		got, err := readEvent(t, socket)
		if err != nil {
			close(stop)
			t.Fatal(err)
		}
		if got["type"] == "marker" {
			break
		}
	}
	close(stop)
	nextSSE := func() sseMessage {
		for {
			if m := reader.event(); m.Event != "marker" {
				return m
			}
		}
	}
	nextSocket := func() (map[string]any, error) {
		for {
			got, err := readEvent(t, socket)
			if err != nil || got["type"] != "marker" {
				return got, err
			}
		}
	}
	big := json.RawMessage(`"` + strings.Repeat("x", 32<<10) + `"`)
	const rounds, perRound = 40, 8
	for r := range rounds {
		for i := range perRound {
			bus.Publish(event.Event{ID: fmt.Sprintf("evt_%d_%d", r, i), Type: "bulk.item", Data: big})
		}
		for i := range perRound {
			want := fmt.Sprintf("evt_%d_%d", r, i)
			if m := nextSSE(); m.ID != want {
				t.Fatalf("SSE reader got %s, want %s", m.ID, want)
			}
			got, err := nextSocket()
			if err != nil || got["id"] != want {
				t.Fatalf("WebSocket reader got %v (%v), want %s", got["id"], err, want)
			}
		}
	}
	// The stalled client was cut off long ago: its stream ends with the overflow message.
	for {
		m, err := stalled.next()
		if err != nil {
			t.Fatalf("the stalled stream ended without an overflow message: %v", err)
		}
		if m.Event == "overflow" {
			break
		}
	}
}
