package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/store"
)

// Receiving webhooks (C6): a source declared in configuration
//
//	source github { verify: github  secret: env(GITHUB_WEBHOOK_SECRET)  event: "github.{header:X-GitHub-Event}" }
//
// is received at POST /ingest/github. The signature is verified first (a bad or missing
// one stores nothing, and is kept a while in memory, see rejections.go); the message is
// stored durably, deduplicated on the provider's delivery id, and only then answered
// with 2xx; new messages are published on the internal event bus as an event of the
// configured type. With publish: true they become webhook events instead (see
// publishInbound), stored before the answer like POST /events'.

// MaxIngestBodyBytes bounds a received webhook.
const MaxIngestBodyBytes = 1 << 20

// Sources is the set of configured inbound sources, ready to verify.
type Sources map[string]*Source

// Source is one inbound source.
type Source struct {
	Name     string
	Verifier inbound.Verifier
	Event    string // type template
	// Publish makes each new message a webhook event too (publish: true).
	Publish       bool
	Misconfigured string // why it cannot be used ("" when it can)
}

// NewSources resolves the sources' secrets now. A source whose secret cannot be resolved,
// or that its verifier refuses (a standard_webhooks secret that is not whsec_…), is kept
// but refuses messages (503), like a misconfigured integration, and is logged at warn
// with the reason (never the secret): a start or reload says so at once, rather than the
// provider's first webhook.
func NewSources(cfg *config.Config, lookup config.LookupEnv, c clock.Clock, log *slog.Logger) Sources {
	out := Sources{}
	if cfg == nil {
		return out
	}
	for _, src := range cfg.Sources {
		s := &Source{Name: src.Name, Event: src.Event, Publish: src.Publish}
		secret, err := src.Secret.Resolve(lookup)
		s.Verifier = inbound.Verifier{
			Scheme: inbound.Scheme(src.Verify), Secrets: []string{secret}, Header: src.Header,
			Algorithm: src.Algorithm, IDHeader: src.IDHeader, Tolerance: src.Tolerance, Clock: c,
		}
		if err != nil {
			s.Misconfigured = "secret: " + err.Error()
		} else if err := s.Verifier.Check(); err != nil {
			s.Misconfigured = err.Error()
		}
		if s.Misconfigured != "" && log != nil {
			log.Warn("webhook source misconfigured: its webhooks are refused (503) until the configuration is fixed",
				"source", src.Name, "reason", s.Misconfigured, "at", src.Pos.String())
		}
		out[src.Name] = s
	}
	return out
}

// SetSources replaces the inbound sources (configuration reload). The refusals of
// sources no longer configured are dropped.
func (s *Service) SetSources(src Sources) {
	s.sources.Store(&src)
	s.rejections.keep(src)
}

func (s *Service) source(name string) *Source {
	if p := s.sources.Load(); p != nil {
		return (*p)[name]
	}
	return nil
}

// The ways Ingest refuses a message.
var (
	ErrUnknownSource      = errors.New("no such webhook source")
	ErrSourceMisconfigure = errors.New("webhook source is misconfigured")
	// ErrNotPublished: the message is stored but its webhook event is not (publish:
	// true), for a reason that is Junction's (the store failed), not the sender's. The
	// provider is answered 503 and sends it again; the redelivery publishes it.
	ErrNotPublished = fmt.Errorf("received webhook stored but not published yet: %w", errkind.ErrUnavailable)
)

// Received is one webhook as it reached POST /ingest/{source}.
type Received struct {
	Header http.Header
	Body   []byte
	// TooLarge says the body was over MaxIngestBodyBytes and was not read whole; the
	// message is refused.
	TooLarge bool
	// What a refusal keeps of the request, besides why (see Rejection).
	RemoteAddr    string
	ContentLength int64 // -1 when the request had no Content-Length
}

// IngestResult says what Ingest did.
type IngestResult struct {
	ID        string // Junction's id of the stored message
	EventType string
	Duplicate bool // the provider's delivery id was received before; nothing new happened
	// EventID is the webhook event the message is published as (publish: true), "" when
	// it is not published.
	EventID string
}

// Ingest verifies, stores and publishes one received webhook. Signature failures wrap
// inbound.ErrSignature. Every refusal of a configured source is kept in its rejection
// log (see ListRejections).
func (s *Service) Ingest(ctx context.Context, sourceName string, in Received) (IngestResult, error) {
	src := s.source(sourceName)
	if src == nil {
		// Not logged: anyone can post to any name, and the log would be theirs to fill.
		return IngestResult{}, fmt.Errorf("%w: %q", ErrUnknownSource, sourceName)
	}
	providerID, eventType, err := s.accept(src, in)
	if err != nil {
		s.opts.Metrics.ingested.WithLabelValues(src.Name, "rejected").Inc()
		s.rejections.add(Rejection{
			Source: src.Name, At: s.opts.Clock.Now().UTC(), Reason: rejectionReason(src, in.Header, err),
			RemoteAddr: in.RemoteAddr, ContentLength: in.ContentLength,
		})
		return IngestResult{}, err
	}
	headers, _ := json.Marshal(keptHeaders(in.Header))
	msg := store.InboundMessage{
		ID: newUUID(), Source: src.Name, ProviderID: providerID, EventType: eventType,
		Payload: in.Body, Headers: headers, ReceivedAt: s.opts.Clock.Now().UTC(),
		Verification: string(src.Verifier.Scheme),
	}
	created, err := s.store.InboundRecord(ctx, msg)
	if err != nil {
		return IngestResult{}, err
	}
	if !created {
		// Answer as the first time: the stored message's id and type.
		first, err := s.store.InboundGet(ctx, src.Name, providerID)
		if err != nil {
			return IngestResult{}, err
		}
		s.opts.Metrics.ingested.WithLabelValues(src.Name, "duplicate").Inc()
		res := IngestResult{ID: first.ID, EventType: first.EventType, Duplicate: true}
		if src.Publish {
			res.EventID, err = s.publishInbound(ctx, first, true)
		}
		return res, err
	}
	s.opts.Metrics.ingested.WithLabelValues(src.Name, "accepted").Inc()
	res := IngestResult{ID: msg.ID, EventType: eventType}
	if src.Publish {
		res.EventID, err = s.publishInbound(ctx, msg, false)
		return res, err
	}
	var payload any = json.RawMessage(in.Body)
	if !json.Valid(in.Body) {
		payload = string(in.Body)
	}
	e := event.Make(eventType, event.SourceIngestPrefix+src.Name, msg.ReceivedAt, map[string]any{
		"source": src.Name, "id": msg.ID, "provider_id": providerID, "payload": payload,
	})
	e.ID = msg.ID
	s.announce(ctx, e)
	return res, nil
}

// accept decides whether a message of src is taken, before anything is stored: it
// returns the provider's delivery id and the message's event type, or why the message
// is refused.
func (s *Service) accept(src *Source, in Received) (providerID, eventType string, err error) {
	switch {
	case src.Misconfigured != "":
		return "", "", fmt.Errorf("%w: %s", ErrSourceMisconfigure, src.Misconfigured)
	case in.TooLarge:
		return "", "", fmt.Errorf("%w: the webhook body is larger than %d bytes", ErrPayloadTooLarge, MaxIngestBodyBytes)
	}
	if providerID, err = src.Verifier.Verify(in.Header, in.Body); err != nil {
		return "", "", err
	}
	// Only once the sender is known.
	if err := checkPayload(in.Header.Get("Content-Type"), in.Body); err != nil {
		return "", "", err
	}
	eventType = expandEventType(src.Event, in.Header, in.Body)
	if src.Publish {
		// What would make the publication fail for good is refused now, before the
		// message is stored: a provider that retried would fail the same way forever.
		e := inboundEvent(store.InboundMessage{Source: src.Name, EventType: eventType, Payload: in.Body})
		if err := s.checkPublish(&e); err != nil {
			var v *ValidationError
			if errors.As(err, &v) {
				return "", "", &ValidationError{Fields: map[string]string{"event_type": fmt.Sprintf(
					"%q, made from the source's event type %q and this message, is not an event type that can be published (letters, digits, _ and - in dot-separated parts)",
					eventType, src.Event)}}
			}
			return "", "", err
		}
	}
	return providerID, eventType, nil
}

// InboundEventID is the id of the webhook event a received message is published as
// (publish: true): derived from the message's id, so that publishing it again (the
// provider's redelivery) creates nothing new.
func InboundEventID(messageID string) string { return "ingest_" + messageID }

// inboundEvent is the webhook event of a received message: its type, and its payload as
// data (as it is when it is JSON, as a JSON string otherwise).
func inboundEvent(m store.InboundMessage) event.Event {
	data := json.RawMessage(m.Payload)
	if !json.Valid(m.Payload) {
		data, _ = json.Marshal(string(m.Payload)) // checkPayload made it UTF-8
	}
	return event.Event{ID: InboundEventID(m.ID), Type: m.EventType, Source: event.SourceIngestPrefix + m.Source, Data: data}
}

// publishInbound publishes a stored message as a webhook event through Publish: stored
// with its deliveries and handler executions in one transaction, then on the bus, like
// POST /events. The bus gets it there, and only there, so routes and flows see each
// message once.
//
// The order makes a publication that failed happen later: the message is stored first
// (InboundRecord), then published, and the provider is answered only after both. If the
// publication fails, the provider gets 503 and redelivers; the redelivery is a
// duplicate, and a duplicate is published again (redelivered). The event's id is derived
// from the message's, so when the first publication did succeed (the answer was lost),
// this one creates nothing: every stored message is published exactly once, however
// often it comes. A message stored while publish was off is published when the provider
// redelivers it after publish was turned on; one that cannot be published under the
// settings now in force (over max_payload_bytes) is logged and answered as a duplicate,
// since a 503 would only make the provider retry it forever.
func (s *Service) publishInbound(ctx context.Context, m store.InboundMessage, redelivered bool) (string, error) {
	e := inboundEvent(m)
	if redelivered {
		probe := e
		if err := s.checkPublish(&probe); err != nil {
			s.opts.Logger.Warn("received webhook not published as an event: it cannot be under the settings in force",
				"source", m.Source, "message", m.ID, "error", err)
			return "", nil
		}
	}
	if _, err := s.Publish(ctx, e); err != nil {
		return "", fmt.Errorf("%w: message %s of source %s: %w", ErrNotPublished, m.ID, m.Source, err)
	}
	return e.ID, nil
}

// checkPayload refuses a verified message that Junction could not pass on as it was
// sent. Its payload travels on inside JSON (as it is when it is JSON, as a string
// otherwise), which is UTF-8 text, so invalid bytes would reach subscribers turned into
// U+FFFD; and a body whose Content-Type says JSON but that does not parse is broken at
// the sender. Either is a 400 (a ValidationError naming "body"): storing it would hand
// on a corrupted or unreadable payload, and the provider's log shows the refusal.
func checkPayload(contentType string, body []byte) error {
	switch {
	case !utf8.Valid(body):
		return &ValidationError{Fields: map[string]string{"body": "not valid UTF-8; received webhooks are passed on as JSON text"}}
	case isJSONType(contentType) && !json.Valid(body):
		return &ValidationError{Fields: map[string]string{"body": "not valid JSON, though its Content-Type says it is"}}
	}
	return nil
}

// isJSONType reports whether a Content-Type is application/json or application/*+json.
func isJSONType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// expandEventType fills {header:Name} and {body:field} (a top-level JSON member) in a
// source's event type; an absent value becomes "unknown".
func expandEventType(tmpl string, h http.Header, body []byte) string {
	var obj map[string]any
	return config.SourcePlaceholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		parts := config.SourcePlaceholder.FindStringSubmatch(m)
		v := ""
		switch parts[1] {
		case "header":
			v = h.Get(parts[2])
		case "body":
			if obj == nil {
				_ = json.Unmarshal(body, &obj)
			}
			if s, ok := obj[parts[2]].(string); ok {
				v = s
			}
		}
		v = strings.Map(func(r rune) rune {
			if r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return '_'
		}, v)
		if v == "" {
			return "unknown"
		}
		return v
	})
}

// keptHeaders stores what helps to understand a message later, never credentials.
func keptHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, vs := range h {
		switch strings.ToLower(k) {
		case "authorization", "cookie", "proxy-authorization":
			continue
		}
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

// sourcesHolder keeps the swappable sources.
type sourcesHolder = atomic.Pointer[Sources]
