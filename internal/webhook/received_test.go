package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
)

// Issue 12, item 5: received webhooks are listed, refusals are kept, and a source with
// publish: true turns each new message into a webhook event.

// githubSource is a source "github" verified with the secret "topsecret".
func githubSource(publish bool) webhook.Sources {
	return webhook.Sources{"github": &webhook.Source{
		Name: "github", Event: "github.{header:X-GitHub-Event}", Publish: publish,
		Verifier: inbound.Verifier{Scheme: inbound.GitHub, Secrets: []string{"topsecret"}},
	}}
}

// signed is a GitHub delivery of body, signed with "topsecret".
func signed(delivery, eventType, body string) webhook.Received {
	h := http.Header{}
	h.Set("X-GitHub-Event", eventType)
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex("topsecret", []byte(body)))
	h.Set("Content-Type", "application/json")
	return webhook.Received{Header: h, Body: []byte(body), RemoteAddr: "192.0.2.7:4711", ContentLength: int64(len(body))}
}

// failingPublish fails the next `failures` publications as an unavailable store would.
type failingPublish struct {
	store.Store
	failures atomic.Int64
}

func (f *failingPublish) EventPublish(ctx context.Context, e event.Event, ds []store.Delivery, xs ...store.HandlerExecution) (bool, int, error) {
	if f.failures.Add(-1) >= 0 {
		return false, 0, fmt.Errorf("publish %s: %w", e.ID, store.ErrUnavailable)
	}
	return f.Store.EventPublish(ctx, e, ds, xs...)
}

// tickClock moves a millisecond forward each time it is read, so that what the tests
// ingest one after the other is ordered by time.
type tickClock struct {
	clock.Real
	mu  sync.Mutex
	now time.Time
}

func (c *tickClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

// newTickEnv is a webhook service on a fresh SQLite store, on a tickClock.
func newTickEnv(t *testing.T, s webhook.Settings) *hookEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	migrate(t, st)
	return newHookEnv(t, st, s, webhook.Options{Clock: &tickClock{now: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}})
}

func slogTo(b *testkit.SyncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// TestIngestPublish: with publish: true a new message is a webhook event delivered to an
// endpoint subscribed to "*" (data: the payload), exactly once however often the
// provider sends it; a publication that failed is answered with an unavailable error
// and made by the provider's redelivery, which the deduplication does not swallow.
func TestIngestPublish(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		failing := &failingPublish{Store: st}
		e := newHookEnv(t, failing, fastSettings(), webhook.Options{})
		e.svc.SetSources(githubSource(true))
		var (
			mu     sync.Mutex
			onBus  []event.Event
			ctx    = context.Background()
			rcv    = newReceiver(t)
			ep     = e.endpoint(t, rcv.URL)
			bodyOf = func(r received) map[string]any {
				var m map[string]any
				if err := json.Unmarshal(r.body, &m); err != nil {
					t.Fatalf("delivery body %s: %v", r.body, err)
				}
				return m
			}
		)
		e.bus.Subscribe(func(ev event.Event) bool { return strings.HasPrefix(ev.Type, "github.") }, func(ev event.Event) {
			mu.Lock()
			onBus = append(onBus, ev)
			mu.Unlock()
		})
		e.run(t)

		res, err := e.svc.Ingest(ctx, "github", signed("d-1", "push", `{"ref":"refs/heads/main"}`))
		if err != nil || res.Duplicate || res.EventID != webhook.InboundEventID(res.ID) {
			t.Fatalf("ingest: %+v %v; want a new message published as %s", res, err, webhook.InboundEventID(res.ID))
		}
		testkit.WaitFor(t, "the delivery of the published message", func() bool { return len(rcv.all()) == 1 })
		got := bodyOf(rcv.all()[0])
		if got["id"] != res.EventID || got["type"] != "github.push" || fmt.Sprint(got["data"]) != "map[ref:refs/heads/main]" {
			t.Errorf("delivered %s; want id %s, type github.push, data the payload", rcv.all()[0].body, res.EventID)
		}
		// The redelivery is a duplicate: nothing new is published.
		again, err := e.svc.Ingest(ctx, "github", signed("d-1", "push", `{"ref":"refs/heads/main"}`))
		if err != nil || !again.Duplicate || again.ID != res.ID || again.EventID != res.EventID {
			t.Errorf("redelivery: %+v %v; want a duplicate of %+v", again, err, res)
		}

		// The store fails the publication: the provider is answered "unavailable" (503)
		// and the message is kept; its redelivery publishes it.
		failing.failures.Store(1)
		form := "payload=%7B%7D"
		in := signed("d-2", "ping", form)
		in.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, err = e.svc.Ingest(ctx, "github", in)
		if !errors.Is(err, webhook.ErrNotPublished) || !errors.Is(err, errkind.ErrUnavailable) {
			t.Fatalf("ingest while publishing fails: err = %v, want ErrNotPublished (unavailable)", err)
		}
		stored, err := st.InboundGet(ctx, "github", "d-2")
		if err != nil {
			t.Fatalf("the message whose publication failed is not stored: %v", err)
		}
		if _, err := st.EventGet(ctx, webhook.InboundEventID(stored.ID)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the failed publication stored its event: %v", err)
		}
		retry, err := e.svc.Ingest(ctx, "github", in)
		if err != nil || !retry.Duplicate || retry.ID != stored.ID || retry.EventID != webhook.InboundEventID(stored.ID) {
			t.Fatalf("redelivery after a failed publication: %+v %v; want the duplicate published", retry, err)
		}
		testkit.WaitFor(t, "the delivery of the redelivered message", func() bool { return len(rcv.all()) == 2 })
		if got := bodyOf(rcv.all()[1]); got["id"] != retry.EventID || got["data"] != form {
			t.Errorf("delivered %s; want id %s and the form body as a JSON string", rcv.all()[1].body, retry.EventID)
		}
		if _, err := e.svc.Ingest(ctx, "github", in); err != nil {
			t.Fatal(err)
		}
		ds, total, err := st.DeliveryList(ctx, store.DeliveryFilter{EndpointID: ep.ID, Page: store.Page{Page: 1, Limit: 10}})
		if err != nil || total != 2 {
			t.Errorf("deliveries = %d (%v), want one per message however often it came", total, err)
		}
		for _, d := range ds {
			if !strings.HasPrefix(d.EventID, "ingest_") {
				t.Errorf("delivery of event %s, want ingest_…", d.EventID)
			}
		}
		// The bus saw each message once: as the published event, from the source.
		testkit.WaitFor(t, "both events on the bus", func() bool { mu.Lock(); defer mu.Unlock(); return len(onBus) >= 2 })
		mu.Lock()
		defer mu.Unlock()
		if len(onBus) != 2 || onBus[0].ID != res.EventID || onBus[0].Source != "ingest:github" || string(onBus[0].Data) != `{"ref":"refs/heads/main"}` {
			t.Errorf("bus events = %+v; want each published event once, data the payload", onBus)
		}
	})
}

// TestIngestPublishRefusesWhatCannotBePublished: a message whose event could never be
// published (its type, its size) is refused before it is stored, or the provider's
// retries would fail the same way forever.
func TestIngestPublishRefusesWhatCannotBePublished(t *testing.T) {
	s := fastSettings()
	s.MaxPayloadBytes = 64
	e := newTickEnv(t, s)
	e.svc.SetSources(githubSource(true))
	var v *webhook.ValidationError
	if _, err := e.svc.Ingest(context.Background(), "github", signed("d-1", "..", `{}`)); !errors.As(err, &v) || v.Fields["event_type"] == "" {
		t.Errorf("a message whose event type is github...: err = %v, want a validation error naming event_type", err)
	}
	if _, err := e.svc.Ingest(context.Background(), "github", signed("d-2", "push", `"`+strings.Repeat("x", 100)+`"`)); !errors.Is(err, webhook.ErrPayloadTooLarge) {
		t.Errorf("a message over max_payload_bytes: err = %v, want ErrPayloadTooLarge", err)
	}
	for _, d := range []string{"d-1", "d-2"} {
		if _, err := e.store.Store.InboundGet(context.Background(), "github", d); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refused message %s was stored: %v", d, err)
		}
	}
	if rs, _ := e.svc.ListRejections("github", 100); len(rs) != 2 {
		t.Errorf("rejections = %+v, want both refusals", rs)
	}
}

// TestIngestRejections: refusals are kept per source, newest first, at most
// RejectionsKept, with why, who and how much, and never the secret or the signature.
func TestIngestRejections(t *testing.T) {
	e := newTickEnv(t, fastSettings())
	sources := githubSource(false)
	sources["broken"] = &webhook.Source{Name: "broken", Event: "broken.received", Misconfigured: "secret: BROKEN_SECRET is not set",
		Verifier: inbound.Verifier{Scheme: inbound.HMAC, Header: "X-Signature"}}
	e.svc.SetSources(sources)
	ctx := context.Background()

	forged := signed("d-1", "push", `{"a":1}`)
	goodSig := forged.Header.Get("X-Hub-Signature-256")
	forged.Body = []byte(`{"a":2}`)
	if _, err := e.svc.Ingest(ctx, "github", forged); !errors.Is(err, inbound.ErrSignature) {
		t.Fatalf("forged: %v", err)
	}
	notUTF8 := signed("d-2", "push", "caf\xe9")
	if _, err := e.svc.Ingest(ctx, "github", notUTF8); err == nil {
		t.Fatal("a body that is not UTF-8 was accepted")
	}
	if _, err := e.svc.Ingest(ctx, "github", webhook.Received{Header: http.Header{}, TooLarge: true, RemoteAddr: "192.0.2.8:1", ContentLength: -1}); !errors.Is(err, webhook.ErrPayloadTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := e.svc.Ingest(ctx, "broken", signed("d-3", "push", `{}`)); !errors.Is(err, webhook.ErrSourceMisconfigure) {
		t.Fatalf("misconfigured: %v", err)
	}
	if _, err := e.svc.Ingest(ctx, "elsewhere", signed("d-4", "push", `{}`)); !errors.Is(err, webhook.ErrUnknownSource) {
		t.Fatalf("unknown source: %v", err)
	}

	rs, err := e.svc.ListRejections("github", 100)
	if err != nil || len(rs) != 3 {
		t.Fatalf("github's rejections = %+v, %v; want 3", rs, err)
	}
	for i, want := range []string{"larger than 1048576 bytes", "body: not valid UTF-8", "X-Hub-Signature-256 does not match"} {
		if !strings.Contains(rs[i].Reason, want) {
			t.Errorf("rejection %d (newest first): reason %q, want it to say %q", i, rs[i].Reason, want)
		}
	}
	if rs[2].RemoteAddr != "192.0.2.7:4711" || rs[2].ContentLength != 7 || rs[2].Source != "github" || rs[2].At.IsZero() {
		t.Errorf("forged message's rejection = %+v; want its sender, length and time", rs[2])
	}
	if rs[0].ContentLength != -1 {
		t.Errorf("rejection without a Content-Length = %d, want -1", rs[0].ContentLength)
	}
	all, _ := e.svc.ListRejections("", 100)
	if len(all) != 4 || all[0].Source != "broken" || !strings.Contains(all[0].Reason, "BROKEN_SECRET is not set") {
		t.Errorf("every source's rejections = %+v; want 4, the misconfigured source's first", all)
	}
	if _, err := e.svc.ListRejections("elsewhere", 10); !errors.Is(err, webhook.ErrUnknownSource) || !strings.Contains(err.Error(), "broken, github") {
		t.Errorf("rejections of an unknown source: %v; want ErrUnknownSource naming broken, github", err)
	}

	// A secret or a signature quoted by a reason is masked.
	leaky := &webhook.Source{Name: "leaky", Event: "leaky.x",
		Verifier: inbound.Verifier{Scheme: inbound.HMAC, Header: "X-Signature", Secrets: []string{"topsecret"}}}
	e.svc.SetSources(webhook.Sources{"github": sources["github"], "leaky": leaky})
	h := http.Header{}
	h.Set("X-Signature", "sha256="+strings.Repeat("ab", 32))
	e.svc.Ingest(ctx, "leaky", webhook.Received{Header: h, Body: []byte(`{}`)})
	leaks, _ := e.svc.ListRejections("leaky", 10)
	if len(leaks) != 1 {
		t.Errorf("leaky's rejections = %+v, want 1", leaks)
	}
	all = append(all, leaks...)
	if rs, _ := e.svc.ListRejections("broken", 10); rs != nil {
		t.Errorf("a source no longer configured kept its rejections: %+v", rs)
	}

	// Only the last RejectionsKept are kept.
	for i := range webhook.RejectionsKept + 5 {
		in := signed(fmt.Sprint("f-", i), "push", `{}`)
		in.Header.Set("X-Hub-Signature-256", goodSig)
		e.svc.Ingest(ctx, "github", in)
	}
	rs, _ = e.svc.ListRejections("github", 1000)
	if len(rs) != webhook.RejectionsKept {
		t.Errorf("%d rejections kept, want %d", len(rs), webhook.RejectionsKept)
	}
	for _, r := range append(rs, all...) {
		for _, leak := range []string{"topsecret", goodSig[len("sha256="):], strings.Repeat("ab", 32)} {
			if strings.Contains(r.Reason, leak) {
				t.Errorf("rejection reason %q holds %q", r.Reason, leak)
			}
		}
	}
}

// TestListInbound: stored messages newest first, with the scheme that verified them;
// an unknown source names the configured ones, an unknown cursor names "before".
func TestListInbound(t *testing.T) {
	e := newTickEnv(t, fastSettings())
	e.svc.SetSources(githubSource(false))
	ctx := context.Background()
	var ids []string
	for i, body := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		res, err := e.svc.Ingest(ctx, "github", signed(fmt.Sprint("d-", i), "push", body))
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{res.ID}, ids...)
	}
	ms, err := e.svc.ListInbound(ctx, store.InboundFilter{Source: "github", Limit: 2})
	if err != nil || len(ms) != 2 || ms[0].ID != ids[0] || ms[1].ID != ids[1] {
		t.Fatalf("first page: %+v %v; want %v", ms, err, ids[:2])
	}
	if ms[0].Verification != "github" || string(ms[0].Payload) != `{"n":3}` || !strings.Contains(string(ms[0].Headers), "X-Github-Event") {
		t.Errorf("listed message %+v", ms[0])
	}
	// Signatures are not shown: a GitHub one does not cover the delivery id, so it
	// would let a reader post the body again as a new delivery.
	sources := githubSource(false)
	sources["partner"] = &webhook.Source{Name: "partner", Event: "partner.x",
		Verifier: inbound.Verifier{Scheme: inbound.HMAC, Header: "X-Partner-Sig", Secrets: []string{"topsecret"}}}
	e.svc.SetSources(sources)
	h := http.Header{}
	h.Set("X-Partner-Sig", "sha256="+hmacHex("topsecret", []byte(`{}`)))
	h.Set("X-Trace", "t-1")
	partner, err := e.svc.Ingest(ctx, "partner", webhook.Received{Header: h, Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	shown, err := e.svc.GetInbound(ctx, partner.ID)
	if err != nil || !strings.Contains(string(shown.Headers), "X-Trace") || strings.Contains(string(shown.Headers), "X-Partner-Sig") {
		t.Errorf("GetInbound headers %s (%v); want X-Trace without the hmac signature header", shown.Headers, err)
	}
	for _, m := range ms {
		if strings.Contains(string(m.Headers), "Signature") || strings.Contains(string(m.Headers), "sha256=") {
			t.Errorf("listed headers show the signature: %s", m.Headers)
		}
	}
	if ms, err := e.svc.ListInbound(ctx, store.InboundFilter{Source: "github", Before: ms[1].ID, Limit: 2}); err != nil || len(ms) != 1 || ms[0].ID != ids[2] {
		t.Errorf("second page: %+v %v; want %v", ms, err, ids[2:])
	}
	if m, err := e.svc.GetInbound(ctx, ids[1]); err != nil || string(m.Payload) != `{"n":2}` {
		t.Errorf("GetInbound: %+v %v", m, err)
	}
	if _, err := e.svc.ListInbound(ctx, store.InboundFilter{Source: "gitlab", Limit: 2}); !errors.Is(err, webhook.ErrUnknownSource) || !strings.Contains(err.Error(), "the configured sources are github") {
		t.Errorf("unknown source: %v", err)
	}
	var v *webhook.ValidationError
	if _, err := e.svc.ListInbound(ctx, store.InboundFilter{Before: "nope", Limit: 2}); !errors.As(err, &v) || v.Fields["before"] == "" {
		t.Errorf("unknown cursor: %v; want a validation error naming before", err)
	}
}

// TestNewSourcesWarnsOfMisconfiguredSources: a source that cannot verify is logged at
// warn when the sources are built (start and reload), with its name and why, never the
// secret; so is a secret the scheme refuses.
func TestNewSourcesWarnsOfMisconfiguredSources(t *testing.T) {
	cfg, diags := config.Decode("t.cai", []byte(`
source github { verify: github  secret: env(GH_SECRET)  publish: true }
source partner { verify: standard_webhooks  secret: env(PARTNER_SECRET) }
source fine { verify: hmac  secret: env(FINE_SECRET)  header: "X-Signature" }
`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	env := map[string]string{"PARTNER_SECRET": "not-a-whsec-secret-value", "FINE_SECRET": "fine-secret-value"}
	logs := &testkit.SyncBuffer{}
	sources := webhook.NewSources(cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil, slogTo(logs))
	if !sources["github"].Publish || sources["fine"].Misconfigured != "" {
		t.Errorf("sources = %+v", sources)
	}
	for name, want := range map[string]string{"github": "GH_SECRET is not set", "partner": `does not start with`} {
		if !strings.Contains(sources[name].Misconfigured, want) {
			t.Errorf("%s misconfigured = %q, want %q", name, sources[name].Misconfigured, want)
		}
		line := ""
		for l := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(l, "source="+name) {
				line = l
			}
		}
		if !strings.Contains(line, "level=WARN") || !strings.Contains(line, want) || strings.Count(logs.String(), "source="+name) != 1 {
			t.Errorf("%s: warning %q, want one warn line saying %q:\n%s", name, line, want, logs)
		}
	}
	if strings.Contains(logs.String(), "source=fine") || strings.Contains(logs.String(), "secret-value") {
		t.Errorf("the log names a source that works, or a secret:\n%s", logs)
	}
}
