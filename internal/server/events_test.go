package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/testkit"
)

// withEvents serves GET /events/stream over bus.
func withEvents(bus *event.Bus) func(*testOptions) {
	return func(o *testOptions) { o.Events = bus }
}

func newBus(t *testing.T) *event.Bus {
	bus := event.New(slog.New(slog.DiscardHandler))
	t.Cleanup(bus.Close)
	return bus
}

// sseMessage is one Server-Sent Events message; a comment-only block has Comments only.
type sseMessage struct {
	ID, Event, Data string
	Comments        []string
}

// sseStream is an open event stream, read as the client reads it. Its request gives
// up after 30 s, so a stream that never sends what a test waits for fails the test.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

func openStream(t *testing.T, base, token, query string, header ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{t: t, resp: resp, rd: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next reads the next message; io.EOF when the server ended the stream.
func (s *sseStream) next() (sseMessage, error) {
	var m sseMessage
	started := false
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && !started {
				return m, io.EOF
			}
			return m, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if started {
				return m, nil
			}
			continue
		}
		started = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			m.Comments = append(m.Comments, value)
		case "id":
			m.ID = value
		case "event":
			m.Event = value
		case "data":
			m.Data = value
		default:
			s.t.Errorf("unexpected field in %q", line)
		}
	}
}

// event reads messages up to the next one that is not a comment.
func (s *sseStream) event() sseMessage {
	s.t.Helper()
	for {
		m, err := s.next()
		if err != nil {
			s.t.Fatalf("reading the stream: %v", err)
		}
		if m.Event != "" {
			return m
		}
	}
}

// TestEventStreamFilters: the stream carries the bus's events whose types match
// ?types, watch-only ones included, each as id, event and one data line.
func TestEventStreamFilters(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus)).start()
	s := openStream(t, e.ts.URL, e.user, "?types=order.*,flow.run&types=junction.webhook.delivery")
	if ct, cc := s.resp.Header.Get("Content-Type"), s.resp.Header.Get("Cache-Control"); ct != "text/event-stream" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	// The first message comes once the stream watches: nothing published after it is missed.
	if m, err := s.next(); err != nil || len(m.Comments) != 1 || !strings.Contains(m.Comments[0], "order.*,flow.run,junction.webhook.delivery") {
		t.Fatalf("first message %+v, %v", m, err)
	}
	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	bus.Publish(event.Event{ID: "evt_1", Type: "billing.paid", Source: "api", Time: at, Data: json.RawMessage(`{}`)})
	bus.Publish(event.Event{ID: "evt_2", Type: "order.created", Source: "api", Time: at, Data: json.RawMessage(`{ "n": 1,
		"multi": "line" }`)})
	bus.PublishWatched(event.Event{ID: "evt_3", Type: "junction.flow.message", Source: "junction", Data: json.RawMessage(`{}`)})
	bus.PublishWatched(event.Event{ID: "evt_4", Type: "junction.webhook.delivery", Source: "junction", Data: json.RawMessage(`{}`)})
	bus.Publish(event.Event{ID: "evt_5", Type: "flow.run", Source: "api", Data: json.RawMessage(`null`)})
	bus.Publish(event.Event{ID: "evt_6\nevent: forged", Type: "order.x\r\ndata: forged", Source: "ingest:gh", Data: json.RawMessage(`1`)})

	m := s.event()
	if m.ID != "evt_2" || m.Event != "order.created" {
		t.Fatalf("first event %+v", m)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(m.Data), &data); err != nil {
		t.Fatalf("data %q: %v", m.Data, err)
	}
	want := map[string]any{"id": "evt_2", "type": "order.created", "source": "api", "time": "2025-03-14T15:09:26Z", "data": map[string]any{"n": float64(1), "multi": "line"}}
	if b1, b2 := mustJSON(data), mustJSON(want); string(b1) != string(b2) {
		t.Errorf("data %s, want %s", b1, b2)
	}
	var got []string
	for range 3 {
		got = append(got, s.event().ID)
	}
	if want := []string{"evt_4", "evt_5", "evt_6 event: forged"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q (line breaks in a field must not forge fields)", got, want)
	}
}

func TestEventStreamRejectsBadQueries(t *testing.T) {
	e := newEnv(t, withEvents(newBus(t)))
	for query, field := range map[string]string{"?types=order.**": "types", "?types=a,b+c": "types", "?type=order.*": "type"} {
		p := problem(t, e.req("GET", "/events/stream"+query, e.user, ""), 400, server.KindInvalidRequest, "/events/stream")
		if f := fieldErrors(t, p); !slices.Equal(f, []string{field}) {
			t.Errorf("%s: fields %v, want %s", query, f, field)
		}
	}
	if resp := e.req("GET", "/events/stream", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %d", resp.StatusCode)
	}
}

// TestEventStreamOverflowEndsIt: a client that stops reading is not buffered for
// without bound: once its queue overflows, it gets a final overflow message.
func TestEventStreamOverflowEndsIt(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus))
	e.srv.SetStreamForTest(4, time.Hour)
	e.start()
	s := openStream(t, e.ts.URL, e.user, "")
	if _, err := s.next(); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing now: the server's writes fill the connection's buffers,
	// then its queue of 4 fills.
	big := json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)
	deadline := time.Now().Add(30 * time.Second)
	published := 0
	for bus.Watched() {
		if time.Now().After(deadline) {
			t.Fatalf("the stream still watches after %d events", published)
		}
		bus.Publish(event.Event{Type: "bulk.item", Data: big})
		published++
	}
	events := 0
	for {
		m, err := s.next()
		if err != nil {
			t.Fatalf("after %d events: %v, want an overflow message", events, err)
		}
		if m.Event == "bulk.item" {
			events++
			continue
		}
		if m.Event != "overflow" || !strings.Contains(m.Data, "read too slowly") {
			t.Fatalf("message %+v", m)
		}
		break
	}
	if _, err := s.next(); err != io.EOF {
		t.Errorf("after the overflow message: %v, want the end of the stream", err)
	}
	if events >= published {
		t.Errorf("%d of %d events arrived: none was dropped?", events, published)
	}
}

// TestEventStreamEndsWhenClientLeaves: the watch ends with the client's connection.
func TestEventStreamEndsWhenClientLeaves(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus)).start()
	s := openStream(t, e.ts.URL, e.user, "")
	if _, err := s.next(); err != nil {
		t.Fatal(err)
	}
	if !bus.Watched() {
		t.Fatal("the stream does not watch the bus")
	}
	s.close()
	testkit.WaitFor(t, "the stream to stop watching", func() bool { return !bus.Watched() })
}

// TestEventStreamKeepsAliveBeyondWriteTimeout: keep-alive comments come while nothing
// happens, and a stream outlives the http.Server's write and read timeouts.
func TestEventStreamKeepsAliveBeyondWriteTimeout(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus))
	e.srv.SetStreamForTest(16, 20*time.Millisecond)
	e.ts = httptest.NewUnstartedServer(e.srv.Handler())
	e.ts.Config.WriteTimeout = 200 * time.Millisecond
	e.ts.Config.ReadTimeout = 200 * time.Millisecond
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	s := openStream(t, e.ts.URL, e.user, "", "Last-Event-ID", "evt_earlier")
	first, err := s.next()
	if err != nil || len(first.Comments) != 2 || !strings.Contains(first.Comments[1], "not replayed") {
		t.Fatalf("first message %+v, %v: a reconnecting client is told about the gap", first, err)
	}
	start := time.Now()
	keepalives := 0
	for time.Since(start) < 3*e.ts.Config.WriteTimeout {
		m, err := s.next()
		if err != nil {
			t.Fatalf("after %d keep-alives in %v: %v", keepalives, time.Since(start), err)
		}
		if slices.Equal(m.Comments, []string{"keepalive"}) {
			keepalives++
		}
	}
	bus.Publish(event.Event{ID: "evt_late", Type: "late.event"})
	if m := s.event(); m.ID != "evt_late" {
		t.Errorf("event %+v", m)
	}
}

// TestEventStreamEndsAtShutdown: open streams do not hold a graceful shutdown for its
// whole grace period; they end at once and Serve returns cleanly.
func TestEventStreamEndsAtShutdown(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln, time.Minute) }()
	s := openStream(t, "http://"+ln.Addr().String(), e.user, "")
	if _, err := s.next(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	cancel()
	if _, err := s.next(); err != io.EOF {
		t.Errorf("stream at shutdown: %v, want its end", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve waited for the stream")
	}
	t.Logf("shut down in %v", time.Since(began))
	if bus.Watched() {
		t.Error("still watching after shutdown")
	}
}

// TestEventStreamResumes: with Last-Event-ID, the stored events published after that one
// come first (filtered like the rest), then the live ones, without the live copies of the
// events just resumed; an unknown id is said, and the stream goes on live.
func TestEventStreamResumes(t *testing.T) {
	bus := newBus(t)
	e := newEnv(t, withEvents(bus), func(o *testOptions) { o.EventLog = o.Store })
	e.start()
	base := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	for i, typ := range []string{"order.a", "order.b", "billing.x", "order.c"} {
		ev := event.Event{ID: fmt.Sprintf("evt_%d", i+1), Type: typ, Source: "api", Time: base.Add(time.Duration(i) * time.Second), Data: json.RawMessage(`{}`)}
		if _, _, err := e.store.EventPublish(context.Background(), ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := openStream(t, e.ts.URL, e.user, "?types=order.*", "Last-Event-ID", "evt_1")
	var got []string
	for len(got) < 4 {
		m, err := s.next()
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, m.ID+strings.Join(m.Comments, "|"))
	}
	if want := []string{"watching order.*", "evt_2", "evt_4", "resumed: 2 missed events after evt_1; live from now on"}; !slices.Equal(got, want) {
		t.Fatalf("stream %q, want %q", got, want)
	}
	bus.Publish(event.Event{ID: "evt_4", Type: "order.c", Data: json.RawMessage(`{}`)}) // the live copy
	bus.Publish(event.Event{ID: "evt_5", Type: "order.d", Data: json.RawMessage(`{}`)})
	if m := s.event(); m.ID != "evt_5" {
		t.Errorf("live after resuming %+v", m)
	}

	u := openStream(t, e.ts.URL, e.user, "", "Last-Event-ID", "evt_unknown")
	if _, err := u.next(); err != nil {
		t.Fatal(err)
	}
	if m, err := u.next(); err != nil || !strings.Contains(strings.Join(m.Comments, "|"), "cannot resume") {
		t.Errorf("unknown id: %+v %v", m, err)
	}
}
