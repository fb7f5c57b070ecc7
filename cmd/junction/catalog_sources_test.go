package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// TestCatalogWebhookSources serves the catalog's Stripe and GitHub webhook sources as
// the README declares them (`source NAME from catalog "…" {}`, secrets from
// STRIPE_WEBHOOK_SECRET and GITHUB_WEBHOOK_SECRET) and speaks to them as the providers
// do. The catalog's own tests only check the decoded verifier; this one fails when the
// entries stop reaching a running server: the scheme, the secret's variable, the event
// type template, the provider id used for duplicates, or the refusals.
func TestCatalogWebhookSources(t *testing.T) {
	t.Parallel()
	stripeSecret := "whsec_" + rand.Text()
	githubSecret := "gh_" + rand.Text()
	wrongSecret := "whsec_" + rand.Text()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sources.cai")
	writeFile(t, cfg, `source StripeEvents from catalog "stripe" {}
source Hooks from catalog "github" {}
`)
	env := []string{"STRIPE_WEBHOOK_SECRET=" + stripeSecret, "GITHUB_WEBHOOK_SECRET=" + githubSecret}
	user := userToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: user}
	secrets := []string{stripeSecret, githubSecret, wrongSecret}

	// Stripe: the event id is in the body and the type comes from its "type".
	stripeEvent := func(id string, amount int) []byte {
		return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":%d}}}`, id, amount)
	}
	evt := "evt_" + randomHex(8)
	body := stripeEvent(evt, 2000)
	signed := stripeHeader(body, stripeSecret, time.Now())
	first := wantIngested(t, s, "StripeEvents", signed, body, false)
	if first.EventType != "stripe.payment_intent.succeeded" {
		t.Errorf("Stripe event answered as type %q, want stripe.payment_intent.succeeded", first.EventType)
	}
	stored := wantInbound(t, a, "StripeEvents", 1)[0]
	wantMessage(t, stored, first.ID, "StripeEvents", evt, "stripe.payment_intent.succeeded", "stripe", body)
	wantNoSignature(t, stored, "Stripe-Signature", signatureOf(signed))

	// GitHub: the delivery id and the event type are headers.
	delivery := uuidString()
	ghBody := []byte(`{"zen":"Keep it logically awesome.","hook_id":12345678,"ref":"refs/heads/main"}`)
	ghHeader := githubHeader(ghBody, githubSecret, delivery, "push")
	ghFirst := wantIngested(t, s, "Hooks", ghHeader, ghBody, false)
	if ghFirst.EventType != "github.push" {
		t.Errorf("GitHub delivery answered as type %q, want github.push", ghFirst.EventType)
	}
	ghStored := wantInbound(t, a, "Hooks", 1)[0]
	wantMessage(t, ghStored, ghFirst.ID, "Hooks", delivery, "github.push", "github", ghBody)
	wantNoSignature(t, ghStored, "X-Hub-Signature-256", signatureOf(ghHeader))
	if h, _ := ghStored["headers"].(map[string]any); headerValue(h, "X-GitHub-Event") != "push" || headerValue(h, "X-GitHub-Delivery") != delivery {
		t.Errorf("stored GitHub headers %v: X-GitHub-Event and X-GitHub-Delivery are not kept", h)
	}

	// The same delivery again is a duplicate, answered with the first message's id and
	// stored once: sent as it was, and for Stripe also re-signed later, as Stripe's
	// retries are.
	for _, again := range []struct {
		source string
		header http.Header
		body   []byte
		first  ingestAnswer
	}{
		{"StripeEvents", signed, body, first},
		{"StripeEvents", stripeHeader(body, stripeSecret, time.Now().Add(time.Second)), body, first},
		{"Hooks", ghHeader, ghBody, ghFirst},
	} {
		got := wantIngested(t, s, again.source, again.header, again.body, true)
		if got.ID != again.first.ID || got.EventType != again.first.EventType {
			t.Errorf("%s duplicate answered %+v, want the first message's id and type %+v", again.source, got, again.first)
		}
	}
	wantInbound(t, a, "StripeEvents", 1)
	wantInbound(t, a, "Hooks", 1)

	// Refusals: 401 invalid-signature, nothing stored, neither a secret nor the signature
	// sent in the answer. Each
	// refused message but the changed body has a new provider id, so that storing it
	// would show in the list.
	changed := stripeEvent(evt, 1)
	ghChanged := []byte(strings.Replace(string(ghBody), "main", "evil", 1))
	lateEvt := stripeEvent("evt_"+randomHex(8), 2000)
	earlyEvt := stripeEvent("evt_"+randomHex(8), 2000)
	wrongEvt := stripeEvent("evt_"+randomHex(8), 2000)
	refusals := []struct {
		name, source string
		header       http.Header
		body         []byte
	}{
		{"Stripe changed body", "StripeEvents", signed, changed},
		{"Stripe wrong secret", "StripeEvents", stripeHeader(wrongEvt, wrongSecret, time.Now()), wrongEvt},
		// The catalog entry keeps Stripe's five minutes' tolerance.
		{"Stripe timestamp too old", "StripeEvents", stripeHeader(lateEvt, stripeSecret, time.Now().Add(-10*time.Minute)), lateEvt},
		{"Stripe timestamp too far ahead", "StripeEvents", stripeHeader(lateEvt, stripeSecret, time.Now().Add(10*time.Minute)), earlyEvt},
		{"GitHub changed body", "Hooks", ghHeader, ghChanged},
		{"GitHub wrong secret", "Hooks", githubHeader(ghBody, wrongSecret, uuidString(), "push"), ghBody},
	}
	for _, r := range refusals {
		resp, raw := postIngest(t, s, r.source, r.header, r.body)
		var p struct {
			Type   string
			Status int
		}
		_ = json.Unmarshal(raw, &p)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" ||
			p.Type != "https://junction.dev/problems/invalid-signature" || p.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s %s, want a 401 invalid-signature problem", r.name, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		for _, leak := range append(slices.Clone(secrets), signatureOf(r.header)) {
			if strings.Contains(string(raw), leak) {
				t.Errorf("%s: the answer holds a secret or the signature: %s", r.name, raw)
			}
		}
	}
	wantInbound(t, a, "StripeEvents", 1)
	wantInbound(t, a, "Hooks", 1)

	// Each refusal is listed for the source, without the secret or the signature.
	for source, n := range map[string]int{"StripeEvents": 4, "Hooks": 2} {
		out := a.expect(200, "GET", "/inbound/rejections?source="+source, nil)
		list, _ := out["data"].([]any)
		if len(list) != n {
			t.Errorf("GET /inbound/rejections?source=%s: %d refusals, want %d: %v", source, len(list), n, out)
		}
		raw, _ := json.Marshal(out)
		for _, leak := range slices.Concat(secrets, []string{signatureOf(signed), signatureOf(ghHeader)}) {
			if strings.Contains(string(raw), leak) {
				t.Errorf("GET /inbound/rejections?source=%s shows a secret or a signature: %s", source, raw)
			}
		}
	}
	for _, secret := range secrets {
		if strings.Contains(s.log(), secret) {
			t.Errorf("a secret reached the log:\n%s", s.log())
		}
	}
}

// stripeHeader is the Stripe-Signature Stripe sends with body at t, made by Stripe's
// own library so that the test does not share the verifier's reading of the format.
func stripeHeader(body []byte, secret string, t time.Time) http.Header {
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: t})
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	h.Set("Stripe-Signature", signed.Header)
	return h
}

// signatureOf is the hex digest a provider's header carries (Stripe's first v1, or
// GitHub's), which no answer or listing may show.
func signatureOf(h http.Header) string {
	if sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256="); ok {
		return sig
	}
	for item := range strings.SplitSeq(h.Get("Stripe-Signature"), ",") {
		if sig, ok := strings.CutPrefix(item, "v1="); ok {
			return sig
		}
	}
	panic("no provider signature in " + fmt.Sprint(h))
}

// githubHeader is what GitHub sends with a delivery: the event, the delivery's id and
// X-Hub-Signature-256, the hex HMAC-SHA256 of the body keyed with the secret as written.
func githubHeader(body []byte, secret, delivery, event string) http.Header {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/e2e")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

// postIngest posts body to /ingest/source with the provider's headers and no token,
// and checks the exchange against /openapi.json.
func postIngest(t *testing.T, s *process, source string, h http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/ingest/"+source, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /ingest/%s: %v", source, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	checkContract(t, s.base, http.MethodPost, "/ingest/"+source, body, resp, raw)
	return resp, raw
}

// wantIngested posts a delivery that must be accepted (202), as new or as a duplicate.
func wantIngested(t *testing.T, s *process, source string, h http.Header, body []byte, duplicate bool) ingestAnswer {
	t.Helper()
	resp, raw := postIngest(t, s, source, h, body)
	var got ingestAnswer
	if err := json.Unmarshal(raw, &got); err != nil || resp.StatusCode != http.StatusAccepted || got.ID == "" || got.Duplicate != duplicate {
		t.Fatalf("POST /ingest/%s: %d %s, want 202 with duplicate %v", source, resp.StatusCode, raw, duplicate)
	}
	return got
}

// ingestAnswer is the 202 answer of POST /ingest/{source}.
type ingestAnswer struct {
	ID        string `json:"id"`
	EventType string `json:"event_type"`
	Duplicate bool   `json:"duplicate"`
}

// wantInbound lists source's stored messages and fails unless there are n.
func wantInbound(t *testing.T, a api, source string, n int) []map[string]any {
	t.Helper()
	out := a.expect(200, "GET", "/inbound?source="+source, nil)
	list, _ := out["data"].([]any)
	if len(list) != n {
		t.Fatalf("GET /inbound?source=%s: %d messages, want %d: %v", source, len(list), n, out)
	}
	ms := make([]map[string]any, n)
	for i, m := range list {
		ms[i], _ = m.(map[string]any)
	}
	return ms
}

// wantMessage checks a listed message against what was sent and accepted.
func wantMessage(t *testing.T, m map[string]any, id, source, providerID, eventType, scheme string, body []byte) {
	t.Helper()
	var payload any
	if err := json.Unmarshal(body, &payload); err != nil {
		t.Fatal(err)
	}
	verification := map[string]any{"scheme": scheme, "outcome": "verified"}
	if m["id"] != id || m["source"] != source || m["provider_id"] != providerID || m["event_type"] != eventType ||
		!reflect.DeepEqual(m["verification"], verification) || !reflect.DeepEqual(m["payload"], payload) {
		t.Errorf("stored message %v, want id %s, source %s, provider_id %s, event_type %s, verification %v and the payload sent",
			m, id, source, providerID, eventType, verification)
	}
}

// wantNoSignature fails when a listed message shows the signature header or its digest.
func wantNoSignature(t *testing.T, m map[string]any, name, digest string) {
	t.Helper()
	raw, _ := json.Marshal(m)
	h, _ := m["headers"].(map[string]any)
	if headerValue(h, name) != "" || strings.Contains(string(raw), digest) {
		t.Errorf("the stored message shows its %s: %s", name, raw)
	}
}

// headerValue is a stored header's value, its name compared without case.
func headerValue(h map[string]any, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// randomHex is n random bytes in hex, for ids that no other run shares.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// uuidString is a random UUID, the form of GitHub's delivery ids.
func uuidString() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
