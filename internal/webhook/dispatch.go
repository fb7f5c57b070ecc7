package webhook

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/netguard"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// How delivery runs:
//
//   - The dispatcher claims only what it can start at once: as many deliveries as
//     workers are free, and of each endpoint no more than per_endpoint_concurrency
//     minus its attempts already running (the store applies that bound inside the
//     claim, store.ClaimParams). Each claimed delivery starts its attempt at once, on a
//     goroutine of its own. No delivery waits in the process for a slot, so a lease
//     (2×timeout + 30 s) only has to cover one attempt and the recording of its outcome:
//     a slow receiver cannot make leases run out and deliveries go out twice. What
//     waits, waits in the store, where every process can take it.
//   - When an attempt ends its slot frees, and the dispatcher claims again at once; it
//     also claims when woken by a publication and every pollInterval for due retries.
//   - The recorder writes outcomes in batches, one transaction each, then publishes
//     WebhookDeliveryFailed for deliveries that failed for good, and, while anyone
//     watches the bus, a DeliveryAttemptEvent per attempt.
//   - An endpoint's circuit lives in the store (store.Endpoint, store.AttemptRecord), so
//     every process agrees: claims skip endpoints whose circuit is open, so once it opens
//     no new attempt starts; the attempts already running finish (their timeout bounds
//     them), and being of an older circuit generation they neither extend nor close it.
//     After the open period exactly one claim, in any process, gets the probe(s).
//
// A process that dies loses only leases: its deliveries are claimed again after the
// lease, so every delivery is made at least once (receivers deduplicate by webhook-id,
// which is the delivery id on every attempt). Per-endpoint ordering is not promised.

const (
	pollInterval  = 250 * time.Millisecond // how often due retries are looked for when idle
	recordBatch   = 200                    // outcomes written per transaction
	recordLinger  = 5 * time.Millisecond   // how long the recorder waits to fill a batch
	purgeInterval = 10 * time.Minute       // dead-letter and event retention runs
)

// WebhookDeliveryFailed is published when a delivery has failed for good.
const WebhookDeliveryFailed = "WebhookDeliveryFailed"

// DeliveryAttemptEvent is the watch-only event (event.Bus.PublishWatched) of one
// recorded delivery attempt, for `junction tail`: endpoint_id, delivery_id,
// event_type, attempt, status (delivered, retrying or failed), response_status when
// there was an answer, error (redacted as stored) and next_attempt_at when retrying.
const DeliveryAttemptEvent = "junction.webhook.delivery"

type outcome struct {
	rec       store.AttemptRecord
	failed    *store.Delivery // set when the delivery failed for good
	eventType string          // of the delivery
}

// Start starts the delivery workers (lifecycle.Component); they run until Stop.
func (s *Service) Start(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.stopRun != nil {
		return errors.New("webhook: delivery already started")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	s.stopRun, s.runDone = cancel, done
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	return nil
}

// Stop stops claiming deliveries and waits, within ctx, for the attempts in flight to
// finish and be recorded; an attempt is bounded by the delivery timeout. Stopping a
// service that never started does nothing.
func (s *Service) Stop(ctx context.Context) error {
	s.runMu.Lock()
	stop, done := s.stopRun, s.runDone
	s.runMu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webhook: delivery attempts still in flight: %w", ctx.Err())
	}
}

// Run delivers until ctx is cancelled, then lets the attempts in flight finish (their
// outcomes are recorded) and returns.
func (s *Service) Run(ctx context.Context) error {
	outcomes := make(chan outcome, recordBatch)
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

	stopPeers := s.sharePeers(ctx)

	var attempts sync.WaitGroup
	s.dispatch(ctx, &attempts, outcomes)

	attempts.Wait()
	stopPeers() // after the last attempt: this node's counts are removed as it stops
	close(outcomes)
	<-recorded
	<-maintenanceDone
	return nil
}

// sharePeers starts sharing the attempts in flight with the other nodes (Options.Peers),
// having read theirs once so the first claim counts them; the returned func stops it
// and waits.
func (s *Service) sharePeers(ctx context.Context) (stop func()) {
	if s.opts.Peers == nil {
		return func() {}
	}
	syncCtx, cancel := context.WithTimeout(ctx, time.Second)
	s.opts.Peers.Sync(syncCtx)
	cancel()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.opts.Peers.Run(runCtx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// dispatch claims what the free slots can take and starts the attempts, until ctx ends.
func (s *Service) dispatch(ctx context.Context, attempts *sync.WaitGroup, outcomes chan<- outcome) {
	slots := newWorkerSlots(s.settings.Workers)
	freed := make(chan struct{}, 1)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-freed:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			free, inFlight := slots.free()
			if free == 0 {
				break // an attempt that ends signals freed
			}
			if b := s.opts.Peers; b != nil {
				b.Set(inFlight)       // this node's, shared at the board's next write
				b.AddOthers(inFlight) // the bound is per endpoint across the cluster
			}
			claimed, err := s.store.DeliveryClaim(ctx, store.ClaimParams{
				Now: s.opts.Clock.Now().UTC(), Limit: free, Lease: s.lease, Owner: s.opts.WorkerID,
				PerEndpoint: s.settings.PerEndpointConcurrency, InFlight: inFlight, Probes: s.settings.BreakerProbes,
			})
			if err != nil {
				if ctx.Err() == nil {
					s.opts.Logger.Error("claiming deliveries", "error", err)
				}
				break
			}
			for _, c := range claimed {
				slots.take(c.Endpoint.ID)
				attempts.Go(func() {
					// An attempt already made finishes after a stop; its timeout bounds it.
					rec, failed := s.attempt(context.WithoutCancel(ctx), c.Endpoint, c.Delivery)
					outcomes <- outcome{rec: rec, failed: failed, eventType: c.Delivery.EventType}
					slots.done(c.Endpoint.ID)
					select {
					case freed <- struct{}{}:
					default:
					}
				})
			}
			if b := s.opts.Peers; b != nil && len(claimed) > 0 {
				_, own := slots.free()
				b.Set(own)
			}
			if len(claimed) < free {
				break // nothing more can start now
			}
		}
		timer.Reset(pollInterval)
	}
}

// attempt makes one delivery attempt and returns its outcome record; failed is set when
// this was the last attempt and it failed.
func (s *Service) attempt(ctx context.Context, ep store.Endpoint, d store.Delivery) (store.AttemptRecord, *store.Delivery) {
	ctx, span := startAttemptSpan(ctx, ep, d)
	start := s.opts.Clock.Now()
	status, respBody, err := s.send(ctx, ep, d, start)
	endAttemptSpan(span, status, err)
	if decl := s.declaredOf(ep); decl != nil && len(decl.Secrets) > 0 {
		respBody = redact.NewScrubber(decl.Secrets...).String(respBody) // a receiver may echo a credential header
	}
	end := s.opts.Clock.Now()
	duration := end.Sub(start)
	rec := store.AttemptRecord{
		DeliveryID: d.ID, AttemptCount: d.AttemptCount + 1, DurationMs: int(duration.Milliseconds()),
		ResponseBody: respBody, At: end.UTC(), EndpointID: ep.ID, CircuitGeneration: ep.CircuitGeneration,
		BreakerThreshold: s.settings.BreakerThreshold, BreakerWindow: s.settings.BreakerWindow,
		BreakerResetAfter: s.settings.BreakerResetAfter,
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
		rec.ErrorMessage = s.errorMessage(err, ep)
		if errors.Is(err, netguard.ErrBlocked) {
			rec.ErrorMessage += "; to deliver there, " + allowedNetworksHint
		}
	default:
		rec.ErrorMessage = fmt.Sprintf("endpoint answered %d", status)
	}
	s.opts.Metrics.attemptSeconds.WithLabelValues(outcomeLabel).Observe(duration.Seconds())
	if rec.Success {
		s.opts.Metrics.deliveries.WithLabelValues("delivered").Inc()
		return rec, nil
	}
	if !rec.DisableEndpoint && rec.AttemptCount < d.MaxAttempts {
		policy := s.settings.Retry
		if decl := s.declaredOf(ep); decl != nil {
			policy = decl.Retry // a declared webhook's own retry
		}
		next := end.Add(policy.DelayBefore(rec.AttemptCount + 1)).UTC()
		rec.Status, rec.NextRetryAt = store.DeliveryRetrying, &next
		s.opts.Metrics.deliveries.WithLabelValues("retrying").Inc()
		s.logFailedAttempt(ep, d, rec)
		return rec, nil
	}
	rec.Status = store.DeliveryFailed
	if s.settings.DeadLetter {
		at := end.UTC()
		rec.DeadLetteredAt = &at
	}
	s.opts.Metrics.deliveries.WithLabelValues(outcomeLabel).Inc()
	s.logFailedAttempt(ep, d, rec)
	failed := d
	failed.ErrorMessage, failed.AttemptCount = rec.ErrorMessage, rec.AttemptCount
	return rec, &failed
}

// send makes the HTTP request: the stored body, Standard Webhooks headers (webhook-id is
// the delivery id on every attempt, webhook-timestamp this attempt's time), the seed's
// signature header when configured, no redirects, guarded addresses, bounded bodies. A
// declared webhook's method and headers apply; Junction's own headers are set after
// them, so they always win. Nothing is sent to a managed endpoint whose declaration is
// misconfigured or gone: it would go without a declared credential.
func (s *Service) send(ctx context.Context, ep store.Endpoint, d store.Delivery, at time.Time) (int, string, error) {
	method := http.MethodPost
	header := http.Header{}
	if ep.Managed {
		decl := s.declaredOf(ep)
		switch {
		case decl == nil:
			return 0, "", fmt.Errorf("not sent: webhook %s is no longer declared in the configuration in force", ep.Name)
		case decl.Misconfigured != "":
			return 0, "", fmt.Errorf("not sent: webhook %s is misconfigured: %s", ep.Name, decl.Misconfigured)
		}
		method, header = decl.Method, decl.Header.Clone()
	}
	ctx, cancel := context.WithTimeout(ctx, s.settings.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ep.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, "", fmt.Errorf("invalid endpoint URL: %w", err)
	}
	req.Header = header
	secrets := []string{ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousSecretUntil != nil && at.Before(*ep.PreviousSecretUntil) {
		secrets = append(secrets, ep.PreviousSecret)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Junction-Webhooks/1")
	telemetry.InjectTraceContext(ctx, req.Header)
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

// allowedNetworksHint says how to let deliveries reach addresses that are not public.
const allowedNetworksHint = "add the address's network to allowed_networks in the configuration's type: webhook integration block, " +
	`e.g. integration WebhookDelivery { type: webhook  allowed_networks: ["127.0.0.0/8", "::1/128"] }`

// logFailedAttempt tells the operator of every failed attempt, and what happens next:
// the deliveries list is not where anyone looks first. The reason is the stored one,
// redacted by errorMessage.
func (s *Service) logFailedAttempt(ep store.Endpoint, d store.Delivery, rec store.AttemptRecord) {
	args := []any{"endpoint_id", ep.ID, "delivery_id", d.ID, "attempt", rec.AttemptCount,
		"max_attempts", d.MaxAttempts, "reason", rec.ErrorMessage}
	switch {
	case rec.NextRetryAt != nil:
		args = append(args, "next_attempt_at", *rec.NextRetryAt)
	case rec.DeadLetteredAt != nil:
		args = append(args, "dead_lettered", true)
	}
	s.opts.Logger.Warn("webhook delivery attempt failed", args...)
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
		s.announceAttempts(batch...)
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

// announceAttempts publishes a DeliveryAttemptEvent per outcome, while anyone watches.
func (s *Service) announceAttempts(outs ...outcome) {
	bus := s.opts.Bus
	if bus == nil || !bus.Watched() {
		return
	}
	for _, o := range outs {
		r := o.rec
		fields := map[string]any{
			"endpoint_id": r.EndpointID, "delivery_id": r.DeliveryID, "event_type": o.eventType,
			"attempt": r.AttemptCount, "status": r.Status, "duration_ms": r.DurationMs,
		}
		if r.ResponseStatusCode != nil {
			fields["response_status"] = *r.ResponseStatusCode
		}
		if r.ErrorMessage != "" {
			fields["error"] = r.ErrorMessage
		}
		if r.NextRetryAt != nil {
			fields["next_attempt_at"] = *r.NextRetryAt
		}
		bus.PublishWatched(event.Make(DeliveryAttemptEvent, event.SourceJunction, r.At, fields))
	}
}

// afterRecordFailed publishes WebhookDeliveryFailed (endpoint_id, delivery_id,
// event_type, error) once the failure is durable.
func (s *Service) afterRecordFailed(failed []*store.Delivery) {
	for _, d := range failed {
		e := event.Make(WebhookDeliveryFailed, event.SourceJunction, s.opts.Clock.Now(), map[string]any{
			"endpoint_id": d.EndpointID, "delivery_id": d.ID, "event_type": d.EventType, "error": d.ErrorMessage,
		})
		ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
		s.announce(ctx, e)
		cancel()
	}
}

// maintain purges what is past its retention (dead letters, and events with their
// finished deliveries), on the node doing the retention.
func (s *Service) maintain(ctx context.Context) {
	purge := time.NewTicker(cmp.Or(s.opts.PurgeEvery, purgeInterval))
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-purge.C:
			if s.opts.PurgeHeld != nil && !s.opts.PurgeHeld() {
				continue
			}
			s.purgeDeadLetters(ctx)
			s.purgeEvents(ctx)
		}
	}
}

func (s *Service) purgeDeadLetters(ctx context.Context) {
	before := s.opts.Clock.Now().Add(-s.settings.DeadLetterRetention).UTC()
	if n, err := s.store.DeadLetterPurge(ctx, before); err != nil {
		s.opts.Logger.Warn("purging dead letters", "error", err)
	} else if n > 0 {
		s.opts.Logger.Info("dead letters past retention purged", "count", n)
	}
}

// purgeEvents deletes the events past EventRetention that nothing waits on, with their
// finished deliveries (the history GET /webhooks/{id}/deliveries lists). What a purge
// cut short (an error, its deadline) committed is counted, and the next run goes on.
func (s *Service) purgeEvents(ctx context.Context) {
	if s.opts.EventRetention <= 0 {
		return // kept forever
	}
	before := s.opts.Clock.Now().Add(-s.opts.EventRetention).UTC()
	n, err := s.store.EventPurge(ctx, before, 0)
	if n.Events > 0 || n.Deliveries > 0 || n.HandlerExecutions > 0 {
		s.opts.Logger.Info("events past retention purged", "events", n.Events, "deliveries", n.Deliveries,
			"handler_executions", n.HandlerExecutions, "retention", s.opts.EventRetention.String())
	}
	if err != nil && ctx.Err() == nil {
		s.opts.Logger.Warn("purging events past retention", "error", err)
	}
}

// errorMessage is an attempt's error as it is stored, logged and published: Go's HTTP
// client quotes the request URL, which may carry a credential in its query or user
// info, so the URL is redacted, and every secret the endpoint has (its signing
// secrets, its URL's credentials, a declared webhook's credential headers) is masked
// wherever else it might appear.
func (s *Service) errorMessage(err error, ep store.Endpoint) string {
	secrets := []string{ep.Secret, ep.PreviousSecret}
	if decl := s.declaredOf(ep); decl != nil {
		secrets = append(secrets, decl.Secrets...) // a declared webhook's credential headers
	}
	if u, perr := url.Parse(ep.URL); perr == nil {
		if u.User != nil {
			pw, _ := u.User.Password()
			secrets = append(secrets, u.User.Username(), pw)
		}
		for _, vs := range u.Query() {
			secrets = append(secrets, vs...)
		}
	}
	return redact.NewScrubber(secrets...).String(redact.Error(err).Error())
}

// workerSlots counts the attempts running, in all and per endpoint.
type workerSlots struct {
	mu       sync.Mutex
	idle     int
	inFlight map[string]int
}

func newWorkerSlots(workers int) *workerSlots {
	return &workerSlots{idle: max(workers, 1), inFlight: map[string]int{}}
}

// free returns how many attempts can start, and a copy of the running ones per endpoint.
func (w *workerSlots) free() (int, map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idle, maps.Clone(w.inFlight)
}

func (w *workerSlots) take(endpointID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.idle--
	w.inFlight[endpointID]++
}

func (w *workerSlots) done(endpointID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.idle++
	if w.inFlight[endpointID]--; w.inFlight[endpointID] <= 0 {
		delete(w.inFlight, endpointID)
	}
}
