package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store/postgres"
)

// Issue 9, item 9: input that must be refused with 400 naming the field, the same on
// both stores.

// withPostgres puts the server on a fresh PostgreSQL schema (skipped when PostgreSQL is
// not running, failed under JUNCTION_REQUIRE_SERVICES=1). Pass it before withWebhooks,
// which builds on o.Store.
func withPostgres(t *testing.T) func(*testOptions) {
	return func(o *testOptions) {
		ctx := context.Background()
		st, err := postgres.Open(ctx, servicetest.PostgresDSN(t))
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if _, err := st.MigrateUp(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		o.Store = st
	}
}

// onBothStores runs test once on SQLite and once on PostgreSQL; onStore is the setup
// that selects the store, to pass first to newEnv.
func onBothStores(t *testing.T, test func(t *testing.T, onStore func(*testOptions))) {
	t.Run("sqlite", func(t *testing.T) { test(t, func(*testOptions) {}) })
	t.Run("postgres", func(t *testing.T) { test(t, withPostgres(t)) })
}

// refused checks a 400 problem whose errors name exactly field.
func refused(t *testing.T, resp response, path, field string) {
	t.Helper()
	p := problem(t, resp, 400, server.KindInvalidRequest, path)
	if got := fieldErrors(t, p); len(got) != 1 || got[0] != field {
		t.Errorf("errors[].field = %q, want [%q]; body %s", got, field, resp.body)
	}
}

// newEndpoint creates an endpoint subscribed to every event and returns its id.
func (e *env) newEndpoint() string {
	e.t.Helper()
	resp := e.req("POST", "/webhooks", e.user, `{"name":"Orders","url":"https://example.com/hook","events":["*"]}`)
	if resp.StatusCode != 201 {
		e.t.Fatalf("create endpoint: %d %s", resp.StatusCode, resp.body)
	}
	return resp.json(e.t)["id"].(string)
}

// deliveries is the number of deliveries stored for an endpoint.
func (e *env) deliveries(id string) float64 {
	e.t.Helper()
	resp := e.req("GET", "/webhooks/"+id+"/deliveries", e.user, "")
	if resp.StatusCode != 200 {
		e.t.Fatalf("list deliveries: %d %s", resp.StatusCode, resp.body)
	}
	return resp.json(e.t)["pagination"].(map[string]any)["total"].(float64)
}

// tokens is the number of tokens stored.
func (e *env) tokens() int {
	e.t.Helper()
	resp := e.req("GET", "/tokens", e.admin, "")
	if resp.StatusCode != 200 {
		e.t.Fatalf("list tokens: %d %s", resp.StatusCode, resp.body)
	}
	return len(resp.json(e.t)["data"].([]any))
}

func TestInvalidUTF8IsRefused(t *testing.T) {
	onBothStores(t, func(t *testing.T, onStore func(*testOptions)) {
		e := newEnv(t, onStore, withWebhooks(t))
		id := e.newEndpoint()
		tests := []struct {
			name, method, path, body, field string
		}{
			{"event data string", "POST", "/events", "{\"type\":\"a.b\",\"data\":{\"note\":\"caf\xe9\"}}", "data.note"},
			{"event data member name", "POST", "/events", "{\"type\":\"a.b\",\"data\":{\"caf\xe9\":1}}", "data"},
			{"event data in a list", "POST", "/events", "{\"type\":\"a.b\",\"data\":[1,\"\xff\"]}", "data[1]"},
			{"lone low surrogate", "POST", "/events", `{"type":"a.b","data":"\udc00"}`, "data"},
			{"lone high surrogate", "POST", "/events", `{"type":"a.b","data":{"k":"\ud800x"}}`, "data.k"},
			{"reversed pair", "POST", "/events", `{"type":"a.b","data":"\udc00\ud800"}`, "data"},
			{"endpoint name", "POST", "/webhooks", "{\"name\":\"\xfe\",\"url\":\"https://example.com/h\",\"events\":[\"*\"]}", "name"},
			{"token name", "POST", "/tokens", "{\"role\":\"user\",\"name\":\"a\xffb\"}", "name"},
			{"endpoint update", "PUT", "/webhooks/" + id, "{\"name\":\"\xc3\"}", "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := e.user
				if tt.path == "/tokens" {
					tok = e.admin
				}
				refused(t, e.req(tt.method, tt.path, tok, tt.body), tt.path, tt.field)
			})
		}
		if n := e.deliveries(id); n != 0 {
			t.Errorf("%v deliveries stored from refused events", n)
		}
		if n := e.tokens(); n != 2 {
			t.Errorf("%d tokens, want the 2 of the test set-up", n)
		}
		if ep := e.req("GET", "/webhooks/"+id, e.user, "").json(t); ep["name"] != "Orders" {
			t.Errorf("endpoint changed: %v", ep)
		}
		// A proper surrogate pair and non-ASCII text are fine.
		resp := e.req("POST", "/events", e.user, `{"type":"a.b","data":{"s":"\ud83d\ude00 café"}}`)
		if resp.StatusCode != 202 || e.deliveries(id) != 1 {
			t.Errorf("valid event: %d %s", resp.StatusCode, resp.body)
		}
	})
}

func TestDuplicateMembersAreRefused(t *testing.T) {
	onBothStores(t, func(t *testing.T, onStore func(*testOptions)) {
		e := newEnv(t, onStore, withWebhooks(t))
		id := e.newEndpoint()
		tests := []struct {
			name, method, path, body, field string
		}{
			{"role twice", "POST", "/tokens", `{"role":"user","role":"admin","name":"x"}`, "role"},
			{"role twice, escaped", "POST", "/tokens", `{"role":"user","r\u006fle":"admin","name":"x"}`, "role"},
			// encoding/json matches names without regard to case: ROLE would set Role.
			{"role in other case", "POST", "/tokens", `{"role":"user","ROLE":"admin","name":"x"}`, "ROLE"},
			{"nested in event data", "POST", "/events", `{"type":"a.b","data":{"x":[{"k":1,"k":2}]}}`, "data.x[0].k"},
			{"event type twice", "POST", "/events", `{"type":"a.b","type":"c.d"}`, "type"},
			{"endpoint update", "PUT", "/webhooks/" + id, `{"is_active":true,"is_active":false}`, "is_active"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := e.user
				if tt.path == "/tokens" {
					tok = e.admin
				}
				refused(t, e.req(tt.method, tt.path, tok, tt.body), tt.path, tt.field)
			})
		}
		if n := e.tokens(); n != 2 {
			t.Errorf("%d tokens, want the 2 of the test set-up", n)
		}
		if n := e.deliveries(id); n != 0 {
			t.Errorf("%v deliveries stored from refused events", n)
		}
		if ep := e.req("GET", "/webhooks/"+id, e.user, "").json(t); ep["is_active"] != true {
			t.Errorf("endpoint changed: %v", ep)
		}
	})
}

func TestDuplicateParametersAreRefused(t *testing.T) {
	called := false
	up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) { called = true })
	rt := runtimeFor(t, gatewayConfig, up, map[string]string{"USERS_TOKEN": "s3cret"})
	e := newEnv(t, func(o *testOptions) { o.Gateway = rt })
	path := "/integrations/Users/operations/create_user"
	refused(t, e.req("POST", path, e.user, `{"login":"ada","login":"root"}`), path, "login")
	refused(t, e.req("POST", path, e.user, `null`), path, "")
	if called {
		t.Error("the upstream was called")
	}
}

func TestControlCharactersInIdentifiersAreRefused(t *testing.T) {
	onBothStores(t, func(t *testing.T, onStore func(*testOptions)) {
		e := newEnv(t, onStore, withWebhooks(t), func(o *testOptions) { o.Flows = &fakeFlows{} })
		id := e.newEndpoint()
		tests := []struct {
			name, method, path, body, field string
		}{
			{"endpoint id", "GET", "/webhooks/a%00b", "", "id"},
			{"endpoint id, update", "PUT", "/webhooks/a%00b", `{"name":"x"}`, "id"},
			{"endpoint id, delete", "DELETE", "/webhooks/%00", "", "id"},
			{"endpoint id, deliveries", "GET", "/webhooks/a%00/deliveries", "", "id"},
			{"endpoint id, test", "POST", "/webhooks/a%00/test", "", "id"},
			{"endpoint id, rotate", "POST", "/webhooks/a%0A/rotate-secret", "", "id"},
			{"delivery id", "POST", "/webhooks/deliveries/d%00/retry", "", "id"},
			{"dead letter id", "POST", "/dead-letters/fdl_%00/replay", "", "id"},
			{"token id", "DELETE", "/tokens/tok_%00", "", "id"},
			{"flow name", "GET", "/flows/orders%00", "", "name"},
			{"flow name, stop", "POST", "/flows/orders%7F/stop", "", "name"},
			{"source", "POST", "/ingest/g%00h", `{}`, "source"},
			{"integration name", "GET", "/integrations/U%00/health", "", "name"},
			{"invalid UTF-8 in a path", "GET", "/webhooks/%FF", "", "id"},
			{"endpoint filter", "GET", "/dead-letters?endpoint_id=a%00", "", "endpoint_id"},
			{"flow filter", "GET", "/dead-letters?flow=orders%00", "", "flow"},
			{"queue filter", "GET", "/dead-letters?queue=q%00", "", "queue"},
			{"endpoint name", "POST", "/webhooks", `{"name":"a\u0000b","url":"https://example.com/h","events":["*"]}`, "name"},
			{"endpoint name, update", "PUT", "/webhooks/" + id, `{"name":"a\u0000b"}`, "name"},
			{"endpoint name, tab", "PUT", "/webhooks/" + id, `{"name":"a\tb"}`, "name"},
			{"event type list", "PUT", "/webhooks/" + id, `{"events":["a.b","c\u0000"]}`, "events[1]"},
			{"event id", "POST", "/events", `{"id":"e\u0000","type":"a.b"}`, "id"},
			{"event id, C1 control", "POST", "/events", `{"id":"e\u0085","type":"a.b"}`, "id"},
			{"token name", "POST", "/tokens", `{"role":"user","name":"a\u0000"}`, "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := e.admin
				if tt.path == "/ingest/g%00h" {
					tok = ""
				}
				path, _, _ := strings.Cut(tt.path, "?")
				refused(t, e.req(tt.method, tt.path, tok, tt.body), unescapePath(t, path), tt.field)
			})
		}
		if n := e.deliveries(id); n != 0 {
			t.Errorf("%v deliveries stored from refused events", n)
		}
		if ep := e.req("GET", "/webhooks/"+id, e.user, "").json(t); ep["name"] != "Orders" || len(ep["events"].([]any)) != 1 {
			t.Errorf("endpoint changed: %v", ep)
		}
	})
}

// unescapePath is the instance a problem names: the request's decoded path.
func unescapePath(t *testing.T, p string) string {
	t.Helper()
	u, err := url.PathUnescape(p)
	if err != nil {
		t.Fatal(err)
	}
	// As the problem document carries it: JSON text holds no invalid UTF-8.
	return strings.ToValidUTF8(u, "\uFFFD")
}

func TestObjectBodiesMustBeObjects(t *testing.T) {
	onBothStores(t, func(t *testing.T, onStore func(*testOptions)) {
		e := newEnv(t, onStore, withWebhooks(t))
		id := e.newEndpoint()
		put := "/webhooks/" + id
		for _, body := range []string{`null`, ` null `, `[]`, `"x"`, `1`, `true`} {
			refused(t, e.req("PUT", put, e.user, body), put, "")
		}
		for _, path := range []string{"/webhooks", "/events", "/tokens"} {
			refused(t, e.req("POST", path, e.admin, `null`), path, "")
		}
		// A member set to null is refused too: leaving it out says "unchanged".
		for _, field := range []string{"name", "url", "events", "is_active"} {
			refused(t, e.req("PUT", put, e.user, `{"`+field+`":null}`), put, field)
		}
		refused(t, e.req("POST", "/tokens", e.admin, `{"role":null}`), "/tokens", "role")
		refused(t, e.req("PUT", put, e.user, `{"events":[null]}`), put, "events[0]")
		if ep := e.req("GET", put, e.user, "").json(t); ep["name"] != "Orders" || ep["is_active"] != true {
			t.Errorf("endpoint changed: %v", ep)
		}
		// Event data may be null: it is a JSON value passed on as it is.
		if resp := e.req("POST", "/events", e.user, `{"type":"a.b","data":null}`); resp.StatusCode != 202 {
			t.Errorf("event with null data: %d %s", resp.StatusCode, resp.body)
		}
	})
}

// ingest sends body to /ingest/gh signed with the source's secret.
func (e *env) ingest(body, delivery, contentType string) response {
	e.t.Helper()
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(body))
	return e.req("POST", "/ingest/gh", "", body, "X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)),
		"X-GitHub-Delivery", delivery, "X-GitHub-Event", "issues", "Content-Type", contentType)
}

func TestIngestRefusesPayloadsItCannotPassOn(t *testing.T) {
	onBothStores(t, func(t *testing.T, onStore func(*testOptions)) {
		e := newEnv(t, onStore, withWebhooks(t))
		tests := []struct {
			name, body, contentType string
		}{
			{"invalid UTF-8 in JSON", "{\"title\":\"caf\xe9\"}", "application/json"},
			{"invalid UTF-8 in text", "title=caf\xe9", "application/x-www-form-urlencoded"},
			{"invalid UTF-8, no type", "\xff\xfe{}", ""},
			{"invalid JSON", `{"title":`, "application/json"},
			{"invalid +json", `{"title" 1}`, "application/vnd.github+json; charset=utf-8"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				delivery := "d" + strconv.Itoa(i)
				refused(t, e.ingest(tt.body, delivery, tt.contentType), "/ingest/gh", "body")
				// Nothing was stored: the provider's retry with a good body is new.
				resp := e.ingest(`{"title":"café"}`, delivery, "application/json")
				if resp.StatusCode != 202 || !strings.Contains(string(resp.body), `"duplicate":false`) {
					t.Errorf("good retry: %d %s", resp.StatusCode, resp.body)
				}
			})
		}
		// A bad signature is still 401, whatever the body: nothing is said about the
		// body to a sender who cannot sign.
		resp := e.req("POST", "/ingest/gh", "", "\xff", "X-Hub-Signature-256", "sha256=00", "X-GitHub-Delivery", "x")
		if resp.StatusCode != 401 {
			t.Errorf("unsigned invalid body: %d %s", resp.StatusCode, resp.body)
		}
		// Form bodies and JSON without a declared type still pass.
		for i, body := range []string{"a=1&b=caf%C3%A9", `{"a":1}`} {
			if resp := e.ingest(body, "ok"+strconv.Itoa(i), ""); resp.StatusCode != 202 {
				t.Errorf("%q: %d %s", body, resp.StatusCode, resp.body)
			}
		}
	})
}
