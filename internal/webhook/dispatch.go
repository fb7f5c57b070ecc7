package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// How the workers run:
//
//   - the dispatcher leases due deliveries in batches (the store skips endpoints whose
//     circuit is open) and hands them to the workers, at most PerEndpointConcurrency in
//     flight per endpoint; deliveries over that limit wait in memory for a slot, within
//     their lease;
//   - each worker makes one attempt and passes the outcome to the recorder;
//   - the recorder writes outcomes in batches, one transaction each, then publishes
//     WebhookDeliveryFailed for deliveries that failed for good.
//
// A process that dies loses only leases: its deliveries are claimed again after the
// lease, so every delivery is made at least once (receivers deduplicate by webhook-id,
// which is the delivery id on every attempt). Per-endpoint ordering is not promised.

const (
	pollInterval  = 250 * time.Millisecond // how often due retries are looked for when idle
	claimBatch    = 200                    // deliveries leased per claim
	recordBatch   = 200                    // outcomes written per transaction
	recordLinger  = 5 * time.Millisecond   // how long the recorder waits to fill a batch
	purgeInterval = 10 * time.Minute       // dead-letter retention runs
	statsInterval = 5 * time.Second        // queue gauges refresh
)

// WebhookDeliveryFailed is published when a delivery has failed for good.
const WebhookDeliveryFailed = "WebhookDeliveryFailed"

type outcome struct {
	rec    store.AttemptRecord
	failed *store.Delivery // set when the delivery failed for good
}

// Run delivers until ctx is cancelled, then lets in-flight attempts finish (their
// outcomes are recorded) and returns.
func (s *Service) Run(ctx context.Context) error {
	lease := 2*s.settings.Timeout + 30*time.Second
	jobs := make(chan store.ClaimedDelivery)
	outcomes := make(chan outcome, recordBatch)
	slots := newEndpointSlots(s.settings.PerEndpointConcurrency)

	var workers sync.WaitGroup
	for range s.settings.Workers {
		workers.Go(func() {
			for c := range jobs {
				for {
					// In-flight attempts finish after a stop; their timeout bounds them.
					rec, failed := s.attempt(context.WithoutCancel(ctx), c.Endpoint, c.Delivery)
					outcomes <- outcome{rec: rec, failed: failed}
					next, ok := slots.done(c.Endpoint.ID)
					if !ok || ctx.Err() != nil {
						if ok {
							slots.putBack(next)
						}
						break
					}
					c = next // a delivery of the same endpoint was waiting for this slot
				}
			}
		})
	}
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		s.record(outcomes)
	}()
	maintenanceDone := make(chan struct{})
	go func() {
		defer close(maintenanceDone)
		s.maintain(ctx)
	}()

	s.dispatch(ctx, jobs, slots, lease)

	// Stop: deliveries still waiting for a slot go back to the queue untouched.
	if waiting := slots.drain(); len(waiting) > 0 {
		ids := make([]string, len(waiting))
		for i, c := range waiting {
			ids[i] = c.Delivery.ID
		}
		if err := s.store.DeliveryRelease(context.WithoutCancel(ctx), ids, s.opts.Clock.Now().UTC()); err != nil {
			s.opts.Logger.Warn("releasing waiting deliveries on stop", "error", err)
		}
	}
	close(jobs)
	workers.Wait()
	close(outcomes)
	<-recorded
	<-maintenanceDone
	return nil
}

// dispatch leases due deliveries and feeds the workers until ctx ends.
func (s *Service) dispatch(ctx context.Context, jobs chan<- store.ClaimedDelivery, slots *endpointSlots, lease time.Duration) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			claimed, err := s.store.DeliveryClaim(ctx, store.ClaimParams{
				Now: s.opts.Clock.Now().UTC(), Limit: claimBatch, Lease: lease, Owner: s.opts.WorkerID,
			})
			if err != nil {
				if ctx.Err() == nil {
					s.opts.Logger.Error("claiming deliveries", "error", err)
				}
				break
			}
			for _, c := range claimed {
				if !slots.take(c) {
					continue // queued behind its endpoint's deliveries in flight
				}
				select {
				case jobs <- c:
				case <-ctx.Done():
					slots.putBack(c)
					return
				}
			}
			if len(claimed) < claimBatch {
				break
			}
		}
		timer.Reset(pollInterval)
	}
}

// attempt makes one delivery attempt and returns its outcome record; failed is set when
// this was the last attempt and it failed.
func (s *Service) attempt(ctx context.Context, ep store.Endpoint, d store.Delivery) (store.AttemptRecord, *store.Delivery) {
	start := s.opts.Clock.Now()
	status, respBody, err := s.send(ctx, ep, d, start)
	end := s.opts.Clock.Now()
	duration := end.Sub(start)
	rec := store.AttemptRecord{
		DeliveryID: d.ID, AttemptCount: d.AttemptCount + 1, DurationMs: int(duration.Milliseconds()),
		ResponseBody: respBody, At: end.UTC(), EndpointID: ep.ID,
		BreakerThreshold: s.settings.BreakerThreshold, BreakerResetAfter: s.settings.BreakerResetAfter,
	}
	if status != 0 {
		rec.ResponseStatusCode = &status
	}
	outcomeLabel := "failed"
	switch {
	case err == nil && s.settings.success(status):
		at := end.UTC()
		rec.Status, rec.DeliveredAt, rec.Success = store.DeliveryDelivered, &at, true
		outcomeLabel = "delivered"
	case err == nil && status == http.StatusGone:
		// The receiver says this endpoint is gone for good: stop sending to it.
		rec.DisableEndpoint, rec.DisabledReason = true, "the endpoint answered 410 Gone"
		rec.ErrorMessage = "410 Gone: endpoint disabled"
		outcomeLabel = "gone"
	case err != nil:
		rec.ErrorMessage = err.Error()
	default:
		rec.ErrorMessage = fmt.Sprintf("endpoint answered %d", status)
	}
	s.opts.Metrics.attemptSeconds.WithLabelValues(outcomeLabel).Observe(duration.Seconds())
	if rec.Success {
		s.opts.Metrics.deliveries.WithLabelValues("delivered").Inc()
		return rec, nil
	}
	if !rec.DisableEndpoint && rec.AttemptCount < d.MaxAttempts {
		next := end.Add(s.settings.delay(rec.AttemptCount + 1)).UTC()
		rec.Status, rec.NextRetryAt = store.DeliveryRetrying, &next
		s.opts.Metrics.deliveries.WithLabelValues("retrying").Inc()
		return rec, nil
	}
	rec.Status = store.DeliveryFailed
	if s.settings.DeadLetter {
		at := end.UTC()
		rec.DeadLetteredAt = &at
	}
	s.opts.Metrics.deliveries.WithLabelValues(outcomeLabel).Inc()
	failed := d
	failed.ErrorMessage, failed.AttemptCount = rec.ErrorMessage, rec.AttemptCount
	return rec, &failed
}

// send makes the HTTP request: the stored body, Standard Webhooks headers (webhook-id is
// the delivery id on every attempt, webhook-timestamp this attempt's time), the seed's
// signature header when configured, no redirects, guarded addresses, bounded bodies.
func (s *Service) send(ctx context.Context, ep store.Endpoint, d store.Delivery, at time.Time) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.settings.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, "", fmt.Errorf("invalid endpoint URL: %w", err)
	}
	secrets := []string{ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousSecretUntil != nil && at.Before(*ep.PreviousSecretUntil) {
		secrets = append(secrets, ep.PreviousSecret)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Junction-Webhooks/1")
	if err := signing.Sign(req.Header, d.ID, at, d.Payload, secrets...); err != nil {
		return 0, "", err
	}
	if s.settings.SignatureHeader != "" {
		if err := signing.SignSimple(req.Header, s.settings.SignatureHeader, s.settings.SignatureAlgorithm, d.Payload, secrets...); err != nil {
			return 0, "", err
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, "", fmt.Errorf("no answer within %v", s.settings.Timeout)
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	limit := s.settings.MaxResponseBodyBytes
	body, _ := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if len(body) > limit {
		body = append(body[:limit], "…"...)
	}
	return resp.StatusCode, string(body), nil
}

// record writes outcomes in batches until outcomes is closed.
func (s *Service) record(outcomes <-chan outcome) {
	batch := make([]outcome, 0, recordBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		recs := make([]store.AttemptRecord, len(batch))
		var failed []*store.Delivery
		disabled := false
		for i, o := range batch {
			recs[i] = o.rec
			disabled = disabled || o.rec.DisableEndpoint
			if o.failed != nil {
				failed = append(failed, o.failed)
			}
		}
		for attempt := 0; ; attempt++ {
			err := s.store.DeliveryRecord(context.Background(), recs)
			if err == nil {
				break
			}
			// Not recorded means the leases run out and the deliveries are made again:
			// at-least-once holds, but keep trying first.
			s.opts.Logger.Error("recording delivery outcomes", "error", err, "outcomes", len(recs))
			if attempt == 5 {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		}
		if disabled {
			s.invalidate() // fan-out must stop at once for an endpoint that said 410
		}
		s.afterRecordFailed(failed)
		batch = batch[:0]
	}
	for o := range outcomes {
		batch = append(batch, o)
	collect:
		for len(batch) < recordBatch {
			select {
			case o, ok := <-outcomes:
				if !ok {
					break collect
				}
				batch = append(batch, o)
			case <-time.After(recordLinger):
				break collect
			}
		}
		flush()
	}
	flush()
}

// afterRecordFailed publishes WebhookDeliveryFailed (endpoint_id, delivery_id,
// event_type, error) once the failure is durable.
func (s *Service) afterRecordFailed(failed []*store.Delivery) {
	if s.opts.Bus == nil {
		return
	}
	for _, d := range failed {
		s.opts.Bus.Publish(event.Event{Type: WebhookDeliveryFailed, Time: s.opts.Clock.Now().UTC(), Data: map[string]any{
			"endpoint_id": d.EndpointID, "delivery_id": d.ID, "event_type": d.EventType, "error": d.ErrorMessage,
		}})
	}
}

// maintain purges expired dead letters and refreshes the queue gauges.
func (s *Service) maintain(ctx context.Context) {
	stats := time.NewTicker(statsInterval)
	defer stats.Stop()
	purge := time.NewTicker(purgeInterval)
	defer purge.Stop()
	s.refreshStats(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-stats.C:
			s.refreshStats(ctx)
		case <-purge.C:
			before := s.opts.Clock.Now().Add(-s.settings.DeadLetterRetention).UTC()
			if n, err := s.store.DeadLetterPurge(ctx, before); err != nil {
				s.opts.Logger.Warn("purging dead letters", "error", err)
			} else if n > 0 {
				s.opts.Logger.Info("dead letters past retention purged", "count", n)
			}
		}
	}
}

func (s *Service) refreshStats(ctx context.Context) {
	now := s.opts.Clock.Now().UTC()
	st, err := s.store.QueueStats(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Warn("queue stats", "error", err)
		}
		return
	}
	m := s.opts.Metrics
	m.queueDue.Set(float64(st.Due))
	m.queueWaiting.Set(float64(st.Waiting))
	m.deadLetters.Set(float64(st.DeadLetters))
	age := 0.0
	if st.OldestDueSince != nil {
		age = now.Sub(*st.OldestDueSince).Seconds()
	}
	m.oldestDueAge.Set(age)
	if eps, err := s.store.EndpointsActive(ctx); err == nil {
		open := 0
		for _, ep := range eps {
			if ep.CircuitOpenUntil != nil && ep.CircuitOpenUntil.After(now) {
				open++
			}
		}
		m.openCircuits.Set(float64(open))
	}
}

// endpointSlots bounds deliveries in flight per endpoint; deliveries over the limit wait
// in a per-endpoint line until a slot frees.
type endpointSlots struct {
	limit    int
	mu       sync.Mutex
	inFlight map[string]int
	waiting  map[string][]store.ClaimedDelivery
}

func newEndpointSlots(limit int) *endpointSlots {
	return &endpointSlots{limit: max(limit, 1), inFlight: map[string]int{}, waiting: map[string][]store.ClaimedDelivery{}}
}

// take reserves a slot for c, or queues it (false).
func (e *endpointSlots) take(c store.ClaimedDelivery) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := c.Endpoint.ID
	if e.inFlight[id] >= e.limit {
		e.waiting[id] = append(e.waiting[id], c)
		return false
	}
	e.inFlight[id]++
	return true
}

// done frees a slot; if a delivery of the same endpoint was waiting it takes the slot
// and is returned to be sent next.
func (e *endpointSlots) done(endpointID string) (store.ClaimedDelivery, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if q := e.waiting[endpointID]; len(q) > 0 {
		next := q[0]
		if len(q) == 1 {
			delete(e.waiting, endpointID)
		} else {
			e.waiting[endpointID] = q[1:]
		}
		return next, true // the slot passes to it
	}
	if e.inFlight[endpointID]--; e.inFlight[endpointID] <= 0 {
		delete(e.inFlight, endpointID)
	}
	return store.ClaimedDelivery{}, false
}

// putBack undoes take for a delivery that will not be sent now: its slot is freed and it
// joins the waiting line (released to the queue on stop).
func (e *endpointSlots) putBack(c store.ClaimedDelivery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := c.Endpoint.ID
	if e.inFlight[id]--; e.inFlight[id] <= 0 {
		delete(e.inFlight, id)
	}
	e.waiting[id] = append(e.waiting[id], c)
}

// drain empties the waiting lines.
func (e *endpointSlots) drain() []store.ClaimedDelivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []store.ClaimedDelivery
	for id, q := range e.waiting {
		out = append(out, q...)
		delete(e.waiting, id)
	}
	return out
}
