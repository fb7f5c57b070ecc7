package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/webhook"
)

// Events is what GET /events/stream needs of the event bus (*event.Bus).
type Events interface {
	Watch(match func(event.Event) bool, size int) *event.Watcher
}

// EventLog is where published events are stored (the store): a stream resumed with
// Last-Event-ID gets the stored events it missed from it.
type EventLog interface {
	EventsAfter(ctx context.Context, afterID string, limit int) ([]event.Event, error)
}

// Resuming a stream: the stored events after Last-Event-ID are read a page at a time, up
// to resumeMax; a client further behind is told to catch up from GET /webhooks… instead.
const (
	resumePage = 500
	resumeMax  = 10_000
)

// The stream's defaults.
const (
	// streamQueueDefault is how many events a stream holds for a client that reads
	// slower than they come; past it the stream ends with an overflow message.
	streamQueueDefault = 1024
	// streamKeepaliveDefault spaces the comments that keep proxies and the client's
	// idle timers from closing a quiet stream.
	streamKeepaliveDefault = 15 * time.Second
	// streamBatchBytes bounds what one write carries when events come faster than
	// they are written: several events, one flush.
	streamBatchBytes = 64 << 10
)

func (s *Server) eventRoutes() {
	s.handle("GET /events/stream", auth.RoleUser, s.eventStream)
	s.handle("GET /events/ws", auth.RoleUser, s.eventSocket)
}

// streamEvent is one event as the stream's data line carries it.
type streamEvent struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Source string          `json:"source"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// eventStream serves GET /events/stream: the events on the bus as Server-Sent Events,
// live only, until the client goes away, the server shuts down, or the client reads
// too slowly (a final overflow message; the server never buffers without bound).
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) error {
	patterns, err := streamPatterns(r)
	if err != nil {
		return err
	}
	watch := s.events.Watch(func(e event.Event) bool { return webhook.Subscribed(patterns, e.Type) }, s.streamQueue)
	defer watch.Stop()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each message on at once
	w.WriteHeader(http.StatusOK)
	buf := []byte(": watching " + strings.Join(patterns, ",") + "\n")
	var replayed map[string]bool // resumed events the watch may deliver again
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		buf, replayed = s.resume(r.Context(), buf, last, patterns)
	}
	buf = append(buf, '\n')
	keepalive := time.NewTicker(s.streamKeepalive)
	defer keepalive.Stop()
	for {
		if err := writeStream(w, rc, buf); err != nil {
			return nil // the client is gone: nothing to tell it
		}
		buf = buf[:0]
		select {
		case <-r.Context().Done():
			return nil
		case <-s.streamsEnd:
			return nil
		case <-keepalive.C:
			buf = append(buf, ": keepalive\n\n"...)
		case <-watch.Done():
			if !watch.Overflowed() {
				return nil // the bus closed
			}
			buf = fmt.Appendf(buf, "event: overflow\ndata: {\"error\":\"the client read too slowly: more than %d events waited; reconnect (events in between are lost)\"}\n\n", s.streamQueue)
			_ = writeStream(w, rc, buf)
			return nil
		case e := <-watch.Events():
			buf = appendLive(buf, e, replayed)
		more:
			for len(buf) < streamBatchBytes {
				select {
				case e := <-watch.Events():
					buf = appendLive(buf, e, replayed)
				default:
					break more
				}
			}
		}
	}
}

// resume appends the stored events after last that match patterns (the watch is already
// on, so nothing falls between them and the live ones) and returns their ids, so that the
// live copies of the same events are skipped; a comment says what was resumed.
func (s *Server) resume(ctx context.Context, buf []byte, last string, patterns []string) ([]byte, map[string]bool) {
	if s.eventLog == nil {
		return append(buf, ": live only: events published while disconnected are not replayed\n"...), nil
	}
	buf = append(buf, '\n') // ends the block of comments before the events
	events, note := s.missed(ctx, last, patterns)
	replayed := make(map[string]bool, len(events))
	for _, e := range events {
		buf = appendStreamEvent(buf, e)
		replayed[e.ID] = true
	}
	return append(buf, ": "+note+"\n"...), replayed
}

// missed reads the stored events after last that match patterns, a page at a time up to
// resumeMax, and says what it could resume. Internal events are never stored, so only
// published events are resumed.
func (s *Server) missed(ctx context.Context, last string, patterns []string) ([]event.Event, string) {
	var out []event.Event
	for after, n := last, 0; ; {
		page, err := s.eventLog.EventsAfter(ctx, after, resumePage)
		if err != nil {
			if errors.Is(err, errkind.ErrNotFound) {
				return out, "cannot resume: no stored event has the id in Last-Event-ID; live from now on"
			}
			s.logger.Warn("event stream: reading the missed events", "error", err)
			return out, "cannot resume: the store did not answer; live from now on"
		}
		for _, e := range page {
			if webhook.Subscribed(patterns, e.Type) {
				out = append(out, e)
			}
		}
		n += len(page)
		if len(page) < resumePage {
			return out, fmt.Sprintf("resumed: %d missed events after %s; live from now on", len(out), oneLine(last))
		}
		if n >= resumeMax {
			return out, fmt.Sprintf("resumed only the first %d missed events; the rest are in the deliveries (GET /webhooks/{id}/deliveries); live from now on", n)
		}
		after = page[len(page)-1].ID
	}
}

// appendLive appends a live event unless it was just resumed from the store.
func appendLive(buf []byte, e event.Event, replayed map[string]bool) []byte {
	if replayed[e.ID] {
		delete(replayed, e.ID)
		return buf
	}
	return appendStreamEvent(buf, e)
}

// streamPatterns reads ?types=order.*,flow.* (repeatable): the event patterns of the
// webhook endpoints; none means every event.
func streamPatterns(r *http.Request, also ...string) ([]string, error) {
	var patterns []string
	for k, vs := range r.URL.Query() {
		if slices.Contains(also, k) {
			continue
		}
		if k != "types" {
			return nil, invalid("invalid query parameters", FieldError{Field: k, Detail: "unknown query parameter; the stream takes " + strings.Join(append([]string{"types"}, also...), " and ")})
		}
		for _, v := range vs {
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if !webhook.ValidPattern(p) {
					return nil, invalid("invalid query parameters", FieldError{Field: "types",
						Detail: fmt.Sprintf("%q is not an event pattern: an event type such as order.created, a prefix such as order.*, or *", p)})
				}
				patterns = append(patterns, p)
			}
		}
	}
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	return patterns, nil
}

// writeStream writes and flushes b with a write deadline of its own: the server's
// WriteTimeout would cut a stream after a minute, while a client that stops reading
// for a whole writeTimeout ends its stream.
func writeStream(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return rc.Flush()
}

// appendStreamEvent appends one SSE message: id, event (the type) and one data line.
func appendStreamEvent(b []byte, e event.Event) []byte {
	data, err := json.Marshal(streamEvent{ID: e.ID, Type: e.Type, Source: e.Source, Time: e.Time, Data: e.Data})
	if err != nil { // data that is not JSON: the event without it
		data, _ = json.Marshal(streamEvent{ID: e.ID, Type: e.Type, Source: e.Source, Time: e.Time, Data: json.RawMessage("null")})
	}
	b = append(b, "id: "...)
	b = append(b, oneLine(e.ID)...)
	b = append(b, "\nevent: "...)
	b = append(b, oneLine(e.Type)...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// oneLine keeps a field on its line: a received webhook's type is the provider's
// text, and a line break in it would forge fields.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// endStreams ends every event stream, now and to come: Serve calls it when shutting
// down, since streams never finish on their own and would hold the grace period.
func (s *Server) endStreams() { s.endStreamsOnce.Do(func() { close(s.streamsEnd) }) }
