package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/webhook"
)

// eventSocket serves GET /events/ws: the same events as /events/stream, one JSON text
// message each ({id,type,source,time,data}), for clients that prefer a WebSocket. The
// handshake accepts only pages of this server's own origin (or clients that send none),
// since a browser would send the console's cookie with another site's request too.
// A client that falls behind is closed with status 1013 ("try again later") and a
// reason, as the stream's overflow message says. A client that reconnects gives the last
// event id it got (Last-Event-ID, or ?last_event_id= since browsers cannot set headers
// on a WebSocket) and first gets the stored events it missed, as on the SSE stream.
func (s *Server) eventSocket(w http.ResponseWriter, r *http.Request) error {
	patterns, err := streamPatterns(r, "last_event_id")
	if err != nil {
		return err
	}
	last := cmp.Or(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("last_event_id"))
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept has answered the handshake's failure itself
	}
	defer c.CloseNow()
	watch := s.events.Watch(func(e event.Event) bool { return webhook.Subscribed(patterns, e.Type) }, s.streamQueue)
	defer watch.Stop()

	// The client sends nothing; reading is how a close from it is noticed.
	ctx := c.CloseRead(r.Context())
	var replayed map[string]bool
	if last != "" && s.eventLog != nil {
		events, _ := s.missed(ctx, last, patterns)
		replayed = make(map[string]bool, len(events))
		for _, e := range events {
			if writeSocketEvent(ctx, c, e) != nil {
				return nil
			}
			replayed[e.ID] = true
		}
	}
	keepalive := time.NewTicker(s.streamKeepalive)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.streamsEnd:
			_ = c.Close(websocket.StatusGoingAway, "the server is shutting down")
			return nil
		case <-keepalive.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return nil
			}
		case <-watch.Done():
			if watch.Overflowed() {
				_ = c.Close(websocket.StatusTryAgainLater, "the client read too slowly: events were lost; reconnect")
			} else {
				_ = c.Close(websocket.StatusGoingAway, "the event bus closed")
			}
			return nil
		case e := <-watch.Events():
			if replayed[e.ID] {
				delete(replayed, e.ID) // resumed from the store already
				continue
			}
			if writeSocketEvent(ctx, c, e) != nil {
				return nil
			}
		}
	}
}

// writeSocketEvent writes one event as a JSON text message, with a deadline.
func writeSocketEvent(ctx context.Context, c *websocket.Conn, e event.Event) error {
	data, err := json.Marshal(streamEvent{ID: e.ID, Type: e.Type, Source: e.Source, Time: e.Time, Data: e.Data})
	if err != nil {
		data, _ = json.Marshal(streamEvent{ID: e.ID, Type: e.Type, Source: e.Source, Time: e.Time, Data: json.RawMessage("null")})
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, data)
}
