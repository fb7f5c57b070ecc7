package webhook_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// TestSlowReceiverGetsEachDeliveryOnce: a receiver slower than the delivery rate must
// not get a delivery twice. Deliveries claimed beyond what the workers could start at
// once used to wait in the process for a slot, outlive their lease, and be claimed (and
// sent) again by the same process.
func TestSlowReceiverGetsEachDeliveryOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		s := fastSettings()
		s.Timeout, s.Workers, s.PerEndpointConcurrency = time.Second, 8, 2
		// 40 deliveries, 2 at a time, 200 ms each, take 4 s: twice the 2 s lease.
		e := newHookEnv(t, st, s, webhook.Options{Lease: 2 * time.Second})
		r := newCountingReceiver(t, 200*time.Millisecond, false)
		ep := e.endpoint(t, r.URL)
		const events = 40
		publishN(t, e.svc, events)
		e.run(t)
		testkit.WaitFor(t, "every delivery to be delivered", func() bool {
			for _, d := range e.deliveries(t, ep.ID) {
				if d.Status != store.DeliveryDelivered {
					return false
				}
			}
			return true
		})
		dup, distinct := r.duplicates()
		t.Logf("%d events: %d requests, %d distinct webhook-ids, %d duplicates", events, r.count(), distinct, dup)
		if dup != 0 || distinct != events {
			t.Errorf("receiver got %d duplicate requests and %d distinct webhook-ids, want 0 and %d", dup, distinct, events)
		}
		for _, d := range e.deliveries(t, ep.ID) {
			if d.AttemptCount != 1 {
				t.Errorf("delivery %s: %d attempts recorded, want 1", d.ID, d.AttemptCount)
			}
		}
	})
}

// TestHangingEndpointCircuitStopsDeliveries: once an endpoint's circuit opens, no new
// attempt starts (those in flight finish), failures of those do not keep it open longer,
// and after the open period exactly one probe goes.
func TestHangingEndpointCircuitStopsDeliveries(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		s := fastSettings()
		s.Timeout, s.Workers, s.PerEndpointConcurrency = 500*time.Millisecond, 16, 4
		s.BreakerThreshold, s.BreakerWindow, s.BreakerResetAfter = 3, time.Minute, time.Minute
		s.Retry, s.MaxAttempts = retry.Policy{Delays: []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second}}, 4
		clk := clock.NewFake(time.Now())
		e := newHookEnv(t, st, s, webhook.Options{Clock: clk})
		r := newCountingReceiver(t, 0, true)
		ep := e.endpoint(t, r.URL)
		publishN(t, e.svc, 20)
		e.run(t)

		testkit.WaitFor(t, "the circuit to open", func() bool { return e.getEndpoint(t, ep.ID).CircuitOpenUntil != nil })
		openUntil := *e.getEndpoint(t, ep.ID).CircuitOpenUntil
		atOpen := r.count()
		// Attempts still in flight fail later than the failure that opened the circuit.
		clk.Advance(10 * time.Second)
		settled := func(what string) {
			t.Helper()
			testkit.WaitFor(t, what, func() bool { return e.attemptsRecorded(t, ep.ID) == r.count() })
			e.store.waitClaims(t, 3)
			testkit.WaitFor(t, what, func() bool { return e.attemptsRecorded(t, ep.ID) == r.count() })
		}
		settled("the attempts in flight to fail")
		afterOpen := r.count() - atOpen
		t.Logf("%d attempts before the circuit opened was seen, %d after", atOpen, afterOpen)
		if afterOpen > s.PerEndpointConcurrency {
			t.Errorf("%d attempts reached the endpoint after its circuit opened, want at most the %d in flight", afterOpen, s.PerEndpointConcurrency)
		}
		if got := e.getEndpoint(t, ep.ID); got.CircuitOpenUntil == nil || !got.CircuitOpenUntil.Equal(openUntil) {
			t.Errorf("circuit open until %v after failures recorded while open, want still %v", got.CircuitOpenUntil, openUntil)
		}

		before := r.count()
		clk.Advance(time.Minute) // past the open period: half-open
		testkit.WaitFor(t, "the probe", func() bool { return r.count() > before })
		settled("the probe to fail")
		if probes := r.count() - before; probes != 1 {
			t.Errorf("%d attempts after the open period, want exactly 1 probe", probes)
		}
		if got := e.getEndpoint(t, ep.ID); got.CircuitOpenUntil == nil || !got.CircuitOpenUntil.After(clk.Now()) {
			t.Errorf("after a failed probe the circuit is open until %v, want after %v", got.CircuitOpenUntil, clk.Now())
		}
	})
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDeliveryErrorsKeepSecretsOut: an endpoint URL may carry a credential in its query
// or user info, and Go's HTTP client quotes the URL in its errors. Neither it nor the
// signing secret may reach a stored error, a dead letter, the test call's answer, the
// WebhookDeliveryFailed event or a log line.
func TestDeliveryErrorsKeepSecretsOut(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s := fastSettings()
		s.Retry, s.MaxAttempts = retry.Policy{}, 1
		e := newHookEnv(t, st, s, webhook.Options{})
		addr := closedAddr(t)
		const secret = "tok-SECRET-4242"
		byQuery := e.endpoint(t, "http://"+addr+"/hook?token="+secret+"&x=1")
		signingSecret, err := signing.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		// The API refuses user info in a URL; an endpoint stored before that rule may have it.
		now := time.Now().UTC()
		byUser, err := st.EndpointCreate(ctx, store.Endpoint{ID: "ep-userinfo", Name: "u", URL: "http://alice" + secret + ":" + secret + "@" + addr + "/hook",
			Secret: signingSecret, Events: []string{"*"}, IsActive: true, IsHealthy: true, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Wake()
		e.run(t)
		publishN(t, e.svc, 1)
		for _, ep := range []store.Endpoint{byQuery, byUser} {
			testkit.WaitFor(t, "the delivery to fail", func() bool {
				ds := e.deliveries(t, ep.ID)
				return len(ds) == 1 && ds[0].Status == store.DeliveryFailed
			})
		}
		tested, err := e.svc.TestEndpoint(ctx, byQuery.ID)
		if err != nil {
			t.Fatal(err)
		}
		texts := map[string]string{"test answer": tested.ErrorMessage, "logs": e.logs.String()}
		for _, ep := range []store.Endpoint{byQuery, byUser} {
			d := e.deliveries(t, ep.ID)[0]
			texts["stored error of "+ep.ID] = d.ErrorMessage
			if !strings.Contains(d.ErrorMessage, "refused") {
				t.Errorf("stored error %q does not say what happened", d.ErrorMessage)
			}
		}
		dead, _, err := e.svc.ListDeadLetters(ctx, store.DeliveryFilter{Page: store.Page{Page: 1, Limit: 100}})
		if err != nil || len(dead) < 2 {
			t.Fatalf("dead letters: %d, %v", len(dead), err)
		}
		for _, d := range dead {
			texts["dead letter "+d.ID] = d.ErrorMessage
		}
		for range 2 {
			select {
			case ev := <-e.events:
				texts["event "+fmt.Sprint(ev.Fields()["delivery_id"])] = string(ev.Data)
			case <-time.After(10 * time.Second):
				t.Fatal("no WebhookDeliveryFailed event")
			}
		}
		for what, text := range texts {
			for _, s := range []string{secret, byQuery.Secret, signingSecret} {
				if strings.Contains(text, s) {
					t.Errorf("%s holds a secret: %s", what, text)
				}
			}
		}
	})
}

// gauge reads the value of an unlabelled gauge from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// TestQueueGaugesAreCurrentWhenScraped: the queue gauges say what the store holds at
// the moment of the scrape, not at the last refresh.
func TestQueueGaugesAreCurrentWhenScraped(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		e := newHookEnv(t, st, fastSettings(), webhook.Options{})
		r := newReceiver(t)
		ep := e.endpoint(t, r.URL)
		publishN(t, e.svc, 5)
		if got := gauge(t, e.reg, "junction_webhook_queue_depth"); got != 5 {
			t.Errorf("queue depth %v with 5 deliveries waiting, want 5", got)
		}
		if got := gauge(t, e.reg, "junction_webhook_queue_due"); got != 5 {
			t.Errorf("queue due %v with 5 deliveries due, want 5", got)
		}
		e.run(t)
		testkit.WaitFor(t, "the deliveries", func() bool {
			for _, d := range e.deliveries(t, ep.ID) {
				if d.Status != store.DeliveryDelivered {
					return false
				}
			}
			return true
		})
		for _, name := range []string{"junction_webhook_queue_depth", "junction_webhook_queue_due", "junction_webhook_dead_letters", "junction_webhook_endpoint_circuits_open"} {
			if got := gauge(t, e.reg, name); got != 0 {
				t.Errorf("%s = %v after every delivery arrived, want 0", name, got)
			}
		}
	})
}

// TestIngestDuplicateAnswersTheStoredID: a provider's redelivery is answered with the id
// of the message stored the first time.
func TestIngestDuplicateAnswersTheStoredID(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		e := newHookEnv(t, st, fastSettings(), webhook.Options{})
		e.svc.SetSources(webhook.Sources{"github": &webhook.Source{
			Name: "github", Event: "github.{header:X-GitHub-Event}",
			Verifier: inbound.Verifier{Scheme: inbound.GitHub, Secrets: []string{"topsecret"}},
		}})
		body := []byte(`{"zen":"Design for failure."}`)
		h := http.Header{}
		h.Set("X-GitHub-Event", "ping")
		h.Set("X-GitHub-Delivery", "d-1")
		h.Set("X-Hub-Signature-256", "sha256="+hmacHex("topsecret", body))
		first, err := e.svc.Ingest(context.Background(), "github", webhook.Received{Header: h, Body: body})
		if err != nil || first.Duplicate {
			t.Fatalf("first: %+v %v", first, err)
		}
		again, err := e.svc.Ingest(context.Background(), "github", webhook.Received{Header: h, Body: body})
		if err != nil || !again.Duplicate || again.ID != first.ID || again.EventType != first.EventType {
			t.Errorf("redelivery answered %+v, %v; want duplicate with id %s", again, err, first.ID)
		}
	})
}

// TestWatchersSeeEveryAttempt: while someone watches the bus (`junction tail`), each
// recorded attempt is a DeliveryAttemptEvent, a test call's too; nobody else gets them.
func TestWatchersSeeEveryAttempt(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		s := fastSettings()
		e := newHookEnv(t, st, s, webhook.Options{})
		var calls atomic.Int32
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		t.Cleanup(receiver.Close)
		ep := e.endpoint(t, receiver.URL)
		w := e.bus.Watch(func(ev event.Event) bool { return ev.Type == webhook.DeliveryAttemptEvent }, 10)
		defer w.Stop()
		e.run(t)
		publishN(t, e.svc, 1)
		next := func() map[string]any {
			t.Helper()
			select {
			case ev := <-w.Events():
				return ev.Fields()
			case <-time.After(30 * time.Second):
				t.Fatal("no attempt event")
				return nil
			}
		}
		first, second := next(), next()
		if first["endpoint_id"] != ep.ID || first["event_type"] != "order.created" || fmt.Sprint(first["attempt"]) != "1" ||
			first["status"] != "retrying" || fmt.Sprint(first["response_status"]) != "503" || first["error"] == nil || first["next_attempt_at"] == nil {
			t.Errorf("first attempt: %v", first)
		}
		if second["delivery_id"] != first["delivery_id"] || fmt.Sprint(second["attempt"]) != "2" || second["status"] != "delivered" || second["error"] != nil {
			t.Errorf("second attempt: %v", second)
		}
		if _, err := e.svc.TestEndpoint(context.Background(), ep.ID); err != nil {
			t.Fatal(err)
		}
		if test := next(); test["event_type"] != "webhook.test" || test["status"] != "delivered" {
			t.Errorf("test call's attempt: %v", test)
		}
		select {
		case ev := <-e.events:
			t.Errorf("a subscriber got %s", ev.Type)
		default:
		}
	})
}
