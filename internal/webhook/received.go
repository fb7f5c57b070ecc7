package webhook

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/junctionhq/junction/internal/store"
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
	return ms, err
}

// GetInbound returns the stored message with Junction's id (ErrNotFound).
func (s *Service) GetInbound(ctx context.Context, id string) (store.InboundMessage, error) {
	return s.store.InboundGetByID(ctx, id)
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
