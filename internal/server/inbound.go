package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/webhook"
)

// What arrived at POST /ingest/{source}: the stored messages, and the refusals the
// webhook service keeps in memory. A user token is enough, as for deliveries.
//
// The listing pages with a cursor (?before=<id of the last message of a page>) rather
// than page numbers: messages keep arriving, and with offsets a page would repeat or
// skip what arrived meanwhile.

// Defaults and bounds of the inbound lists' ?limit=.
const (
	inboundLimitDefault    = 20
	rejectionsLimitDefault = webhook.RejectionsKept
	inboundLimitMax        = 100
)

func (s *Server) inboundRoutes() {
	// /inbound/rejections is a literal segment, so it wins over /inbound/{id}: no
	// message id can hide it (ids are UUIDs).
	s.handle("GET /inbound", auth.RoleUser, s.listInbound)
	s.handle("GET /inbound/rejections", auth.RoleUser, s.listRejections)
	s.handle("GET /inbound/{id}", auth.RoleUser, notFoundSays("no such received webhook", s.getInbound))
}

// inboundJSON is a stored received webhook.
type inboundJSON struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	ProviderID string          `json:"provider_id"`
	EventType  string          `json:"event_type"`
	ReceivedAt time.Time       `json:"received_at"`
	Headers    json.RawMessage `json:"headers"`
	// Payload is the body as it is when it is JSON, as a JSON string otherwise.
	Payload      json.RawMessage  `json:"payload"`
	Verification verificationJSON `json:"verification"`
}

// verificationJSON says how a message was verified. Only verified messages are stored,
// so the outcome is always "verified"; the scheme is absent for messages stored before
// it was recorded.
type verificationJSON struct {
	Scheme  string `json:"scheme,omitempty"`
	Outcome string `json:"outcome"`
}

func toInboundJSON(m webhook.InboundMessage) inboundJSON {
	j := inboundJSON{
		ID: m.ID, Source: m.Source, ProviderID: m.ProviderID, EventType: m.EventType, ReceivedAt: m.ReceivedAt,
		Headers: m.Headers, Payload: m.Payload, Verification: verificationJSON{Scheme: m.Verification, Outcome: "verified"},
	}
	if !json.Valid(j.Headers) {
		j.Headers = json.RawMessage("{}")
	}
	if !json.Valid(j.Payload) {
		j.Payload, _ = json.Marshal(string(m.Payload))
	}
	return j
}

// rejectionJSON is a refused webhook; its body was not kept.
type rejectionJSON struct {
	Source        string    `json:"source"`
	ReceivedAt    time.Time `json:"received_at"`
	Reason        string    `json:"reason"`
	RemoteAddr    string    `json:"remote_addr"`
	ContentLength *int64    `json:"content_length"` // null when the request had no Content-Length
}

// inboundQuery reads ?limit= (1..100, default def) and checks that every parameter is
// one of allowed (besides limit) and holds no control character.
func inboundQuery(r *http.Request, def int, allowed ...string) (int, []FieldError) {
	var errs []FieldError
	q := r.URL.Query()
	known := map[string]bool{"limit": true}
	for _, a := range allowed {
		known[a] = true
	}
	for k, vs := range q {
		if !known[k] {
			errs = append(errs, FieldError{Field: k, Detail: "unknown query parameter"})
			continue
		}
		for _, v := range vs {
			if msg := identifierProblem(v); msg != "" {
				errs = append(errs, FieldError{Field: k, Detail: msg})
				break
			}
		}
	}
	limit := def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inboundLimitMax {
			errs = append(errs, FieldError{Field: "limit", Detail: fmt.Sprintf("expected a whole number from 1 to %d", inboundLimitMax)})
		}
		limit = n
	}
	return limit, errs
}

// listInbound answers GET /inbound?source=&limit=&before=: the stored messages, newest
// first, and next_before, the cursor of the next page (null when this page is not
// full, so nothing older is left).
func (s *Server) listInbound(w http.ResponseWriter, r *http.Request) error {
	limit, errs := inboundQuery(r, inboundLimitDefault, "source", "before")
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	q := r.URL.Query()
	ms, err := s.webhooks.ListInbound(r.Context(), webhook.InboundFilter{Source: q.Get("source"), Before: q.Get("before"), Limit: limit})
	if err != nil {
		return err
	}
	data := make([]inboundJSON, len(ms))
	for i, m := range ms {
		data[i] = toInboundJSON(m)
	}
	var next *string
	if len(ms) == limit {
		next = &ms[len(ms)-1].ID
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data, "next_before": next})
}

func (s *Server) getInbound(w http.ResponseWriter, r *http.Request) error {
	m, err := s.webhooks.GetInbound(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toInboundJSON(m))
}

// listRejections answers GET /inbound/rejections?source=&limit=: the refused webhooks
// this process kept (the last 100 per source), newest first.
func (s *Server) listRejections(w http.ResponseWriter, r *http.Request) error {
	limit, errs := inboundQuery(r, rejectionsLimitDefault, "source")
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	rs, err := s.webhooks.ListRejections(r.URL.Query().Get("source"), limit)
	if err != nil {
		return err
	}
	data := make([]rejectionJSON, len(rs))
	for i, x := range rs {
		data[i] = rejectionJSON{Source: x.Source, ReceivedAt: x.At, Reason: x.Reason, RemoteAddr: x.RemoteAddr}
		if x.ContentLength >= 0 {
			data[i].ContentLength = &x.ContentLength
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data})
}
