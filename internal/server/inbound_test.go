package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// Issue 12, item 5: what arrives at /ingest/{source} is listed (GET /inbound), refusals
// are listed without secrets (GET /inbound/rejections), and publish: true makes each new
// message a webhook event.

// ghSource is the source "gh": GitHub signatures with the secret "s3cret".
func ghSource(publish bool) webhook.Sources {
	return webhook.Sources{"gh": &webhook.Source{Name: "gh", Event: "github.{header:X-GitHub-Event}", Publish: publish,
		Verifier: inbound.Verifier{Scheme: inbound.GitHub, Secrets: []string{"s3cret"}}}}
}

// ghSignature is the X-Hub-Signature-256 of body with secret.
func ghSignature(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends body to path without a token, with the headers given as name, value, ….
func (h *hookServer) post(path, body string, header ...string) response {
	h.t.Helper()
	r, err := http.NewRequest("POST", h.ts.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := h.ts.Client().Do(r)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, b}
}

// ingestGH sends a GitHub "issues" delivery of body to /ingest/gh, signed with s3cret.
func (h *hookServer) ingestGH(delivery, body, contentType string) response {
	h.t.Helper()
	return h.post("/ingest/gh", body, "X-Hub-Signature-256", ghSignature("s3cret", body),
		"X-GitHub-Delivery", delivery, "X-GitHub-Event", "issues", "Content-Type", contentType)
}

// list decodes a list answer's data.
func list(t *testing.T, resp response) ([]map[string]any, any) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, resp.body)
	}
	var got struct {
		Data       []map[string]any `json:"data"`
		NextBefore any              `json:"next_before"`
	}
	if err := json.Unmarshal(resp.body, &got); err != nil {
		t.Fatalf("%s: %v", resp.body, err)
	}
	return got.Data, got.NextBefore
}

func TestInboundListing(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		h := newHookServer(t, st, webhook.SettingsFrom(nil))
		h.svc.SetSources(ghSource(false))
		var ids []string
		for i, m := range []struct{ body, contentType string }{
			{`{"action":"opened","n":1}`, "application/json"},
			{"action=closed&n=2", "application/x-www-form-urlencoded"},
			{`{"action":"reopened","n":3}`, "application/json"},
		} {
			resp := h.ingestGH(fmt.Sprint("d", i), m.body, m.contentType)
			if resp.StatusCode != 202 {
				t.Fatalf("ingest %d: %d %s", i, resp.StatusCode, resp.body)
			}
			// Newest first: each request is answered before the next is sent, so their
			// received_at (to the microsecond) differ.
			ids = append([]string{resp.json(t)["id"].(string)}, ids...)
		}

		got, next := list(t, h.req("GET", "/inbound", h.user, ""))
		if len(got) != 3 || next != nil {
			t.Fatalf("GET /inbound: %d messages, next_before %v; want 3 and null", len(got), next)
		}
		for i, m := range got {
			if m["id"] != ids[i] {
				t.Errorf("message %d is %v, want %s (newest first)", i, m["id"], ids[i])
			}
		}
		newest, form := got[0], got[1]
		headers, _ := newest["headers"].(map[string]any)
		if newest["source"] != "gh" || newest["provider_id"] != "d2" || newest["event_type"] != "github.issues" ||
			newest["received_at"] == nil || headers["X-Github-Event"] != "issues" || headers["X-Hub-Signature-256"] != nil {
			t.Errorf("newest message: %v", newest)
		}
		if p, _ := newest["payload"].(map[string]any); p["action"] != "reopened" {
			t.Errorf("a JSON payload is listed as %T %v, want the JSON object", newest["payload"], newest["payload"])
		}
		if form["payload"] != "action=closed&n=2" {
			t.Errorf("a form payload is listed as %v, want the string", form["payload"])
		}
		if v, _ := newest["verification"].(map[string]any); v["scheme"] != "github" || v["outcome"] != "verified" {
			t.Errorf("verification = %v, want github, verified", newest["verification"])
		}

		// Pages follow the cursor; the last page says there is nothing after it.
		page1, next := list(t, h.req("GET", "/inbound?source=gh&limit=2", h.user, ""))
		if len(page1) != 2 || next != ids[1] {
			t.Fatalf("first page: %d messages, next_before %v; want 2 and %s", len(page1), next, ids[1])
		}
		page2, next := list(t, h.req("GET", "/inbound?source=gh&limit=2&before="+ids[1], h.user, ""))
		if len(page2) != 1 || page2[0]["id"] != ids[2] || next != nil {
			t.Errorf("second page: %v, next_before %v; want %s and null", page2, next, ids[2])
		}

		one := h.expect(200, "GET", "/inbound/"+ids[0], h.user, "")
		if one["id"] != ids[0] || fmt.Sprint(one["payload"]) != fmt.Sprint(newest["payload"]) {
			t.Errorf("GET /inbound/{id} = %v, want the listed message", one)
		}
		p := problem(t, h.req("GET", "/inbound/nope", h.user, ""), 404, server.KindNotFound, "/inbound/nope")
		if p["detail"] != "no such received webhook" {
			t.Errorf("unknown id: %v", p["detail"])
		}
		p = problem(t, h.req("GET", "/inbound?source=gitlab", h.user, ""), 404, server.KindNotFound, "/inbound")
		if d, _ := p["detail"].(string); !strings.Contains(d, `"gitlab"`) || !strings.Contains(d, "the configured sources are gh") {
			t.Errorf("unknown source: detail %q, want it to name the configured sources", d)
		}
		for query, field := range map[string]string{
			"limit=0": "limit", "limit=101": "limit", "limit=ten": "limit", "page=2": "page",
			"before=nope": "before", "before=" + ids[0] + "&source=gh&limit=-1": "limit",
		} {
			refused(t, h.req("GET", "/inbound?"+query, h.user, ""), "/inbound", field)
		}
		if resp := h.req("GET", "/inbound", "", ""); resp.StatusCode != 401 {
			t.Errorf("GET /inbound without a token: %d", resp.StatusCode)
		}
	})
}

func TestInboundRejections(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		h := newHookServer(t, st, webhook.SettingsFrom(nil))
		h.svc.SetSources(ghSource(false))
		const body = `{"card":"4242-do-not-keep"}`
		forged := ghSignature("not-the-secret", body)
		for _, c := range []struct {
			status int
			header []string
			body   string
		}{
			{401, []string{"X-Hub-Signature-256", forged, "X-GitHub-Delivery", "r1"}, body},
			{401, []string{"X-GitHub-Delivery", "r2"}, body},
			{400, []string{"X-Hub-Signature-256", ghSignature("s3cret", `{"card":`), "X-GitHub-Delivery", "r3", "Content-Type", "application/json"}, `{"card":`},
			{413, nil, strings.Repeat("x", server.MaxIngestBodyBytes+1)},
		} {
			if resp := h.post("/ingest/gh", c.body, c.header...); resp.StatusCode != c.status {
				t.Fatalf("ingest %v: %d, want %d: %s", c.header, resp.StatusCode, c.status, resp.body)
			}
		}
		resp := h.req("GET", "/inbound/rejections?source=gh", h.user, "")
		got, _ := list(t, resp)
		if len(got) != 4 {
			t.Fatalf("rejections: %s; want 4", resp.body)
		}
		for i, want := range []string{"larger than 1048576 bytes", "not valid JSON", "missing X-Hub-Signature-256", "X-Hub-Signature-256 does not match"} {
			r := got[i]
			if reason, _ := r["reason"].(string); !strings.Contains(reason, want) {
				t.Errorf("rejection %d (newest first): reason %q, want %q", i, reason, want)
			}
			if addr, _ := r["remote_addr"].(string); !strings.HasPrefix(addr, "127.0.0.1:") || r["source"] != "gh" || r["received_at"] == nil {
				t.Errorf("rejection %d: %v", i, r)
			}
		}
		if got[3]["content_length"] != float64(len(body)) {
			t.Errorf("content_length = %v, want %d", got[3]["content_length"], len(body))
		}
		for _, leak := range []string{"s3cret", forged, forged[len("sha256="):], "4242-do-not-keep"} {
			if strings.Contains(string(resp.body), leak) {
				t.Errorf("GET /inbound/rejections shows %q: %s", leak, resp.body)
			}
		}
		// Nothing refused was stored.
		if msgs, _ := list(t, h.req("GET", "/inbound", h.user, "")); len(msgs) != 0 {
			t.Errorf("refused messages were stored: %v", msgs)
		}
		if all, _ := list(t, h.req("GET", "/inbound/rejections?limit=1", h.user, "")); len(all) != 1 {
			t.Errorf("?limit=1 gave %d", len(all))
		}
		p := problem(t, h.req("GET", "/inbound/rejections?source=gitlab", h.user, ""), 404, server.KindNotFound, "/inbound/rejections")
		if d, _ := p["detail"].(string); !strings.Contains(d, "the configured sources are gh") {
			t.Errorf("unknown source: %q", d)
		}
		refused(t, h.req("GET", "/inbound/rejections?limit=0", h.user, ""), "/inbound/rejections", "limit")
		refused(t, h.req("GET", "/inbound/rejections?before=x", h.user, ""), "/inbound/rejections", "before")
		if resp := h.req("GET", "/inbound/rejections", "", ""); resp.StatusCode != 401 {
			t.Errorf("without a token: %d", resp.StatusCode)
		}
	})
}

// starReceiver is a webhook receiver that keeps the bodies it got.
type starReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newStarReceiver(t *testing.T) *starReceiver {
	r := &starReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *starReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// TestIngestPublishReachesStarEndpoint: a source with publish: true turns each new
// message into a webhook event, delivered to an endpoint subscribed to "*", once.
func TestIngestPublishReachesStarEndpoint(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		s := webhook.SettingsFrom(nil)
		s.AllowedNetworks = []string{"127.0.0.0/8"}
		h := newHookServer(t, st, s)
		h.svc.SetSources(ghSource(true))
		rcv := newStarReceiver(t)
		ep := h.expect(201, "POST", "/webhooks", h.user, fmt.Sprintf(`{"name":"all","url":%q,"events":["*"]}`, rcv.URL))

		const body = `{"action":"opened","issue":{"number":7}}`
		resp := h.ingestGH("pub-1", body, "application/json")
		if resp.StatusCode != 202 {
			t.Fatalf("ingest: %d %s", resp.StatusCode, resp.body)
		}
		answer := resp.json(t)
		eventID, _ := answer["event_id"].(string)
		if eventID != "ingest_"+answer["id"].(string) {
			t.Fatalf("ingest answered %v; want event_id ingest_<id>", answer)
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(rcv.got()) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the published message never reached the endpoint subscribed to *:\n%s", h.logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
		var delivered struct {
			ID   string          `json:"id"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(rcv.got()[0]), &delivered); err != nil {
			t.Fatal(err)
		}
		if delivered.ID != eventID || delivered.Type != "github.issues" || string(delivered.Data) != body {
			t.Errorf("delivered %s; want id %s, type github.issues, data the payload", rcv.got()[0], eventID)
		}
		// The provider's redelivery publishes nothing new.
		again := h.ingestGH("pub-1", body, "application/json").json(t)
		if again["duplicate"] != true || again["event_id"] != eventID {
			t.Errorf("redelivery answered %v", again)
		}
		deliveries := h.expect(200, "GET", "/webhooks/"+ep["id"].(string)+"/deliveries", h.user, "")
		if total := deliveries["pagination"].(map[string]any)["total"]; total != float64(1) {
			t.Errorf("%v deliveries, want 1 however often the message came", total)
		}
	})
}

// publishFailsOnce fails the first publication as an unavailable database would.
type publishFailsOnce struct {
	store.Store
	once sync.Once
}

func (p *publishFailsOnce) EventPublish(ctx context.Context, e event.Event, ds []store.Delivery, xs ...store.HandlerExecution) (bool, int, error) {
	failed := false
	p.once.Do(func() { failed = true })
	if failed {
		return false, 0, fmt.Errorf("publish %s: %w", e.ID, store.ErrUnavailable)
	}
	return p.Store.EventPublish(ctx, e, ds, xs...)
}

// TestIngestPublishFailureIsRetried: when the event of a stored message cannot be
// published, the provider gets 503 (so it sends the message again), and the
// redelivery, a duplicate, publishes it.
func TestIngestPublishFailureIsRetried(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		h := newHookServer(t, &publishFailsOnce{Store: st}, webhook.SettingsFrom(nil))
		h.svc.SetSources(ghSource(true))
		resp := h.ingestGH("once", `{"n":1}`, "application/json")
		p := problem(t, resp, 503, server.KindUnavailable, "/ingest/gh")
		if d, _ := p["detail"].(string); !strings.Contains(d, "send it again") || resp.Header.Get("Retry-After") == "" {
			t.Errorf("503 detail %q, Retry-After %q", d, resp.Header.Get("Retry-After"))
		}
		again := h.ingestGH("once", `{"n":1}`, "application/json")
		if again.StatusCode != 202 {
			t.Fatalf("redelivery: %d %s", again.StatusCode, again.body)
		}
		if a := again.json(t); a["duplicate"] != true || a["event_id"] != "ingest_"+a["id"].(string) {
			t.Errorf("redelivery answered %v; want the duplicate published", a)
		}
		if _, err := st.EventGet(context.Background(), "ingest_"+again.json(t)["id"].(string)); err != nil {
			t.Errorf("the redelivered message's event is not stored: %v", err)
		}
	})
}
