package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/store"
)

// Receiving webhooks (C6): a source declared in configuration
//
//	source github { verify: github  secret: env(GITHUB_WEBHOOK_SECRET)  event: "github.{header:X-GitHub-Event}" }
//
// is received at POST /ingest/github. The signature is verified first (a bad or missing
// one stores nothing); the message is stored durably, deduplicated on the provider's
// delivery id, and only then answered with 2xx; new messages are published on the
// internal event bus as an event of the configured type.

// Sources is the set of configured inbound sources, ready to verify.
type Sources map[string]*Source

// Source is one inbound source.
type Source struct {
	Name          string
	Verifier      inbound.Verifier
	Event         string // type template
	Misconfigured string // why it cannot be used ("" when it can)
}

// NewSources resolves the sources' secrets now. A source whose secret cannot be resolved
// is kept but refuses messages (503), like a misconfigured integration.
func NewSources(cfg *config.Config, lookup config.LookupEnv, c clock.Clock) Sources {
	out := Sources{}
	if cfg == nil {
		return out
	}
	for _, src := range cfg.Sources {
		s := &Source{Name: src.Name, Event: src.Event}
		secret, err := src.Secret.Resolve(lookup)
		if err != nil {
			s.Misconfigured = "secret: " + err.Error()
		}
		s.Verifier = inbound.Verifier{
			Scheme: inbound.Scheme(src.Verify), Secrets: []string{secret}, Header: src.Header,
			Algorithm: src.Algorithm, IDHeader: src.IDHeader, Tolerance: src.Tolerance, Clock: c,
		}
		out[src.Name] = s
	}
	return out
}

// SetSources replaces the inbound sources (configuration reload).
func (s *Service) SetSources(src Sources) { s.sources.Store(&src) }

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
)

// IngestResult says what Ingest did.
type IngestResult struct {
	ID        string // Junction's id of the stored message
	EventType string
	Duplicate bool // the provider's delivery id was received before; nothing new happened
}

// Ingest verifies, stores and publishes one received webhook. Signature failures wrap
// inbound.ErrSignature.
func (s *Service) Ingest(ctx context.Context, sourceName string, h http.Header, body []byte) (IngestResult, error) {
	src := s.source(sourceName)
	if src == nil {
		return IngestResult{}, fmt.Errorf("%w: %q", ErrUnknownSource, sourceName)
	}
	if src.Misconfigured != "" {
		return IngestResult{}, fmt.Errorf("%w: %s", ErrSourceMisconfigure, src.Misconfigured)
	}
	providerID, err := src.Verifier.Verify(h, body)
	if err == nil {
		err = checkPayload(h.Get("Content-Type"), body) // only once the sender is known
	}
	if err != nil {
		s.opts.Metrics.ingested.WithLabelValues(src.Name, "rejected").Inc()
		return IngestResult{}, err
	}
	eventType := expandEventType(src.Event, h, body)
	headers, _ := json.Marshal(keptHeaders(h))
	msg := store.InboundMessage{
		ID: newUUID(), Source: src.Name, ProviderID: providerID, EventType: eventType,
		Payload: body, Headers: headers, ReceivedAt: s.opts.Clock.Now().UTC(),
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
		return IngestResult{ID: first.ID, EventType: first.EventType, Duplicate: true}, nil
	}
	s.opts.Metrics.ingested.WithLabelValues(src.Name, "accepted").Inc()
	if s.opts.Bus != nil {
		var payload any = json.RawMessage(body)
		if !json.Valid(body) {
			payload = string(body)
		}
		e := event.Make(eventType, event.SourceIngestPrefix+src.Name, msg.ReceivedAt, map[string]any{
			"source": src.Name, "id": msg.ID, "provider_id": providerID, "payload": payload,
		})
		e.ID = msg.ID
		s.opts.Bus.Publish(e)
	}
	return IngestResult{ID: msg.ID, EventType: eventType}, nil
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

var placeholder = regexp.MustCompile(`\{(header|body):([^}]+)\}`)

// expandEventType fills {header:Name} and {body:field} (a top-level JSON member) in a
// source's event type; an absent value becomes "unknown".
func expandEventType(tmpl string, h http.Header, body []byte) string {
	var obj map[string]any
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		parts := placeholder.FindStringSubmatch(m)
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
