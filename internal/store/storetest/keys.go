package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// badKeys are names and ids PostgreSQL text cannot hold as given: NUL and invalid UTF-8.
var badKeys = map[string]string{"NUL": "ep\x00", "invalid UTF-8": "ep\xff"}

// testUnstorableNames: a write whose id, name or type a backend could not store as given
// is refused, on both backends alike, and stores nothing (SQLite used to keep NUL where
// PostgreSQL failed).
func testUnstorableNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	ep := mustEndpoint(t, s, newEndpoint("ep-1", t0))
	for what, bad := range badKeys {
		for field, e := range map[string]store.Endpoint{
			"id":     with(newEndpoint("ep-2", t0), func(e *store.Endpoint) { e.ID = bad }),
			"name":   with(newEndpoint("ep-2", t0), func(e *store.Endpoint) { e.Name = bad }),
			"url":    with(newEndpoint("ep-2", t0), func(e *store.Endpoint) { e.URL = "https://example.com/" + bad }),
			"secret": with(newEndpoint("ep-2", t0), func(e *store.Endpoint) { e.Secret = bad }),
			"events": with(newEndpoint("ep-2", t0), func(e *store.Endpoint) { e.Events = []string{"a.b", bad} }),
		} {
			if _, err := s.EndpointCreate(ctx, e); !isValidationError(err) {
				t.Errorf("EndpointCreate with %s in the %s: err = %v, want a validation error", what, field, err)
			}
		}
		for field, p := range map[string]store.EndpointPatch{
			"name":   {Name: &bad},
			"url":    {URL: ptr("https://example.com/" + bad)},
			"secret": {Secret: &bad},
			"events": {Events: &[]string{bad}},
		} {
			p.UpdatedAt = t0.Add(time.Hour)
			if _, err := s.EndpointUpdate(ctx, ep.ID, p); !isValidationError(err) {
				t.Errorf("EndpointUpdate with %s in the %s: err = %v, want a validation error", what, field, err)
			}
		}
		for field, e := range map[string]event.Event{
			"id":     with(newEvent("ev-1", t0), func(e *event.Event) { e.ID = bad }),
			"type":   with(newEvent("ev-1", t0), func(e *event.Event) { e.Type = bad }),
			"source": with(newEvent("ev-1", t0), func(e *event.Event) { e.Source = bad }),
		} {
			if _, _, err := s.EventPublish(ctx, e, nil); !isValidationError(err) {
				t.Errorf("EventPublish with %s in the %s: err = %v, want a validation error", what, field, err)
			}
		}
		for field, d := range map[string]store.Delivery{
			"id":          with(newDelivery("d-1", ep.ID, "ev-1", t0), func(d *store.Delivery) { d.ID = bad }),
			"endpoint id": with(newDelivery("d-1", ep.ID, "ev-1", t0), func(d *store.Delivery) { d.EndpointID = bad }),
		} {
			if _, _, err := s.EventPublish(ctx, newEvent("ev-1", t0), []store.Delivery{d}); !isValidationError(err) {
				t.Errorf("EventPublish with %s in a delivery's %s: err = %v, want a validation error", what, field, err)
			}
		}
		for field, m := range map[string]store.InboundMessage{
			"id":     {ID: bad, Source: "gh", ProviderID: "p1", ReceivedAt: t0},
			"source": {ID: "m1", Source: bad, ProviderID: "p1", ReceivedAt: t0},
		} {
			if _, err := s.InboundRecord(ctx, m); !isValidationError(err) {
				t.Errorf("InboundRecord with %s in the %s: err = %v, want a validation error", what, field, err)
			}
		}
	}
	check(t, "endpoint after refused updates", mustGetEndpoint(t, s, ep.ID), ep)
	if eps, total, err := s.EndpointList(ctx, store.EndpointFilter{Page: page(1, 100)}); err != nil || total != 1 || len(eps) != 1 {
		t.Errorf("EndpointList = %d endpoints, total %d, %v; want only %s", len(eps), total, err, ep.ID)
	}
	if _, err := s.EventGet(ctx, "ev-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EventGet after refused publishes: err = %v, want ErrNotFound", err)
	}
}

// testUnstorableKeys: a lookup by a key no write could have stored finds nothing, the
// same on both backends (PostgreSQL used to fail on NUL where SQLite found nothing).
func testUnstorableKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-1", t0))
	at := t0.Add(time.Hour)
	for what, bad := range badKeys {
		notFound := map[string]error{}
		_, notFound["EndpointGet"] = s.EndpointGet(ctx, bad)
		_, notFound["EndpointUpdate"] = s.EndpointUpdate(ctx, bad, store.EndpointPatch{Name: ptr("x"), UpdatedAt: at})
		notFound["EndpointDelete"] = s.EndpointDelete(ctx, bad, at)
		_, notFound["EventGet"] = s.EventGet(ctx, bad)
		_, notFound["DeliveryGet"] = s.DeliveryGet(ctx, bad)
		_, notFound["DeliveryRequeue"] = s.DeliveryRequeue(ctx, bad, at)
		_, notFound["FlowDeadLetterGet"] = s.FlowDeadLetterGet(ctx, bad)
		notFound["FlowDeadLetterDelete"] = s.FlowDeadLetterDelete(ctx, bad)
		notFound["FlowDeadLetterSetAccepted"] = s.FlowDeadLetterSetAccepted(ctx, bad, [][]string{{"db"}})
		notFound["TokenRevoke"] = s.TokenRevoke(ctx, bad, at)
		for method, err := range notFound {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s with %s: err = %v, want ErrNotFound", method, what, err)
			}
		}
		empty := map[string]func() (int, error){
			"DeliveryList": func() (int, error) {
				_, n, err := s.DeliveryList(ctx, store.DeliveryFilter{EndpointID: bad, Page: page(1, 10)})
				return n, err
			},
			"DeadLetterList": func() (int, error) {
				_, n, err := s.DeadLetterList(ctx, store.DeliveryFilter{EndpointID: bad, Page: page(1, 10)})
				return n, err
			},
			"FlowDeadLetterList by flow": func() (int, error) {
				_, n, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Flow: bad, Page: page(1, 10)})
				return n, err
			},
			"FlowDeadLetterList by queue": func() (int, error) {
				_, n, err := s.FlowDeadLetterList(ctx, store.FlowDeadLetterFilter{Queue: bad, Page: page(1, 10)})
				return n, err
			},
		}
		for method, list := range empty {
			if n, err := list(); n != 0 || err != nil {
				t.Errorf("%s with %s: total %d, err = %v; want 0, nil", method, what, n, err)
			}
		}
	}
}

// with returns v changed by change.
func with[T any](v T, change func(*T)) T {
	change(&v)
	return v
}
