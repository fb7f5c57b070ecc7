package server_test

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// Every error a handler returns goes through one mapper: each kind of error the runtime
// raises becomes its problem, with its status, type, headers and extensions, whoever
// returns it; what the mapper does not know is a 500 that shows nothing of the error.
func TestErrorMapping(t *testing.T) {
	const internals = "dial tcp 10.1.2.3:5432: connection refused"
	callErr := func(e integration.Error) error { return fmt.Errorf("call: %w", &e) }
	tests := []struct {
		name    string
		err     error
		status  int
		kind    server.Kind
		detail  string            // the whole detail, if not ""
		headers map[string]string // these headers, exactly
		members map[string]any    // these members, exactly (JSON numbers are float64)
		fields  []string          // errors[].field, in order
		logged  bool              // a server fault: in the log with the request id
	}{
		{name: "problem", err: server.NewProblem(server.KindForbidden, "no").WithHeader("X-Why", "because"),
			status: 403, kind: server.KindForbidden, detail: "no", headers: map[string]string{"X-Why": "because"}},
		{name: "not found", err: fmt.Errorf("get thing: %w", store.ErrNotFound),
			status: 404, kind: server.KindNotFound, detail: "no such resource"},
		{name: "conflict", err: fmt.Errorf("create thing: %w: %w", store.ErrConflict, errors.New("UNIQUE constraint failed: things.id")),
			status: 409, kind: server.KindConflict, detail: "the request conflicts with what is stored; retry it"},
		{name: "unavailable", err: fmt.Errorf("list things: %w: %w", store.ErrUnavailable, errors.New(internals)),
			status: 503, kind: server.KindUnavailable, headers: map[string]string{"Retry-After": "5"},
			members: map[string]any{"retry_after_seconds": 5.0}, logged: true},
		{name: "unknown", err: errors.New("open /var/lib/junction/x: " + internals),
			status: 500, kind: server.KindInternal, detail: "the server hit an unexpected error; it has been logged", logged: true},
		{name: "joined", err: errors.Join(errors.New("first"), store.ErrNotFound),
			status: 404, kind: server.KindNotFound},
		{name: "circuit open", err: callErr(integration.Error{Kind: integration.KindCircuitOpen, Integration: "Users", Operation: "get", Detail: "circuit open", RetryAfter: 1500 * time.Millisecond}),
			status: 503, kind: server.KindCircuitOpen,
			headers: map[string]string{"X-Junction-Attempts": "0", "Retry-After": "2", "X-Junction-Circuit": "open"},
			members: map[string]any{"integration": "Users", "operation": "get", "retry_after_seconds": 2.0}},
		{name: "rate limited", err: callErr(integration.Error{Kind: integration.KindRateLimited, Integration: "Users", Detail: "rate limited"}),
			status: 429, kind: server.KindRateLimited, headers: map[string]string{"Retry-After": "1", "X-Junction-Attempts": "0"}},
		{name: "invalid parameters", err: callErr(integration.Error{Kind: integration.KindInvalidParams, Integration: "Users", Operation: "create", Detail: "invalid parameters",
			Params: []integration.ParamError{{Param: "login", Detail: "required"}, {Param: "age", Detail: "expected an integer"}}}),
			status: 400, kind: server.KindInvalidRequest, fields: []string{"login", "age"}},
		{name: "graphql", err: callErr(integration.Error{Kind: integration.KindGraphQL, Integration: "GH", Operation: "q", Detail: "errors", Attempts: 1, GraphQL: []any{map[string]any{"message": "bad"}}}),
			status: 502, kind: server.KindGraphQL, headers: map[string]string{"X-Junction-Attempts": "1"},
			members: map[string]any{"attempts": 1.0, "graphql_errors": []any{map[string]any{"message": "bad"}}}},
		{name: "webhook validation", err: &webhook.ValidationError{Fields: map[string]string{"url": "bad", "name": "empty"}},
			status: 400, kind: server.KindInvalidRequest, fields: []string{"name", "url"}},
		{name: "token validation", err: &auth.ValidationError{Fields: []auth.FieldError{{Field: "role", Detail: "bad"}, {Field: "name", Detail: "blank"}}},
			status: 400, kind: server.KindInvalidRequest, detail: "the token request is invalid; see errors", fields: []string{"role", "name"}},
		{name: "role", err: &auth.RoleError{Need: auth.RoleAdmin, Have: auth.RoleUser},
			status: 403, kind: server.KindForbidden},
		{name: "self-revocation", err: auth.ErrRevokeSelf,
			status: 403, kind: server.KindForbidden, detail: "a token cannot revoke itself; use another admin token"},
		// The outermost error that says what it is decides: a replay that failed again in
		// an enrich step is a failed replay, not a failed call.
		{name: "replay failed in a call", err: &flow.ReplayError{Step: &flow.StepError{Step: "enrich", Err: callErr(integration.Error{Kind: integration.KindTimeout, Integration: "Users"})}},
			status: 409, kind: server.KindReplayFailed, members: map[string]any{"step": "enrich"}},
		{name: "flow stopped", err: fmt.Errorf("%w: start flow orders to replay its dead letters", flow.ErrStopped),
			status: 409, kind: server.KindFlowStopped, detail: "flow: not running: start flow orders to replay its dead letters"},
		{name: "flow not found", err: fmt.Errorf("%w: %q", flow.ErrNotFound, "nope"),
			status: 404, kind: server.KindNotFound, detail: `flow: not found: "nope"`},
		{name: "flow cannot start", err: &flow.StartError{Flow: "orders", Err: errors.New("flow orders: sink out: connection refused")},
			status: 503, kind: server.KindUnavailable, detail: "flow orders: sink out: connection refused"},
		{name: "signature", err: fmt.Errorf("verify: %w", inbound.ErrSignature),
			status: 401, kind: server.KindInvalidSignature},
		{name: "payload too large", err: webhook.ErrPayloadTooLarge,
			status: 413, kind: server.KindPayloadTooLarge},
	}
	e := newEnv(t)
	for i, tt := range tests {
		path := "/err/" + strconv.Itoa(i)
		e.srv.HandleFuncForTest("GET "+path, func(http.ResponseWriter, *http.Request) error { return tt.err })
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/err/" + strconv.Itoa(i)
			id := "req-" + strconv.Itoa(i)
			resp := e.req("GET", path, e.user, "", server.HeaderRequestID, id)
			p := problem(t, resp, tt.status, tt.kind, path)
			if tt.detail != "" && p["detail"] != tt.detail {
				t.Errorf("detail %q, want %q", p["detail"], tt.detail)
			}
			if strings.Contains(string(resp.body), "10.1.2.3") {
				t.Errorf("the answer quotes the error's internals: %s", resp.body)
			}
			for k, v := range tt.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for k, v := range tt.members {
				if got := fmt.Sprint(p[k]); got != fmt.Sprint(v) {
					t.Errorf("member %s = %v, want %v", k, p[k], v)
				}
			}
			if tt.fields != nil {
				if got := fieldErrors(t, p); !slices.Equal(got, tt.fields) {
					t.Errorf("fields %v, want %v", got, tt.fields)
				}
			}
			line := grep(e.logs.String(), `"msg":"request failed"`)
			logged := strings.Contains(line, `"request_id":"`+id+`"`)
			if logged != tt.logged {
				t.Errorf("logged with its request id: %v, want %v; log:\n%s", logged, tt.logged, line)
			}
			if logged && !strings.Contains(grep(line, `"request_id":"`+id+`"`), "10.1.2.3") {
				t.Errorf("the log lacks the error itself: %s", line)
			}
		})
	}
}

// An error returned after the answer has begun cannot become a problem: the answer
// stays as it was sent, and the error goes to the log.
func TestErrorAfterTheAnswerStarted(t *testing.T) {
	e := newEnv(t)
	e.srv.HandleFuncForTest("GET /late", func(w http.ResponseWriter, _ *http.Request) error {
		w.WriteHeader(http.StatusAccepted)
		return errors.New("lost after the header")
	})
	resp := e.req("GET", "/late", e.user, "")
	if resp.StatusCode != http.StatusAccepted || len(resp.body) != 0 {
		t.Errorf("answer %d %q, want the 202 the handler sent", resp.StatusCode, resp.body)
	}
	if !strings.Contains(grep(e.logs.String(), `"msg":"request failed"`), "lost after the header") {
		t.Errorf("the late error is not logged:\n%s", e.logs.String())
	}
}

// A request's id ties its access log line to the error a 500 does not show: a proxy's
// X-Request-Id when it is a sensible one, a new id otherwise.
func TestRequestIDInLogs(t *testing.T) {
	e := newEnv(t)
	e.req("GET", "/integrations/status", e.user, "", server.HeaderRequestID, "edge-42")
	if line := grep(e.logs.String(), `"route":"GET /integrations/status"`); !strings.Contains(line, `"request_id":"edge-42"`) {
		t.Errorf("access log lacks the proxy's request id: %s", line)
	}
	for _, bad := range []string{"unusable\xffid", strings.Repeat("long", 40)} {
		e.req("GET", "/readyz", "", "", server.HeaderRequestID, bad)
	}
	lines := grep(e.logs.String(), `"route":"GET /readyz"`)
	if n := strings.Count(lines, "\n"); n != 2 {
		t.Fatalf("%d access log lines for /readyz, want 2:\n%s", n, lines)
	}
	for line := range strings.Lines(lines) {
		if strings.Contains(line, "unusable") || strings.Contains(line, "longlong") || !strings.Contains(line, `"request_id":"`) {
			t.Errorf("access log with an unusable request id: %s", line)
		}
	}
}

// The server speaks to the runtime through narrow interfaces (issue 10): none of its
// files imports the store or the configuration model.
func TestServerImportsNeitherStoreNorConfig(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/junctionhq/junction/internal/store") || path == "github.com/junctionhq/junction/internal/config" {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
