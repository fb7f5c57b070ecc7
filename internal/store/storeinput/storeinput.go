package storeinput

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// maxPageLimit is the largest page a list returns (store.Page).
const maxPageLimit = 100

// CheckPage rejects a page outside 1.. or a limit outside 1..100.
func CheckPage(p store.Page) error {
	switch {
	case p.Page < 1 || p.Page > math.MaxInt32:
		return fmt.Errorf("page %d outside 1-%d", p.Page, math.MaxInt32)
	case p.Limit < 1 || p.Limit > maxPageLimit:
		return fmt.Errorf("page limit %d outside 1-%d", p.Limit, maxPageLimit)
	}
	return nil
}

// Offset is how many rows come before page p (checked by CheckPage).
func Offset(p store.Page) int64 { return int64(p.Page-1) * int64(p.Limit) }

// CheckOptionalTime checks a time that may be absent.
func CheckOptionalTime(t *time.Time) error {
	if t == nil {
		return nil
	}
	return store.CheckTime(*t)
}

// normalizeTimes checks every time and rounds it as it will be stored, so a method can
// return its input and mean what later reads return.
func normalizeTimes(required []*time.Time, optional []**time.Time) error {
	for _, t := range required {
		if err := store.CheckTime(*t); err != nil {
			return err
		}
		*t = store.NormalizeTime(*t)
	}
	for _, t := range optional {
		if *t == nil {
			continue
		}
		if err := store.CheckTime(**t); err != nil {
			return err
		}
		n := store.NormalizeTime(**t)
		*t = &n
	}
	return nil
}

// NonNilStrings makes a nil list empty, so it is stored as [] rather than null and reads
// back the same way whichever the caller passed.
func NonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// nonNilBytes keeps NOT NULL payload columns from receiving NULL for an empty payload.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return bytes.Clone(b)
}

// Key reports whether s can be a key a write stored: valid UTF-8 without NUL (see
// checkName). A lookup or filter by any other key finds nothing, on both backends and
// without asking the database: PostgreSQL would fail on it where SQLite searches.
func Key(s string) bool { return checkName("", s, false) == nil }

// NormalizeEndpoint checks e and returns it as it is stored and read back. A zero
// UpdatedAt becomes CreatedAt; the disabled reason, free text quoting a receiver's
// answer, is made storable.
func NormalizeEndpoint(e store.Endpoint) (store.Endpoint, error) {
	if err := checkName("id", e.ID, true); err != nil {
		return store.Endpoint{}, err
	}
	if err := checkEndpointTexts(e.Name, e.URL, e.Secret, e.PreviousSecret, e.Events); err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %q: %w", e.ID, err)
	}
	e.DisabledReason = storableText(e.DisabledReason)
	switch {
	case e.ConsecutiveFailures < 0:
		return store.Endpoint{}, fmt.Errorf("endpoint %q: negative consecutive failures", e.ID)
	case e.CircuitGeneration < 0:
		return store.Endpoint{}, fmt.Errorf("endpoint %q: negative circuit generation", e.ID)
	case e.CircuitProbing && e.CircuitOpenUntil == nil:
		return store.Endpoint{}, fmt.Errorf("endpoint %q: probing without the probe's lease end (circuit open until)", e.ID)
	}
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	e.Events = NonNilStrings(e.Events)
	err := normalizeTimes(
		[]*time.Time{&e.CreatedAt, &e.UpdatedAt},
		[]**time.Time{&e.PreviousSecretUntil, &e.CircuitOpenUntil, &e.LastDeliveryAt, &e.LastFailureAt})
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %q: %w", e.ID, err)
	}
	failures := make([]time.Time, len(e.RecentFailures))
	for i, f := range e.RecentFailures {
		if err := store.CheckTime(f); err != nil {
			return store.Endpoint{}, fmt.Errorf("endpoint %q: recent failure: %w", e.ID, err)
		}
		failures[i] = store.NormalizeTime(f)
	}
	slices.SortFunc(failures, time.Time.Compare)
	e.RecentFailures = failures
	return e, nil
}

// NormalizeEndpointPatch checks p's times and names and returns it as it is stored:
// the disabled reason made storable, the events a new list (empty, not nil).
func NormalizeEndpointPatch(p store.EndpointPatch) (store.EndpointPatch, error) {
	if err := store.CheckTime(p.UpdatedAt); err != nil {
		return store.EndpointPatch{}, fmt.Errorf("updated at: %w", err)
	}
	if err := CheckOptionalTime(p.PreviousSecretUntil); err != nil {
		return store.EndpointPatch{}, fmt.Errorf("previous secret until: %w", err)
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	var events []string
	if p.Events != nil {
		events = NonNilStrings(*p.Events)
		p.Events = &events
	}
	if err := checkEndpointTexts(deref(p.Name), deref(p.URL), deref(p.Secret), deref(p.PreviousSecret), events); err != nil {
		return store.EndpointPatch{}, err
	}
	if p.DisabledReason != nil {
		reason := storableText(*p.DisabledReason)
		p.DisabledReason = &reason
	}
	return p, nil
}

// checkEndpointTexts rejects an endpoint's name, URL, secrets or event types that a
// backend could not store as given; they are looked up and compared, never rewritten.
func checkEndpointTexts(name, url, secret, previousSecret string, events []string) error {
	for _, f := range []struct{ what, s string }{{"name", name}, {"url", url}} {
		if err := checkName(f.what, f.s, false); err != nil {
			return err
		}
	}
	if !Key(secret) || !Key(previousSecret) {
		return errors.New("secret: not valid UTF-8 text without NUL") // never quoted
	}
	for _, ev := range events {
		if err := checkName("event type", ev, true); err != nil {
			return err
		}
	}
	return nil
}

// NormalizeEvent checks e and its deliveries and fills in what a delivery may leave out:
// EventID and EventType come from the event (a different EventID is an error, it would
// hide the delivery from the event's count), Status defaults to pending, CreatedAt to the
// event's, UpdatedAt to CreatedAt, and a Waiting delivery without NextRetryAt is due at
// once (at CreatedAt). The deliveries returned are copies.
func NormalizeEvent(e event.Event, deliveries []store.Delivery) (event.Event, []store.Delivery, error) {
	if err := checkName("event id", e.ID, true); err != nil {
		return event.Event{}, nil, err
	}
	if err := checkName("type", e.Type, true); err != nil {
		return event.Event{}, nil, fmt.Errorf("event %q: %w", e.ID, err)
	}
	if err := checkName("source", e.Source, false); err != nil {
		return event.Event{}, nil, fmt.Errorf("event %q: %w", e.ID, err)
	}
	if err := normalizeTimes([]*time.Time{&e.Time}, nil); err != nil {
		return event.Event{}, nil, fmt.Errorf("event %q: time: %w", e.ID, err)
	}
	e.Data = nonNilBytes(e.Data)

	out := make([]store.Delivery, len(deliveries))
	for i, d := range deliveries {
		if err := checkName("id", d.ID, true); err != nil {
			return event.Event{}, nil, fmt.Errorf("event %q: delivery %d: %w", e.ID, i, err)
		}
		if err := checkName("endpoint id", d.EndpointID, true); err != nil {
			return event.Event{}, nil, fmt.Errorf("delivery %q: %w", d.ID, err)
		}
		if err := checkName("event type", d.EventType, false); err != nil {
			return event.Event{}, nil, fmt.Errorf("delivery %q: %w", d.ID, err)
		}
		switch {
		case d.EventID != "" && d.EventID != e.ID:
			return event.Event{}, nil, fmt.Errorf("delivery %q: event id %q, want %q", d.ID, d.EventID, e.ID)
		}
		d.EventID = e.ID
		if d.EventType == "" {
			d.EventType = e.Type
		}
		if d.Status == "" {
			d.Status = store.DeliveryPending
		}
		if !validStatus(d.Status) {
			return event.Event{}, nil, fmt.Errorf("delivery %q: invalid status %q", d.ID, d.Status)
		}
		if d.CreatedAt.IsZero() {
			d.CreatedAt = e.Time
		}
		if d.UpdatedAt.IsZero() {
			d.UpdatedAt = d.CreatedAt
		}
		if d.NextRetryAt == nil && Waiting(d.Status) {
			due := d.CreatedAt
			d.NextRetryAt = &due
		}
		d.Payload = nonNilBytes(d.Payload)
		d.ResponseBody, d.ErrorMessage = storableText(d.ResponseBody), storableText(d.ErrorMessage)
		err := normalizeTimes(
			[]*time.Time{&d.CreatedAt, &d.UpdatedAt},
			[]**time.Time{&d.NextRetryAt, &d.DeliveredAt, &d.DeadLetteredAt})
		if err != nil {
			return event.Event{}, nil, fmt.Errorf("delivery %q: %w", d.ID, err)
		}
		out[i] = d
	}
	return e, out, nil
}

func validStatus(s store.DeliveryStatus) bool {
	switch s {
	case store.DeliveryPending, store.DeliveryRetrying, store.DeliveryDelivered, store.DeliveryFailed:
		return true
	}
	return false
}

// Waiting reports whether a delivery in status s is still in the queue.
func Waiting(s store.DeliveryStatus) bool {
	return s == store.DeliveryPending || s == store.DeliveryRetrying
}

// CheckClaim checks claim parameters.
func CheckClaim(p store.ClaimParams) error {
	switch {
	case p.Limit < 1:
		return fmt.Errorf("limit %d, want at least 1", p.Limit)
	case p.Lease <= 0:
		return fmt.Errorf("lease %v, want a positive duration", p.Lease)
	case p.PerEndpoint < 0:
		return fmt.Errorf("per-endpoint bound %d, want 0 (none) or more", p.PerEndpoint)
	case p.Probes < 0:
		return fmt.Errorf("probes %d, want 0 (the default, 1) or more", p.Probes)
	}
	for id, n := range p.InFlight {
		if n < 0 {
			return fmt.Errorf("endpoint %q: %d in flight, want 0 or more", id, n)
		}
	}
	if err := store.CheckTime(p.Now); err != nil {
		return fmt.Errorf("now: %w", err)
	}
	if err := store.CheckTime(p.Now.Add(p.Lease)); err != nil {
		return fmt.Errorf("lease end: %w", err)
	}
	return nil
}

// NormalizeRecords checks records and returns copies whose texts are storable.
func NormalizeRecords(records []store.AttemptRecord) ([]store.AttemptRecord, error) {
	out := make([]store.AttemptRecord, len(records))
	for i, r := range records {
		if err := checkRecord(r); err != nil {
			return nil, err
		}
		r.ResponseBody = storableText(r.ResponseBody)
		r.ErrorMessage = storableText(r.ErrorMessage)
		r.DisabledReason = storableText(r.DisabledReason)
		out[i] = r
	}
	return out, nil
}

// storableText makes s storable as PostgreSQL text, which must be valid UTF-8 and hold
// no NUL: a response body cut at a byte limit, or a binary one, would otherwise fail a
// whole batch of outcomes. Invalid bytes and NULs become U+FFFD on both backends, so
// both read back the same string.
func storableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// checkRecord rejects outcomes that would leave a delivery unclaimable or in an
// impossible state: a retry needs its next time, an outcome is never "pending".
func checkRecord(r store.AttemptRecord) error {
	switch {
	case r.DeliveryID == "":
		return errors.New("empty delivery id")
	case r.EndpointID == "":
		return fmt.Errorf("delivery %q: empty endpoint id", r.DeliveryID)
	case r.Status != store.DeliveryRetrying && r.Status != store.DeliveryDelivered && r.Status != store.DeliveryFailed:
		return fmt.Errorf("delivery %q: outcome status %q, want retrying, delivered or failed", r.DeliveryID, r.Status)
	case r.Status == store.DeliveryRetrying && r.NextRetryAt == nil:
		return fmt.Errorf("delivery %q: retrying without a next retry time", r.DeliveryID)
	case r.BreakerResetAfter < 0:
		return fmt.Errorf("delivery %q: negative breaker reset time", r.DeliveryID)
	case r.BreakerWindow < 0:
		return fmt.Errorf("delivery %q: negative breaker window", r.DeliveryID)
	}
	for _, t := range []*time.Time{r.NextRetryAt, r.DeliveredAt, r.DeadLetteredAt} {
		if err := CheckOptionalTime(t); err != nil {
			return fmt.Errorf("delivery %q: %w", r.DeliveryID, err)
		}
	}
	if err := store.CheckTime(r.At); err != nil {
		return fmt.Errorf("delivery %q: at: %w", r.DeliveryID, err)
	}
	if err := store.CheckTime(r.At.Add(r.BreakerResetAfter)); err != nil {
		return fmt.Errorf("delivery %q: circuit open until: %w", r.DeliveryID, err)
	}
	return nil
}

// OutcomeTimes are the due time and dead-letter mark an outcome writes: NextRetryAt only
// for a retry (a delivered or failed delivery is never due), DeadLetteredAt only for a
// failure, whatever else the record carries.
func OutcomeTimes(r store.AttemptRecord) (nextRetryAt, deadLetteredAt *time.Time) {
	switch r.Status {
	case store.DeliveryRetrying:
		return r.NextRetryAt, nil
	case store.DeliveryFailed:
		return nil, r.DeadLetteredAt
	}
	return nil, nil
}

// InboundProviderID is a provider's delivery id as NormalizeInbound stores it, to look
// the message up by.
func InboundProviderID(id string) string { return storableText(id) }

// CheckInboundFilter checks a list filter. A source or cursor that no write could have
// stored (see Key) is answered without asking the database: empty is true when the list
// is empty, and a cursor that cannot be found is ErrNotFound.
func CheckInboundFilter(f store.InboundFilter) (empty bool, err error) {
	if f.Limit < 1 || f.Limit > maxPageLimit {
		return false, fmt.Errorf("limit %d outside 1-%d", f.Limit, maxPageLimit)
	}
	sourceOK := f.Source == "" || Key(f.Source)
	if f.Before != "" && (!sourceOK || !Key(f.Before)) {
		return false, fmt.Errorf("message %q: %w", f.Before, store.ErrNotFound)
	}
	return !sourceOK, nil
}

// NormalizeInbound checks a received message.
func NormalizeInbound(m store.InboundMessage) (store.InboundMessage, error) {
	if err := checkName("id", m.ID, true); err != nil {
		return store.InboundMessage{}, err
	}
	if err := checkName("source", m.Source, true); err != nil {
		return store.InboundMessage{}, fmt.Errorf("message %q: %w", m.ID, err)
	}
	switch {
	case m.ProviderID == "":
		// Deduplication needs it; "" would make every later message a duplicate.
		return store.InboundMessage{}, fmt.Errorf("message %q: empty provider id", m.ID)
	}
	if err := normalizeTimes([]*time.Time{&m.ReceivedAt}, nil); err != nil {
		return store.InboundMessage{}, fmt.Errorf("message %q: received at: %w", m.ID, err)
	}
	// Both come from the sender's headers or body, verified but not necessarily UTF-8;
	// a message that cannot be stored would be redelivered by the provider forever.
	m.ProviderID, m.EventType = storableText(m.ProviderID), storableText(m.EventType)
	m.Verification = storableText(m.Verification)
	m.Payload = nonNilBytes(m.Payload)
	m.Headers = nonNilBytes(m.Headers)
	return m, nil
}
