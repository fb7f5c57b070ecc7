package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver is a local webhook receiver that records what it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	status   int // answer with this (200 unless set)
	gotEvent chan struct{}
}

type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{status: 200, gotEvent: make(chan struct{}, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{time.Now(), req.Header.Clone(), body})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, `{"received":true}`)
		r.gotEvent <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setStatus(s int) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

type env struct {
	svc    *webhook.Service
	store  store.Store
	events chan event.Event
}

// fastSettings deliver to loopback receivers with a short schedule.
func fastSettings() webhook.Settings {
	s := webhook.SettingsFrom(nil)
	s.AllowedNetworks = []string{"127.0.0.0/8"}
	s.Retry = retry.Policy{Delays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}}
	s.MaxAttempts = 3
	s.Timeout = 2 * time.Second
	return s
}

func newEnv(t *testing.T, s webhook.Settings, run bool) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	bus := event.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(bus.Close)
	e := &env{store: st, events: make(chan event.Event, 100)}
	bus.Subscribe(func(ev event.Event) bool { return ev.Type == webhook.WebhookDeliveryFailed }, func(ev event.Event) { e.events <- ev })
	m, err := webhook.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = webhook.New(st, s, webhook.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	if run {
		e.run(t)
	}
	return e
}

func (e *env) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func (e *env) endpoint(t *testing.T, url string, events ...string) store.Endpoint {
	t.Helper()
	ep, err := e.svc.CreateEndpoint(context.Background(), webhook.EndpointInput{Name: "ep", URL: url, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (e *env) delivery(t *testing.T, endpointID string) store.Delivery {
	t.Helper()
	ds, _, err := e.store.DeliveryList(context.Background(), store.DeliveryFilter{EndpointID: endpointID, Page: store.Page{Page: 1, Limit: 100}})
	if err != nil || len(ds) == 0 {
		t.Fatalf("deliveries of %s: %v %d", endpointID, err, len(ds))
	}
	return ds[0]
}

func TestPublishFansOutSignsAndDelivers(t *testing.T) {
	e := newEnv(t, fastSettings(), true)
	exact, wild, other := newReceiver(t), newReceiver(t), newReceiver(t)
	epExact := e.endpoint(t, exact.URL+"/hooks", "order.created", "order.shipped")
	epWild := e.endpoint(t, wild.URL, "order.*")
	e.endpoint(t, other.URL, "invoice.paid")
	if !strings.HasPrefix(epExact.Secret, "whsec_") {
		t.Fatalf("generated secret %q", epExact.Secret)
	}

	res, err := e.svc.Publish(context.Background(), event.Event{ID: "evt_1", Type: "order.created", Data: json.RawMessage(`{"order_id":42}`)})
	if err != nil || res.Deliveries != 2 || res.Duplicate {
		t.Fatalf("publish: %+v %v", res, err)
	}
	testkit.WaitFor(t, "both deliveries", func() bool { return len(exact.all()) == 1 && len(wild.all()) == 1 })
	got := exact.all()[0]
	var body map[string]any
	if err := json.Unmarshal(got.body, &body); err != nil || body["type"] != "order.created" || body["id"] != "evt_1" || body["data"].(map[string]any)["order_id"] != float64(42) {
		t.Errorf("body %s", got.body)
	}
	if err := signing.Verify(got.header, got.body, time.Now(), time.Minute, epExact.Secret); err != nil {
		t.Errorf("signature: %v (headers %v)", err, got.header)
	}
	testkit.WaitFor(t, "delivered status", func() bool { return e.delivery(t, epExact.ID).Status == store.DeliveryDelivered })
	d := e.delivery(t, epExact.ID)
	if got.header.Get("webhook-id") != d.ID || d.AttemptCount != 1 || d.ResponseStatusCode == nil || *d.ResponseStatusCode != 200 || d.DeliveredAt == nil {
		t.Errorf("delivery record %+v", d)
	}
	if len(other.all()) != 0 {
		t.Error("an endpoint not subscribed got the event")
	}
	// The same event id again: nothing new.
	res, err = e.svc.Publish(context.Background(), event.Event{ID: "evt_1", Type: "order.created", Data: json.RawMessage(`{}`)})
	if err != nil || !res.Duplicate || res.Deliveries != 2 {
		t.Errorf("republish: %+v %v", res, err)
	}
	time.Sleep(100 * time.Millisecond)
	if len(exact.all()) != 1 {
		t.Error("a duplicate event was delivered again")
	}
	if ep, _ := e.svc.GetEndpoint(context.Background(), epWild.ID); ep.LastDeliveryAt == nil || !ep.IsHealthy {
		t.Errorf("endpoint health %+v", ep)
	}
}

func TestScheduleDeadLetterAndReplay(t *testing.T) {
	e := newEnv(t, fastSettings(), true)
	r := newReceiver(t)
	r.setStatus(503)
	ep := e.endpoint(t, r.URL, "order.created")
	if _, err := e.svc.Publish(context.Background(), event.Event{Type: "order.created", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the delivery to fail for good", func() bool { return e.delivery(t, ep.ID).Status == store.DeliveryFailed })
	got := r.all()
	if len(got) != 3 {
		t.Fatalf("receiver saw %d attempts, want 3 (1 + retry_delays [50ms 100ms])", len(got))
	}
	for i, want := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond} {
		if gap := got[i+1].at.Sub(got[i].at); gap < want {
			t.Errorf("attempt %d came %v after the previous one, before the scheduled %v", i+2, gap, want)
		}
	}
	id := got[0].header.Get("webhook-id")
	for _, g := range got {
		if g.header.Get("webhook-id") != id {
			t.Error("webhook-id differs between attempts of one message")
		}
	}
	d := e.delivery(t, ep.ID)
	if d.AttemptCount != 3 || d.DeadLetteredAt == nil || d.ErrorMessage == "" || *d.ResponseStatusCode != 503 {
		t.Errorf("failed delivery %+v", d)
	}
	select {
	case ev := <-e.events:
		if f := ev.Fields(); f["delivery_id"] != d.ID || f["endpoint_id"] != ep.ID || f["event_type"] != "order.created" || f["error"] == "" {
			t.Errorf("WebhookDeliveryFailed = %+v", ev)
		}
		// Stored too, for flows' events sources, which read the store.
		if stored, err := e.store.EventGet(context.Background(), ev.ID); err != nil || stored.Type != webhook.WebhookDeliveryFailed || string(stored.Data) != string(ev.Data) {
			t.Errorf("WebhookDeliveryFailed in the store = %+v, %v", stored, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no WebhookDeliveryFailed published")
	}
	dl, total, err := e.svc.ListDeadLetters(context.Background(), store.DeliveryFilter{Page: store.Page{Page: 1, Limit: 10}})
	if err != nil || total != 1 || dl[0].ID != d.ID {
		t.Fatalf("dead letters: %d %v", total, err)
	}
	if ep, _ := e.svc.GetEndpoint(context.Background(), ep.ID); ep.ConsecutiveFailures != 3 || ep.LastFailureAt == nil {
		t.Errorf("endpoint after failures %+v", ep)
	}

	// The receiver recovers; replay delivers it.
	r.setStatus(200)
	if _, err := e.svc.Retry(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the replayed delivery", func() bool { return e.delivery(t, ep.ID).Status == store.DeliveryDelivered })
	if _, total, _ := e.svc.ListDeadLetters(context.Background(), store.DeliveryFilter{Page: store.Page{Page: 1, Limit: 10}}); total != 0 {
		t.Errorf("%d dead letters after replay", total)
	}
}

func TestEndpointCircuitBreakerMakesDeliveriesWait(t *testing.T) {
	s := fastSettings()
	s.BreakerThreshold, s.BreakerResetAfter = 2, 300*time.Millisecond
	s.Retry = retry.Policy{Delays: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}}
	s.MaxAttempts, s.PerEndpointConcurrency = 5, 1
	e := newEnv(t, s, true)
	r := newReceiver(t)
	r.setStatus(500)
	ep := e.endpoint(t, r.URL, "*")
	if _, err := e.svc.Publish(context.Background(), event.Event{Type: "a.b", Data: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the circuit to open", func() bool {
		ep, _ := e.svc.GetEndpoint(context.Background(), ep.ID)
		return ep.CircuitOpenUntil != nil
	})
	opened, _ := e.svc.GetEndpoint(context.Background(), ep.ID)
	if opened.IsHealthy || opened.ConsecutiveFailures != 2 {
		t.Errorf("endpoint when opened: %+v", opened)
	}
	time.Sleep(150 * time.Millisecond) // within reset_after: no attempts are used up
	if n := len(r.all()); n != 2 {
		t.Errorf("%d attempts while the circuit was open, want the 2 that opened it", n)
	}
	r.setStatus(200)
	testkit.WaitFor(t, "the probe after reset_after to deliver", func() bool { return e.delivery(t, ep.ID).Status == store.DeliveryDelivered })
	closed, _ := e.svc.GetEndpoint(context.Background(), ep.ID)
	if !closed.IsHealthy || closed.ConsecutiveFailures != 0 || closed.CircuitOpenUntil != nil {
		t.Errorf("endpoint after the probe: %+v", closed)
	}
	if d := e.delivery(t, ep.ID); d.AttemptCount != 3 {
		t.Errorf("attempts %d, want 2 failures + 1 probe", d.AttemptCount)
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	e := newEnv(t, fastSettings(), true)
	r := newReceiver(t)
	r.setStatus(410)
	ep := e.endpoint(t, r.URL, "*")
	e.svc.Publish(context.Background(), event.Event{Type: "x", Data: json.RawMessage(`1`)})
	testkit.WaitFor(t, "the endpoint to be disabled", func() bool {
		ep, _ := e.svc.GetEndpoint(context.Background(), ep.ID)
		return !ep.IsActive
	})
	got, _ := e.svc.GetEndpoint(context.Background(), ep.ID)
	if !strings.Contains(got.DisabledReason, "410") || len(r.all()) != 1 {
		t.Errorf("after 410: %+v, %d attempts", got, len(r.all()))
	}
	if res, _ := e.svc.Publish(context.Background(), event.Event{Type: "x", Data: json.RawMessage(`2`)}); res.Deliveries != 0 {
		t.Error("a disabled endpoint still gets deliveries")
	}
}

func TestPrivateAddressesNeedTheAllowList(t *testing.T) {
	s := fastSettings()
	s.AllowedNetworks = nil
	s.Retry, s.MaxAttempts = retry.Policy{}, 1
	e := newEnv(t, s, true)
	r := newReceiver(t)
	if _, err := e.svc.CreateEndpoint(context.Background(), webhook.EndpointInput{Name: "ep", URL: r.URL, Events: []string{"*"}}); err == nil || !strings.Contains(err.Error(), "allowed_networks") {
		t.Errorf("registering loopback without allow-list: %v", err)
	}
	// One stored before registration checked, or whose name resolved elsewhere then, is
	// refused when its deliveries connect.
	now := time.Now().UTC()
	ep, err := e.store.EndpointCreate(context.Background(), store.Endpoint{ID: "ep-loopback", Name: "ep", URL: r.URL, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Events: []string{"*"}, IsActive: true, IsHealthy: true, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Publish(context.Background(), event.Event{Type: "x", Data: json.RawMessage(`1`)})
	testkit.WaitFor(t, "the delivery to fail", func() bool { return e.delivery(t, ep.ID).Status == store.DeliveryFailed })
	if d := e.delivery(t, ep.ID); !strings.Contains(d.ErrorMessage, "not allowed") || !strings.Contains(d.ErrorMessage, "allowed_networks") || len(r.all()) != 0 {
		t.Errorf("loopback without allow-list: %q, receiver got %d", d.ErrorMessage, len(r.all()))
	}
	if _, err := e.svc.CreateEndpoint(context.Background(), webhook.EndpointInput{Name: "x", URL: "ftp://example.com", Events: []string{"*"}}); err == nil {
		t.Error("an ftp URL was accepted")
	}
}

func TestTestEndpointAnswersAfterFirstAttempt(t *testing.T) {
	e := newEnv(t, fastSettings(), false) // no workers: the call itself attempts
	r := newReceiver(t)
	ep := e.endpoint(t, r.URL, "order.created")
	d, err := e.svc.TestEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.DeliveryDelivered || d.EventType != "webhook.test" || d.ResponseStatusCode == nil || *d.ResponseStatusCode != 200 || d.DurationMs == nil {
		t.Errorf("test delivery %+v", d)
	}
	if len(r.all()) != 1 || !strings.Contains(string(r.all()[0].body), `"webhook.test"`) {
		t.Errorf("receiver got %d", len(r.all()))
	}
	if _, err := e.svc.TestEndpoint(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown endpoint: %v", err)
	}
}

func TestSecretRotationSignsWithBoth(t *testing.T) {
	e := newEnv(t, fastSettings(), false)
	r := newReceiver(t)
	ep := e.endpoint(t, r.URL, "*")
	rotated, err := e.svc.RotateSecret(context.Background(), ep.ID)
	if err != nil || rotated.Secret == ep.Secret || rotated.PreviousSecret != ep.Secret || rotated.PreviousSecretUntil == nil {
		t.Fatalf("rotate: %+v %v", rotated, err)
	}
	if _, err := e.svc.TestEndpoint(context.Background(), ep.ID); err != nil {
		t.Fatal(err)
	}
	got := r.all()[0]
	if n := len(strings.Fields(got.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during the overlap, want 2", n)
	}
	for _, secret := range []string{ep.Secret, rotated.Secret} {
		if err := signing.Verify(got.header, got.body, time.Now(), time.Minute, secret); err != nil {
			t.Errorf("a receiver with one of the secrets cannot verify: %v", err)
		}
	}
}

func TestPublishValidation(t *testing.T) {
	s := fastSettings()
	s.MaxPayloadBytes = 100
	e := newEnv(t, s, false)
	var v *webhook.ValidationError
	if _, err := e.svc.Publish(context.Background(), event.Event{Type: "bad type!", Data: json.RawMessage(`{`)}); !errors.As(err, &v) || v.Fields["type"] == "" || v.Fields["data"] == "" {
		t.Errorf("invalid event: %v", err)
	}
	big := json.RawMessage(`"` + strings.Repeat("x", 200) + `"`)
	if _, err := e.svc.Publish(context.Background(), event.Event{Type: "a", Data: big}); !errors.Is(err, webhook.ErrPayloadTooLarge) {
		t.Errorf("oversized event: %v", err)
	}
}

func TestIngestVerifiesStoresDeduplicates(t *testing.T) {
	e := newEnv(t, fastSettings(), false)
	bus := event.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer bus.Close()
	e.svc.SetSources(webhook.Sources{"github": &webhook.Source{
		Name: "github", Event: "github.{header:X-GitHub-Event}",
		Verifier: inbound.Verifier{Scheme: inbound.GitHub, Secrets: []string{"topsecret"}},
	}})
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	h := http.Header{}
	h.Set("X-GitHub-Event", "ping")
	h.Set("X-GitHub-Delivery", "d-1")
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex("topsecret", body))
	res, err := e.svc.Ingest(context.Background(), "github", webhook.Received{Header: h, Body: body})
	if err != nil || res.Duplicate || res.EventType != "github.ping" {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	// A received webhook that is not published is still stored as an event (under the
	// message's id), for flows' events sources, which read the store.
	if stored, err := e.store.EventGet(context.Background(), res.ID); err != nil || stored.Type != "github.ping" || stored.Source != event.SourceIngestPrefix+"github" {
		t.Errorf("received webhook in the store = %+v, %v", stored, err)
	}
	if res, err := e.svc.Ingest(context.Background(), "github", webhook.Received{Header: h, Body: body}); err != nil || !res.Duplicate {
		t.Errorf("second delivery of d-1: %+v %v", res, err)
	}
	h.Set("X-Hub-Signature-256", "sha256=00")
	if _, err := e.svc.Ingest(context.Background(), "github", webhook.Received{Header: h, Body: body}); !errors.Is(err, inbound.ErrSignature) {
		t.Errorf("bad signature: %v", err)
	}
	if _, err := e.svc.Ingest(context.Background(), "nope", webhook.Received{Header: h, Body: body}); !errors.Is(err, webhook.ErrUnknownSource) {
		t.Errorf("unknown source: %v", err)
	}
}

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestSettingsFromWebhookBlock(t *testing.T) {
	cfg, diags := config.Decode("t.cai", []byte(`integration H {
  type: webhook
  circuit_breaker: { threshold: 4 failures in 2m, reset_after: 30s, half_open_probes: 2 }
}`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	s := webhook.SettingsFrom(cfg)
	if s.BreakerThreshold != 4 || s.BreakerWindow != 2*time.Minute || s.BreakerResetAfter != 30*time.Second || s.BreakerProbes != 2 {
		t.Errorf("breaker settings %d in %v, open %v, %d probes", s.BreakerThreshold, s.BreakerWindow, s.BreakerResetAfter, s.BreakerProbes)
	}
	cfg, _ = config.Decode("t.cai", []byte(`integration H { type: webhook circuit_breaker: { threshold: 3 consecutive failures } }`))
	s = webhook.SettingsFrom(cfg)
	if s.BreakerThreshold != 3 || s.BreakerWindow != 0 || s.BreakerResetAfter != webhook.BreakerResetAfterDefault || s.BreakerProbes != 1 {
		t.Errorf("consecutive breaker settings %d in %v, open %v, %d probes", s.BreakerThreshold, s.BreakerWindow, s.BreakerResetAfter, s.BreakerProbes)
	}
	if d := webhook.SettingsFrom(nil); d.BreakerThreshold != 5 || d.BreakerWindow != 0 || d.BreakerProbes != 1 {
		t.Errorf("default breaker settings %+v", d)
	}
}

// TestSettingsFromDeliveryModel: the settings come from the configuration's delivery
// model (config.WebhookDelivery), and their schedule is the one retry's: the text that
// writes a retry anywhere writes the same waits here.
func TestSettingsFromDeliveryModel(t *testing.T) {
	s := webhook.SettingsFrom(&config.Config{WebhookDelivery: &config.WebhookDelivery{Workers: 3, SuccessCodes: []int{200}}})
	if s.Workers != 3 || len(s.SuccessCodes) != 1 || s.MaxAttempts != 6 {
		t.Errorf("settings from the model: workers %d, success codes %v, %d attempts", s.Workers, s.SuccessCodes, s.MaxAttempts)
	}

	for _, c := range []struct {
		block string
		waits []time.Duration
	}{
		{"", []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 8 * time.Hour}},
		{"retry: 3 times with constant_backoff(250ms)", []time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{"retry_delays: [100ms, 2s]", []time.Duration{100 * time.Millisecond, 2 * time.Second}},
		{"retry: 5 times with exponential_backoff\n retry_delays: [1m, 5m, 30m, 2h, 8h]", []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 8 * time.Hour}},
		{"retry: 2 times with exponential_backoff(10s, multiplier 3)", nil}, // jittered: checked below
	} {
		cfg, diags := config.Decode("t.cai", []byte("integration WebhookDeliveryService {\n type: webhook\n "+c.block+"\n}\n"))
		if diags.HasErrors() {
			t.Fatal(diags.Err())
		}
		s := webhook.SettingsFrom(cfg)
		if c.waits == nil {
			if s.MaxAttempts != 3 || s.Retry.Initial != 10*time.Second || s.Retry.Multiplier != 3 || s.Retry.Max != 8*time.Hour {
				t.Errorf("%q: %d attempts, policy %+v", c.block, s.MaxAttempts, s.Retry)
			}
			continue
		}
		var got []time.Duration
		for n := 2; n <= s.MaxAttempts; n++ {
			got = append(got, s.Retry.DelayBefore(n))
		}
		if !slices.Equal(got, c.waits) {
			t.Errorf("%q: waits %v, want %v", c.block, got, c.waits)
		}
	}
}
