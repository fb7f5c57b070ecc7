package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/webhook"
)

// Webhooks is what the server needs of the webhook service (*webhook.Service).
type Webhooks interface {
	CreateEndpoint(ctx context.Context, in webhook.EndpointInput) (webhook.Endpoint, error)
	GetEndpoint(ctx context.Context, id string) (webhook.Endpoint, error)
	ListEndpoints(ctx context.Context, f webhook.EndpointFilter) ([]webhook.Endpoint, int, error)
	UpdateEndpoint(ctx context.Context, id string, u webhook.EndpointUpdate) (webhook.Endpoint, error)
	DeleteEndpoint(ctx context.Context, id string) error
	RotateSecret(ctx context.Context, id string) (webhook.Endpoint, error)
	ResetCircuit(ctx context.Context, id string) (webhook.Endpoint, error)
	// Declared says what the configuration in force says of a managed endpoint.
	Declared(e webhook.Endpoint) (webhook.DeclaredStatus, bool)
	ListDeliveries(ctx context.Context, f webhook.DeliveryFilter) ([]webhook.Delivery, int, error)
	TestEndpoint(ctx context.Context, id string) (webhook.Delivery, error)
	Retry(ctx context.Context, id string) (webhook.Delivery, error)
	ListDeadLetters(ctx context.Context, f webhook.DeliveryFilter) ([]webhook.Delivery, int, error)
	Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error)
	Ingest(ctx context.Context, source string, in webhook.Received) (webhook.IngestResult, error)
	// What arrived at /ingest/{source} (inbound.go).
	ListInbound(ctx context.Context, f webhook.InboundFilter) ([]webhook.InboundMessage, error)
	GetInbound(ctx context.Context, id string) (webhook.InboundMessage, error)
	ListRejections(source string, limit int) ([]webhook.Rejection, error)
}

// Problem kinds of the webhook API.
const (
	KindInvalidSignature Kind = "invalid-signature" // 401 at /ingest/{source}
	KindEndpointDeclared Kind = "endpoint-declared" // 409: the configuration owns the endpoint
)

// MaxIngestBodyBytes bounds a received webhook.
const MaxIngestBodyBytes = webhook.MaxIngestBodyBytes

func (s *Server) webhookRoutes() {
	// What the webhook API looks up by id is an endpoint or a delivery.
	hook := func(h handlerFunc) handlerFunc { return notFoundSays("no such webhook endpoint or delivery", h) }
	s.handle("GET /webhooks", auth.RoleUser, hook(s.listEndpoints))
	s.handle("POST /webhooks", auth.RoleUser, hook(s.createEndpoint))
	s.handle("GET /webhooks/{id}", auth.RoleUser, hook(s.getEndpoint))
	s.handle("PUT /webhooks/{id}", auth.RoleUser, hook(s.updateEndpoint))
	s.handle("DELETE /webhooks/{id}", auth.RoleUser, hook(s.deleteEndpoint))
	s.handle("GET /webhooks/{id}/deliveries", auth.RoleUser, hook(s.listDeliveries))
	s.handle("POST /webhooks/{id}/test", auth.RoleUser, hook(s.testEndpoint))
	s.handle("POST /webhooks/{id}/rotate-secret", auth.RoleUser, hook(s.rotateSecret))
	s.handle("POST /webhooks/{id}/circuit/reset", auth.RoleAdmin, hook(s.resetCircuit))
	s.handle("POST /webhooks/deliveries/{id}/retry", auth.RoleUser, hook(s.retryDelivery))
	s.handle("POST /events", auth.RoleUser, hook(s.publishEvent))
	// Providers cannot send Junction's token: a received webhook is authenticated by its
	// signature instead.
	s.handlePublicPrefix("POST /ingest/{source}", "/ingest/", hook(s.ingest))
	s.inboundRoutes()
}

// notFoundSays gives the not-found errors of h the detail what their problem shows.
func notFoundSays(detail string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return describe(h(w, r), errkind.ErrNotFound, detail)
	}
}

// endpointJSON is seed 003's WebhookEndpoint. The signing secret is in it only where
// the caller must learn it or may see it (see secretShown).
type endpointJSON struct {
	ID                      string     `json:"id"`
	Name                    string     `json:"name"`
	URL                     string     `json:"url"`
	Secret                  string     `json:"secret,omitempty"`
	Events                  []string   `json:"events"`
	IsActive                bool       `json:"is_active"`
	IsHealthy               bool       `json:"is_healthy"`
	ConsecutiveFailures     int        `json:"consecutive_failures"`
	CircuitState            string     `json:"circuit_state"`
	LastDeliveryAt          *time.Time `json:"last_delivery_at"`
	LastFailureAt           *time.Time `json:"last_failure_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	DisabledReason          string     `json:"disabled_reason,omitempty"`
	CircuitOpenUntil        *time.Time `json:"circuit_open_until,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// Managed endpoints are declared in the configuration (a webhook block): the API
	// does not change them. DeclaredAt is the block's file:line:col; Misconfigured says
	// why nothing is sent to it (an unset variable), without any value.
	Managed       bool   `json:"managed"`
	DeclaredAt    string `json:"declared_at,omitempty"`
	Misconfigured string `json:"misconfigured,omitempty"`
}

// secretShown says whether an answer carries the endpoint's signing secret, and the
// credentials its URL may hold in its query or user info: always where they are made
// (create, rotate: the caller needs the secret to verify), otherwise only to admins.
// Any user token can list endpoints; it must not learn every endpoint's credentials.
type secretShown bool

const (
	withSecret   secretShown = true
	secretToRole secretShown = false // shown to admins only
)

func (s *Server) toEndpointJSON(r *http.Request, e webhook.Endpoint, shown secretShown) endpointJSON {
	j := endpointJSON{
		ID: e.ID, Name: e.Name, URL: e.URL, Events: e.Events, IsActive: e.IsActive,
		IsHealthy: e.IsHealthy, ConsecutiveFailures: e.ConsecutiveFailures, LastDeliveryAt: e.LastDeliveryAt,
		LastFailureAt: e.LastFailureAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, DisabledReason: e.DisabledReason,
		CircuitOpenUntil: e.CircuitOpenUntil, CircuitState: string(e.CircuitState(s.clock())),
	}
	if tok, ok := tokenFrom(r.Context()); shown == withSecret || ok && tok.Role == auth.RoleAdmin {
		j.Secret = e.Secret
	} else {
		j.URL = redact.URL(e.URL)
	}
	if e.PreviousSecret != "" {
		j.PreviousSecretExpiresAt = e.PreviousSecretUntil
	}
	if d, ok := s.webhooks.Declared(e); ok {
		j.Managed, j.DeclaredAt, j.Misconfigured = true, d.At, d.Misconfigured
	}
	if j.Events == nil {
		j.Events = []string{}
	}
	return j
}

// deliveryJSON is seed 003's WebhookDelivery.
type deliveryJSON struct {
	ID                 string          `json:"id"`
	EndpointID         string          `json:"endpoint_id"`
	EventType          string          `json:"event_type"`
	EventID            string          `json:"event_id"`
	Payload            json.RawMessage `json:"payload"`
	Status             string          `json:"status"`
	AttemptCount       int             `json:"attempt_count"`
	MaxAttempts        int             `json:"max_attempts"`
	NextRetryAt        *time.Time      `json:"next_retry_at"`
	ResponseStatusCode *int            `json:"response_status_code"`
	ResponseBody       *string         `json:"response_body"`
	ErrorMessage       *string         `json:"error_message"`
	DeliveredAt        *time.Time      `json:"delivered_at"`
	DurationMs         *int            `json:"duration_ms"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
	DeadLetteredAt     *time.Time      `json:"dead_lettered_at,omitempty"`
}

func toDeliveryJSON(d webhook.Delivery) deliveryJSON {
	j := deliveryJSON{
		ID: d.ID, EndpointID: d.EndpointID, EventType: d.EventType, EventID: d.EventID, Payload: d.Payload,
		Status: string(d.Status), AttemptCount: d.AttemptCount, MaxAttempts: d.MaxAttempts, NextRetryAt: d.NextRetryAt,
		ResponseStatusCode: d.ResponseStatusCode, DeliveredAt: d.DeliveredAt, DurationMs: d.DurationMs,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, DeadLetteredAt: d.DeadLetteredAt,
	}
	if !json.Valid(j.Payload) {
		j.Payload = json.RawMessage("null")
	}
	if d.ResponseBody != "" {
		j.ResponseBody = &d.ResponseBody
	}
	if d.ErrorMessage != "" {
		j.ErrorMessage = &d.ErrorMessage
	}
	return j
}

type pagination struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	Total      int `json:"total"`
	TotalPages int `json:"total_pages"`
}

func pageOf(p webhook.Page, total int) pagination {
	pages := (total + p.Limit - 1) / p.Limit
	return pagination{Page: p.Page, Limit: p.Limit, Total: total, TotalPages: pages}
}

// listQuery reads page and limit (defaults 1 and 20, limit at most 100) and names any
// bad query parameter.
func listQuery(r *http.Request, allowed ...string) (webhook.Page, []FieldError) {
	p := webhook.Page{Page: 1, Limit: 20}
	var errs []FieldError
	q := r.URL.Query()
	known := map[string]bool{"page": true, "limit": true}
	for _, a := range allowed {
		known[a] = true
	}
	for k, vs := range q {
		if !known[k] {
			errs = append(errs, FieldError{Field: k, Detail: "unknown query parameter"})
			continue
		}
		for _, v := range vs { // ids and names the store looks up: see identifierProblem
			if msg := identifierProblem(v); msg != "" {
				errs = append(errs, FieldError{Field: k, Detail: msg})
				break
			}
		}
	}
	num := func(name string, dst *int, min, max int) {
		v := q.Get(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			errs = append(errs, FieldError{Field: name, Detail: fmt.Sprintf("expected a whole number from %d to %d", min, max)})
			return
		}
		*dst = n
	}
	num("page", &p.Page, 1, 1_000_000)
	num("limit", &p.Limit, 1, 100)
	return p, errs
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	p, errs := listQuery(r, "is_active")
	f := webhook.EndpointFilter{Page: p}
	if v := r.URL.Query().Get("is_active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, FieldError{Field: "is_active", Detail: "expected true or false"})
		}
		f.IsActive = &b
	}
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	eps, total, err := s.webhooks.ListEndpoints(r.Context(), f)
	if err != nil {
		return err
	}
	data := make([]endpointJSON, len(eps))
	for i, e := range eps {
		data[i] = s.toEndpointJSON(r, e, secretToRole)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data, "pagination": pageOf(p, total)})
}

// createEndpointRequest is the body of POST /webhooks. The service refuses an endpoint
// without a name, a URL or an event type.
type createEndpointRequest struct {
	Name   string   `json:"name" openapi:"required"`
	URL    string   `json:"url" openapi:"required"`
	Events []string `json:"events" openapi:"required"`
	Secret string   `json:"secret"`
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req createEndpointRequest
	if err := decodeJSON(w, r, s.maxBodyBytes, &req); err != nil {
		return err
	}
	ep, err := s.webhooks.CreateEndpoint(r.Context(), webhook.EndpointInput{Name: req.Name, URL: req.URL, Events: req.Events, Secret: req.Secret})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/webhooks/"+ep.ID)
	return writeJSON(w, http.StatusCreated, s.toEndpointJSON(r, ep, withSecret))
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.webhooks.GetEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.toEndpointJSON(r, ep, secretToRole))
}

// updateEndpointRequest is the body of PUT /webhooks/{id}: a member left out (nil)
// leaves its setting as it is.
type updateEndpointRequest struct {
	Name     *string   `json:"name"`
	URL      *string   `json:"url"`
	Events   *[]string `json:"events"`
	IsActive *bool     `json:"is_active"`
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req updateEndpointRequest
	if err := decodeJSON(w, r, s.maxBodyBytes, &req); err != nil {
		return err
	}
	ep, err := s.webhooks.UpdateEndpoint(r.Context(), r.PathValue("id"), webhook.EndpointUpdate{Name: req.Name, URL: req.URL, Events: req.Events, IsActive: req.IsActive})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.toEndpointJSON(r, ep, secretToRole))
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := s.webhooks.DeleteEndpoint(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.webhooks.RotateSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.toEndpointJSON(r, ep, withSecret))
}

// resetCircuit answers POST /webhooks/{id}/circuit/reset (admin): the endpoint with its
// circuit closed.
func (s *Server) resetCircuit(w http.ResponseWriter, r *http.Request) error {
	ep, err := s.webhooks.ResetCircuit(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.toEndpointJSON(r, ep, secretToRole))
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	return s.listDeliveriesOf(w, r, r.PathValue("id"), s.webhooks.ListDeliveries)
}

// listDeadLetters lists a flow's dead letters with ?flow= (or ?queue=), the webhook
// deliveries' otherwise.
func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Has("flow") || q.Has("queue") {
		return s.listFlowDeadLetters(w, r)
	}
	if s.webhooks == nil {
		return invalid("invalid query parameters", FieldError{Field: "flow", Detail: "required: the flow whose dead letters to list"})
	}
	return s.listDeliveriesOf(w, r, q.Get("endpoint_id"), s.webhooks.ListDeadLetters)
}

func (s *Server) listDeliveriesOf(w http.ResponseWriter, r *http.Request, endpointID string, list func(context.Context, webhook.DeliveryFilter) ([]webhook.Delivery, int, error)) error {
	p, errs := listQuery(r, "status", "endpoint_id")
	f := webhook.DeliveryFilter{EndpointID: endpointID, Page: p}
	if v := r.URL.Query().Get("status"); v != "" {
		switch st := webhook.DeliveryStatus(v); st {
		case webhook.DeliveryPending, webhook.DeliveryRetrying, webhook.DeliveryDelivered, webhook.DeliveryFailed:
			f.Status = st
		default:
			errs = append(errs, FieldError{Field: "status", Detail: "expected pending, retrying, delivered or failed"})
		}
	}
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	ds, total, err := list(r.Context(), f)
	if err != nil {
		return err
	}
	data := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		data[i] = toDeliveryJSON(d)
	}
	return writeJSON(w, http.StatusOK, pagedOf[deliveryJSON]{Data: data, Pagination: pageOf(p, total)})
}

func (s *Server) testEndpoint(w http.ResponseWriter, r *http.Request) error {
	d, err := s.webhooks.TestEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toDeliveryJSON(d))
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.webhooks.Retry(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, toDeliveryJSON(d))
}

// replayDeadLetter replays a flow's dead letter (ids fdl_…) or retries a webhook delivery.
func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.PathValue("id"), flow.DeadLetterIDPrefix) || s.webhooks == nil {
		return s.replayFlowDeadLetter(w, r)
	}
	return notFoundSays("no such webhook endpoint or delivery", s.retryDelivery)(w, r)
}

// publishRequest is the body of POST /events. Data may be any JSON value (null when
// left out); an ID makes publishing again create nothing.
type publishRequest struct {
	ID   string          `json:"id"`
	Type string          `json:"type" openapi:"required"`
	Data json.RawMessage `json:"data"`
}

func (s *Server) publishEvent(w http.ResponseWriter, r *http.Request) error {
	var req publishRequest
	if err := decodeJSON(w, r, s.maxBodyBytes, &req); err != nil {
		return err
	}
	res, err := s.webhooks.Publish(r.Context(), event.Event{ID: req.ID, Type: req.Type, Source: event.SourceAPI, Data: req.Data})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"id": res.EventID, "deliveries": res.Deliveries, "duplicate": res.Duplicate})
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) error {
	in := webhook.Received{Header: r.Header, RemoteAddr: r.RemoteAddr, ContentLength: r.ContentLength}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxIngestBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		// The service refuses it, and keeps the refusal where the user can see it.
		in.TooLarge = true
	case err != nil:
		return invalid("the webhook body could not be read: "+err.Error(), FieldError{Field: "body", Detail: "could not be read"})
	}
	in.Body = body
	res, err := s.webhooks.Ingest(r.Context(), r.PathValue("source"), in)
	if errors.Is(err, webhook.ErrNotPublished) {
		return describe(err, errkind.ErrUnavailable, "the webhook is stored but its event could not be published yet; send it again (the redelivery publishes it once)")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, ingestAnswer{ID: res.ID, EventType: res.EventType, Duplicate: res.Duplicate, EventID: res.EventID})
}

// ingestAnswer is the 202 answer to POST /ingest/{source}: the received message's id,
// and the event it was published as (none when the source does not publish).
type ingestAnswer struct {
	ID        string `json:"id"`
	EventType string `json:"event_type"`
	Duplicate bool   `json:"duplicate"`
	EventID   string `json:"event_id,omitempty"`
}
