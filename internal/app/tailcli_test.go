package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/junctionhq/junction/internal/testkit"
)

func sseEvent(id, typ, data string) string {
	return fmt.Sprintf("id: %s\nevent: %s\ndata: {\"id\":%q,\"type\":%q,\"source\":\"api\",\"time\":\"2025-03-14T15:09:26.5Z\",\"data\":%s}\n\n", id, typ, id, typ, data)
}

// TestTailReconnects: a stream the server ends, or cuts off for reading too slowly, is
// opened again with Last-Event-ID, and tail goes on printing until its context ends.
func TestTailReconnects(t *testing.T) {
	var conns atomic.Int32
	lastIDs := make(chan string, 3)
	long := `"` + strings.Repeat("é", 400) + `"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events/stream" || r.URL.Query().Get("types") != "order.*,flow.x" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unexpected request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		lastIDs <- r.Header.Get("Last-Event-ID")
		w.Header().Set("Content-Type", "text/event-stream")
		switch conns.Add(1) {
		case 1: // two events, then the server ends the stream (a restart)
			fmt.Fprint(w, ": watching order.*,flow.x\n\n"+sseEvent("evt_a", "order.created", `{"n":1}`)+sseEvent("evt_b", "flow.x", `null`))
		case 2: // one event, then cut off
			fmt.Fprint(w, sseEvent("evt_c", "order.paid", long)+"event: overflow\ndata: {\"error\":\"the client read too slowly\"}\n\n")
		default:
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	var out, notes testkit.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Tail(ctx, APIClient{BaseURL: srv.URL, Token: "tok"}, TailOptions{Patterns: []string{"order.*", "flow.x"}, Notes: &notes}, &out)
	}()
	testkit.WaitFor(t, "the third connection", func() bool { return conns.Load() == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Tail = %v after Ctrl-C", err)
	}
	if got := []string{<-lastIDs, <-lastIDs, <-lastIDs}; strings.Join(got, ",") != ",evt_b,evt_c" {
		t.Errorf("Last-Event-ID per connection: %q", got)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != `2025-03-14T15:09:26.500Z order.created api {"n":1}` || lines[1] != "2025-03-14T15:09:26.500Z flow.x api null" {
		t.Fatalf("output:\n%s", out.String())
	}
	if !strings.HasPrefix(lines[2], `2025-03-14T15:09:26.500Z order.paid api "éé`) || !strings.HasSuffix(lines[2], "é… (802 bytes)") {
		t.Errorf("long data not cut at a character: %q", lines[2])
	}
	for _, want := range []string{"the server ended the stream; reconnecting", "the client read too slowly; reconnecting"} {
		if !strings.Contains(notes.String(), want) {
			t.Errorf("notes lack %q:\n%s", want, notes.String())
		}
	}
}

// TestTailJSON prints each event's line as the server sent it.
func TestTailJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, sseEvent("evt_a", "order.created", `{"n":1}`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	var out testkit.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Tail(ctx, APIClient{BaseURL: srv.URL}, TailOptions{JSON: true}, &out) }()
	testkit.WaitFor(t, "the event", func() bool { return strings.Contains(out.String(), "\n") })
	cancel()
	<-done
	if want := `{"id":"evt_a","type":"order.created","source":"api","time":"2025-03-14T15:09:26.5Z","data":{"n":1}}` + "\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

// TestTailGivesUp: a refused stream (bad pattern, bad token) and a server that cannot
// be reached at the start end tail with the reason.
func TestTailGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"title":"Invalid request","detail":"invalid query parameters","errors":[{"field":"types","detail":"not a pattern"}]}`)
	}))
	defer srv.Close()
	err := Tail(t.Context(), APIClient{BaseURL: srv.URL}, TailOptions{Patterns: []string{"a b"}}, &testkit.SyncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "400 Invalid request: invalid query parameters; types: not a pattern") {
		t.Errorf("refused: %v", err)
	}
	srv.Close()
	if err := Tail(t.Context(), APIClient{BaseURL: srv.URL}, TailOptions{}, &testkit.SyncBuffer{}); err == nil || !strings.Contains(err.Error(), "cannot reach the Junction server") {
		t.Errorf("unreachable: %v", err)
	}
}
