package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// What arrived at /ingest/{source}: the stored messages (GET /inbound) and the refusals
// kept in memory (GET /inbound/rejections), so that a user can see what a provider sent
// and why Junction refused it.

// ListInbound returns up to f.Limit stored messages, newest first. An unknown source is
// ErrUnknownSource naming the configured ones; a cursor (f.Before) that is not a message
// of the selection is a *ValidationError naming "before".
func (s *Service) ListInbound(ctx context.Context, f store.InboundFilter) ([]store.InboundMessage, error) {
	if err := s.knownSource(f.Source); err != nil {
		return nil, err
	}
	ms, err := s.store.InboundList(ctx, f)
	if errors.Is(err, store.ErrNotFound) {
		of := ""
		if f.Source != "" {
			of = " of source " + f.Source
		}
		return nil, &ValidationError{Fields: map[string]string{"before": "no received message" + of + " has this id: give the id of the last message of the previous page"}}
	}
	for i := range ms {
		ms[i].Headers = s.shownHeaders(ms[i])
	}
	return ms, err
}

// GetInbound returns the stored message with Junction's id (ErrNotFound).
func (s *Service) GetInbound(ctx context.Context, id string) (store.InboundMessage, error) {
	m, err := s.store.InboundGetByID(ctx, id)
	m.Headers = s.shownHeaders(m)
	return m, err
}

// signatureHeaders are the headers the provider schemes sign with, in lower case.
var signatureHeaders = []string{
	strings.ToLower(inbound.HeaderGitHubSignature), "x-hub-signature", strings.ToLower(inbound.HeaderStripeSignature),
	strings.ToLower(signing.HeaderSignature),
}

// shownHeaders are a stored message's headers without its signature: any user token
// may list messages, and a GitHub signature does not cover the delivery id, so whoever
// read one could post the same body again as a new delivery. The headers are stored
// whole; they are only read here.
func (s *Service) shownHeaders(m store.InboundMessage) []byte {
	var h map[string]string
	if len(m.Headers) == 0 || json.Unmarshal(m.Headers, &h) != nil {
		return m.Headers
	}
	hidden := signatureHeaders
	if src := s.source(m.Source); src != nil && src.Verifier.Header != "" {
		hidden = append(slices.Clip(hidden), strings.ToLower(src.Verifier.Header))
	}
	for k := range h {
		if slices.Contains(hidden, strings.ToLower(k)) {
			delete(h, k)
		}
	}
	out, err := json.Marshal(h)
	if err != nil {
		return m.Headers
	}
	return out
}

// ListRejections returns up to limit refusals of source ("" = every source), newest
// first; an unknown source is ErrUnknownSource naming the configured ones.
func (s *Service) ListRejections(source string, limit int) ([]Rejection, error) {
	if err := s.knownSource(source); err != nil {
		return nil, err
	}
	return s.rejections.list(source, limit), nil
}

// knownSource refuses a source name that is not configured ("" is every source), saying
// which are. This is for the authenticated API only: POST /ingest/{source} does not tell
// the world the names.
func (s *Service) knownSource(name string) error {
	if name == "" || s.source(name) != nil {
		return nil
	}
	var names []string
	if p := s.sources.Load(); p != nil {
		names = slices.Sorted(maps.Keys(*p))
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: %q; no source is configured (declare one with a source NAME { verify … } block)", ErrUnknownSource, name)
	}
	return fmt.Errorf("%w: %q; the configured sources are %s", ErrUnknownSource, name, strings.Join(names, ", "))
}
