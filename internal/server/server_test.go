package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/store"
)

func TestNewValidatesOptions(t *testing.T) {
	e := newEnv(t)
	logger := slog.New(slog.DiscardHandler)
	opts := serverOn(e.store, logger, nil)
	tests := []struct {
		name string
		opts server.Options
		want string
	}{
		{"nothing", server.Options{}, "Tokens, Ready, Logger"},
		{"no logger", server.Options{Tokens: opts.Tokens, Ready: opts.Ready}, "Logger"},
		{"no token service", server.Options{Ready: opts.Ready, Logger: logger}, "Tokens"},
		{"no readiness check", server.Options{Tokens: opts.Tokens, Logger: logger}, "Ready"},
		{"negative body limit", server.Options{Tokens: opts.Tokens, Ready: opts.Ready, Logger: logger, MaxBodyBytes: -1}, "MaxBodyBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := server.New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	// Defaults: no registry, no clock, no limit given.
	if _, err := server.New(opts); err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	// A second server on the same registry (config reload) reuses the metrics.
	opts.Registry = e.reg
	if _, err := server.New(opts); err != nil {
		t.Fatalf("second New on one registry: %v", err)
	}
}

func TestPublicEndpoints(t *testing.T) {
	e := newEnv(t)

	resp := e.req("GET", "/healthz", "", "")
	if resp.StatusCode != 200 || resp.json(t)["status"] != "ok" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/healthz = %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.body)
	}
	if resp := e.req("HEAD", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("HEAD /healthz = %d", resp.StatusCode)
	}
	resp = e.req("GET", "/readyz", "", "")
	if resp.StatusCode != 200 || resp.json(t)["status"] != "ready" {
		t.Errorf("/readyz = %d %s", resp.StatusCode, resp.body)
	}
	resp = e.req("GET", "/metrics", "", "")
	if resp.StatusCode != 200 || !bytes.Contains(resp.body, []byte("go_goroutines")) {
		t.Errorf("/metrics = %d, body lacks go_goroutines", resp.StatusCode)
	}
	// Public endpoints ignore a bad token rather than refusing: probes carry none.
	if resp := e.req("GET", "/healthz", "garbage", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz with a bad token = %d", resp.StatusCode)
	}
}

func TestReadyzStoreDown(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp := e.req("GET", "/readyz", "", "")
	p := problem(t, resp, http.StatusServiceUnavailable, server.KindUnavailable, "/readyz")
	if d := p["detail"].(string); !strings.Contains(d, "store (sqlite)") {
		t.Errorf("detail %q does not name the store", d)
	}
	if !strings.Contains(e.logs.String(), "readiness check failed") {
		t.Error("failure not logged")
	}
	// Liveness must not depend on the store.
	if resp := e.req("GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz with store down = %d", resp.StatusCode)
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.TokenRevoke(ctx, e.userTok.ID, testNow); err != nil {
		t.Fatal(err)
	}
	credentials := []struct {
		name    string
		header  string // full Authorization value; "" sends none
		reason  string
		invalid bool // WWW-Authenticate should say error="invalid_token"
	}{
		{"missing", "", "missing Authorization header", false},
		{"wrong scheme", "Basic YWRtaW46YWRtaW4=", "scheme must be Bearer", true},
		{"malformed", "Bearer not-a-token", "malformed token", true},
		{"unknown", "Bearer jct_" + strings.Repeat("x", 43), "unknown token", true},
		{"revoked", "Bearer " + e.user, "token revoked", true},
	}
	paths := []struct{ method, path string }{
		{"GET", "/integrations/status"},
		{"GET", "/does/not/exist"},
		{"GET", "/tokens"},
		{"POST", "/tokens"},
		{"DELETE", "/tokens/" + e.adminTok.ID},
	}
	for _, c := range credentials {
		for _, p := range paths {
			t.Run(c.name+" "+p.method+" "+p.path, func(t *testing.T) {
				resp := e.req(p.method, p.path, "", `{"role":"admin","name":"x"}`, "Authorization", c.header)
				pr := problem(t, resp, http.StatusUnauthorized, server.KindUnauthorized, p.path)
				if d := pr["detail"].(string); !strings.Contains(d, c.reason) {
					t.Errorf("detail %q lacks reason %q", d, c.reason)
				}
				wa := resp.Header.Get("WWW-Authenticate")
				if !strings.HasPrefix(wa, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", wa)
				}
				if got := strings.Contains(wa, `error="invalid_token"`); got != c.invalid {
					t.Errorf("WWW-Authenticate = %q, invalid_token want %v", wa, c.invalid)
				}
			})
		}
	}
	// Nothing was created or revoked by the refused requests.
	toks, err := e.store.TokenList(ctx)
	if err != nil || len(toks) != 2 {
		t.Fatalf("tokens after refused requests: %+v, %v", toks, err)
	}
	for _, tok := range toks {
		if tok.ID == e.adminTok.ID && tok.Revoked() {
			t.Error("a refused request revoked the admin token")
		}
	}
}

func TestMultipleAuthorizationHeaders(t *testing.T) {
	e := newEnv(t).start()
	r, _ := http.NewRequest("GET", e.ts.URL+"/integrations/status", nil)
	r.Header.Add("Authorization", "Bearer "+e.admin)
	r.Header.Add("Authorization", "Bearer "+e.user)
	resp, err := e.ts.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	problem(t, response{resp, b}, http.StatusUnauthorized, server.KindUnauthorized, "/integrations/status")
}

func TestForbiddenForUserToken(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/tokens", ""},
		{"POST", "/tokens", `{"role":"admin","name":"escalate"}`},
		{"DELETE", "/tokens/" + e.adminTok.ID, ""},
	} {
		resp := e.req(tc.method, tc.path, e.user, tc.body)
		p := problem(t, resp, http.StatusForbidden, server.KindForbidden, tc.path)
		if d := p["detail"].(string); !strings.Contains(d, `"admin"`) {
			t.Errorf("%s %s: detail %q does not name the needed role", tc.method, tc.path, d)
		}
	}
	toks, _ := e.store.TokenList(context.Background())
	if len(toks) != 2 || toks[0].Revoked() || toks[1].Revoked() {
		t.Errorf("user token changed tokens: %+v", toks)
	}
	// The user token is good for user routes.
	if resp := e.req("GET", "/integrations/status", e.user, ""); resp.StatusCode != 200 {
		t.Errorf("user on /integrations/status = %d %s", resp.StatusCode, resp.body)
	}
}

var (
	secretRE = regexp.MustCompile(`^jct_[A-Za-z0-9_-]{43}$`)
	idRE     = regexp.MustCompile(`^tok_[a-z2-7]{16}$`)
)

func TestTokenLifecycle(t *testing.T) {
	e := newEnv(t)

	// Create.
	resp := e.req("POST", "/tokens", e.admin, `{"role":"user","name":"ci"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d %s", resp.StatusCode, resp.body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store on a response holding a secret", cc)
	}
	created := resp.json(t)
	secret, _ := created["token"].(string)
	id, _ := created["id"].(string)
	if !secretRE.MatchString(secret) || !idRE.MatchString(id) {
		t.Fatalf("created = %s", resp.body)
	}
	if created["name"] != "ci" || created["role"] != "user" || created["created_at"] != testNow.Format(time.RFC3339) {
		t.Errorf("created = %s", resp.body)
	}
	if len(created) != 5 {
		t.Errorf("create answer has members beyond id,name,role,created_at,token: %s", resp.body)
	}

	// The new token authenticates, as a user.
	if r := e.req("GET", "/integrations/status", secret, ""); r.StatusCode != 200 {
		t.Errorf("new token on /integrations/status = %d", r.StatusCode)
	}
	if r := e.req("GET", "/tokens", secret, ""); r.StatusCode != 403 {
		t.Errorf("new user token on /tokens = %d", r.StatusCode)
	}

	// List: three tokens, oldest first, no hash or secret anywhere.
	resp = e.req("GET", "/tokens", e.admin, "")
	if resp.StatusCode != 200 {
		t.Fatalf("list = %d %s", resp.StatusCode, resp.body)
	}
	if bytes.Contains(resp.body, []byte("hash")) || bytes.Contains(resp.body, []byte("jct_")) {
		t.Fatalf("list leaks a hash or secret: %s", resp.body)
	}
	data := resp.json(t)["data"].([]any)
	if len(data) != 3 {
		t.Fatalf("list has %d tokens: %s", len(data), resp.body)
	}
	var ids []string
	for _, item := range data {
		m := item.(map[string]any)
		ids = append(ids, m["id"].(string))
		for _, k := range []string{"id", "name", "role", "created_at", "revoked_at"} {
			if _, ok := m[k]; !ok {
				t.Errorf("list item lacks %s: %v", k, m)
			}
		}
		if m["revoked_at"] != nil {
			t.Errorf("fresh token revoked: %v", m)
		}
	}
	if !slices.Contains(ids, id) {
		t.Errorf("list %v lacks new token %s", ids, id)
	}

	// Revoke.
	resp = e.req("DELETE", "/tokens/"+id, e.admin, "")
	if resp.StatusCode != http.StatusNoContent || len(resp.body) != 0 {
		t.Fatalf("revoke = %d %s", resp.StatusCode, resp.body)
	}
	problem(t, e.req("GET", "/integrations/status", secret, ""), 401, server.KindUnauthorized, "/integrations/status")
	// Idempotent.
	if r := e.req("DELETE", "/tokens/"+id, e.admin, ""); r.StatusCode != http.StatusNoContent {
		t.Errorf("second revoke = %d %s", r.StatusCode, r.body)
	}
	resp = e.req("GET", "/tokens", e.admin, "")
	for _, item := range resp.json(t)["data"].([]any) {
		m := item.(map[string]any)
		if m["id"] == id && m["revoked_at"] != testNow.Format(time.RFC3339) {
			t.Errorf("revoked token shows revoked_at %v", m["revoked_at"])
		}
	}

	// Unknown id and self-revocation.
	problem(t, e.req("DELETE", "/tokens/tok_doesnotexist0000", e.admin, ""), 404, server.KindNotFound, "/tokens/tok_doesnotexist0000")
	problem(t, e.req("DELETE", "/tokens/"+e.adminTok.ID, e.admin, ""), 403, server.KindForbidden, "/tokens/"+e.adminTok.ID)

	// The access log has token IDs but never a secret.
	logs := e.logs.String()
	if strings.Contains(logs, secret) || strings.Contains(logs, e.admin) || strings.Contains(logs, e.user) {
		t.Error("a secret reached the log")
	}
	if !strings.Contains(logs, `"token_id":"`+e.adminTok.ID+`"`) {
		t.Error("access log lacks the token id")
	}
}

func TestCreateTokenValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"no role", `{"name":"ci"}`, []string{"role"}},
		{"bad role", `{"role":"root","name":"ci"}`, []string{"role"}},
		{"blank name", `{"role":"user","name":" "}`, []string{"name"}},
		{"long name", `{"role":"user","name":"` + strings.Repeat("n", 101) + `"}`, []string{"name"}},
		{"nothing", `{}`, []string{"role"}},
		{"null", `null`, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := problem(t, e.req("POST", "/tokens", e.admin, tt.body), 400, server.KindInvalidRequest, "/tokens")
			if got := fieldErrors(t, p); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
		})
	}
}

// A token needs no name, as the README says (issue 9, item 10).
func TestCreateTokenWithoutName(t *testing.T) {
	e := newEnv(t)
	resp := e.req("POST", "/tokens", e.admin, `{"role":"admin"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create without a name: %d %s", resp.StatusCode, resp.body)
	}
	if tok := resp.json(t); tok["name"] != "" || tok["role"] != "admin" {
		t.Errorf("created %v", tok)
	}
	if n := e.tokens(); n != 3 {
		t.Errorf("%d tokens, want 3", n)
	}
}

func TestStrictDecoding(t *testing.T) {
	e := newEnv(t, func(o *testOptions) { o.MaxBodyBytes = 256 })
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		kind        server.Kind
		field       string // want this in errors[].field ("" = body as a whole)
		detail      []string
	}{
		{"malformed", `{"role":"user" "name":"x"}`, "", 400, server.KindInvalidRequest, "", []string{"byte offset 15", "line 1, column 16"}},
		{"malformed multi-line", "{\n  \"role\": \"user\",\n  \"name\": }", "", 400, server.KindInvalidRequest, "", []string{"line 3, column 11"}},
		{"truncated", `{"role":"user",`, "", 400, server.KindInvalidRequest, "", []string{"unexpected end"}},
		{"wrong type", `{"role":5,"name":"x"}`, "", 400, server.KindInvalidRequest, "role", []string{`"role"`, "string", "number"}},
		{"wrong type name", `{"role":"user","name":["x"]}`, "", 400, server.KindInvalidRequest, "name", []string{`"name"`, "string", "array"}},
		{"unknown field", `{"role":"user","name":"x","admin":true}`, "", 400, server.KindInvalidRequest, "admin", []string{`unknown field "admin"`}},
		{"not an object", `["user"]`, "", 400, server.KindInvalidRequest, "", []string{"object", "array"}},
		{"empty", ``, "application/json", 400, server.KindInvalidRequest, "", []string{"empty"}},
		{"whitespace only", " \n ", "", 400, server.KindInvalidRequest, "", []string{"empty"}},
		{"trailing object", `{"role":"user","name":"x"} {"role":"admin"}`, "", 400, server.KindInvalidRequest, "", []string{"after the JSON value", "byte offset"}},
		{"trailing garbage", `{"role":"user","name":"x"}}`, "", 400, server.KindInvalidRequest, "", []string{"after the JSON value"}},
		{"too large", `{"role":"user","name":"` + strings.Repeat("x", 300) + `"}`, "", 413, server.KindPayloadTooLarge, "", []string{"256 bytes"}},
		{"text/plain", `{"role":"user","name":"x"}`, "text/plain", 415, server.KindUnsupportedMediaType, "", []string{"text/plain", "application/json"}},
		{"form", `role=user`, "application/x-www-form-urlencoded", 415, server.KindUnsupportedMediaType, "", nil},
		{"bad media type", `{}`, "application/", 415, server.KindUnsupportedMediaType, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			resp := e.req("POST", "/tokens", e.admin, tt.body, "Content-Type", ct)
			p := problem(t, resp, tt.status, tt.kind, "/tokens")
			for _, d := range tt.detail {
				if !strings.Contains(p["detail"].(string), d) {
					t.Errorf("detail %q lacks %q", p["detail"], d)
				}
			}
			if tt.status == 400 {
				if got := fieldErrors(t, p); !slices.Contains(got, tt.field) {
					t.Errorf("errors[].field = %q, want %q", got, tt.field)
				}
			}
		})
	}
	toks, _ := e.store.TokenList(context.Background())
	if len(toks) != 2 {
		t.Errorf("a rejected request created a token: %d tokens", len(toks))
	}
}

func TestDecodingAcceptedContentTypes(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.junction+json", "", "none"} {
		header := []string{"Content-Type", ct}
		if ct == "none" {
			header = []string{"Content-Type", ""} // deleted: no Content-Type at all
		}
		resp := e.req("POST", "/tokens", e.admin, `{"role":"user","name":"x"}`, header...)
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("Content-Type %q: status %d %s", ct, resp.StatusCode, resp.body)
		}
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t)

	p := problem(t, e.req("GET", "/nope", e.user, ""), 404, server.KindNotFound, "/nope")
	if !strings.Contains(p["detail"].(string), "/nope") {
		t.Errorf("detail %q", p["detail"])
	}
	problem(t, e.req("GET", "/tokens/extra/segments", e.admin, ""), 404, server.KindNotFound, "/tokens/extra/segments")

	resp := e.req("PUT", "/tokens", e.admin, `{}`)
	problem(t, resp, 405, server.KindMethodNotAllowed, "/tokens")
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	resp = e.req("GET", "/tokens/"+e.userTok.ID, e.admin, "")
	problem(t, resp, 405, server.KindMethodNotAllowed, "/tokens/"+e.userTok.ID)
	if allow := resp.Header.Get("Allow"); allow != "DELETE" {
		t.Errorf("Allow = %q, want DELETE", allow)
	}
	// Public paths answer 405 without a token: they are public for every method.
	resp = e.req("POST", "/healthz", "", "")
	problem(t, resp, 405, server.KindMethodNotAllowed, "/healthz")
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow = %q", allow)
	}
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t)
	e.srv.HandleForTest("GET /boom", store.RoleUser, func(http.ResponseWriter, *http.Request) {
		panic("kaboom")
	})
	e.srv.HandleForTest("GET /boom-late", store.RoleUser, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		panic("after the header")
	})
	p := problem(t, e.req("GET", "/boom", e.user, ""), 500, server.KindInternal, "/boom")
	if strings.Contains(p["detail"].(string), "kaboom") {
		t.Errorf("panic value leaked to the client: %v", p["detail"])
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "panic serving request") || !strings.Contains(logs, "kaboom") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with stack:\n%s", logs)
	}

	// A panic after the status is out cannot become a problem; the connection is cut.
	r, _ := http.NewRequest("GET", e.ts.URL+"/boom-late", nil)
	r.Header.Set("Authorization", "Bearer "+e.user)
	if resp, err := e.ts.Client().Do(r); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("late panic: response completed normally")
		}
	}

	// The server lives on.
	if resp := e.req("GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("after panic /healthz = %d", resp.StatusCode)
	}
	metrics := string(e.req("GET", "/metrics", "", "").body)
	if !strings.Contains(metrics, `junction_http_requests_total{code="500",method="GET",route="GET /boom"} 1`) {
		t.Errorf("panic not counted as 500:\n%s", grep(metrics, "junction_http_requests_total"))
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.req("GET", "/healthz", "", "")
	e.req("GET", "/healthz", "", "")
	e.req("GET", "/integrations/status", e.user, "")
	e.req("GET", "/tokens", "", "")               // 401, still attributed to its route
	e.req("GET", "/random/abc123", e.user, "")    // 404
	e.req("GET", "/random/def456", "", "")        // 401 on an unknown path
	e.req("DELETE", "/tokens/tok_x", e.admin, "") // 404 from the handler
	e.req("BREW", "/healthz", "", "")             // odd method
	body := string(e.req("GET", "/metrics", "", "").body)

	for _, want := range []string{
		`junction_http_requests_total{code="200",method="GET",route="GET /healthz"} 2`,
		`junction_http_requests_total{code="200",method="GET",route="GET /integrations/status"} 1`,
		`junction_http_requests_total{code="401",method="GET",route="GET /tokens"} 1`,
		`junction_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`junction_http_requests_total{code="401",method="GET",route="unmatched"} 1`,
		`junction_http_requests_total{code="404",method="DELETE",route="DELETE /tokens/{id}"} 1`,
		`junction_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`junction_http_request_duration_seconds_bucket{method="GET",route="GET /healthz",le="+Inf"} 2`,
		`junction_http_requests_in_flight 1`, // the /metrics request itself
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, raw := range []string{"abc123", "def456", "tok_x", "BREW"} {
		if strings.Contains(body, raw) {
			t.Errorf("metrics contain raw request data %q", raw)
		}
	}
}

func TestAccessLog(t *testing.T) {
	e := newEnv(t)
	e.req("GET", "/integrations/status?x=1", e.user, "")
	logs := e.logs.String()
	line := grep(logs, `"msg":"http request"`)
	for _, want := range []string{`"method":"GET"`, `"route":"GET /integrations/status"`, `"path":"/integrations/status"`, `"status":200`, `"duration":`, `"remote":"127.0.0.1:`, `"token_id":"` + e.userTok.ID + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("access log %q lacks %s", line, want)
		}
	}
	if strings.Contains(logs, e.user) || strings.Contains(strings.ToLower(logs), "authorization") {
		t.Errorf("access log carries credentials: %s", logs)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln, 5*time.Second) }()

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil on a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepting after Serve returned")
	}
}

// In-flight requests finish during the grace period.
func TestServeDrainsInFlight(t *testing.T) {
	e := newEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	e.srv.HandlePublicForTest("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln, 5*time.Second) }()

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q", body)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// A request that outlives the grace period is cut off and Serve reports it.
func TestServeShutdownTimeout(t *testing.T) {
	e := newEnv(t)
	entered := make(chan struct{})
	e.srv.HandlePublicForTest("GET /stuck", func(_ http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // only a closed connection ends this
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln, 100*time.Millisecond) }()

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		if resp, err := client.Get("http://" + ln.Addr().String() + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve = %v, want a shutdown timeout error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not give up after the shutdown timeout")
	}
	<-clientDone
}

func TestServeListenerError(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := e.srv.Serve(context.Background(), ln, time.Second); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

// grep returns the lines of s containing sub.
func grep(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
