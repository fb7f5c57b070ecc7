package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/testkit"
)

// Serve starts goroutines, and so do httptest servers and the store's pools.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// env is a running server on a real SQLite store with one admin and one user token.
type env struct {
	t        *testing.T
	store    *sqlite.Store
	srv      *server.Server
	ts       *httptest.Server
	reg      *prometheus.Registry
	logs     *testkit.SyncBuffer
	admin    string // secrets
	user     string
	adminTok store.Token
	userTok  store.Token
}

// testOptions are the server's options and the store the test server runs on: setups
// that build services (withWebhooks) build them on Store; the token service and the
// readiness check are made on it after the setups, unless a setup gave its own.
type testOptions struct {
	server.Options
	Store store.Store
}

// serverOn returns the options of a server on st with the token service and readiness
// check on st, at the given clock.
func serverOn(st store.Store, logger *slog.Logger, clock func() time.Time) server.Options {
	return server.Options{Tokens: auth.NewService(st, clock), Ready: server.StoreCheck(st), Logger: logger, Clock: clock}
}

// newEnv builds the env; setup may adjust options and register test routes before the
// HTTP server starts.
func newEnv(t *testing.T, setup ...func(*testOptions)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "junction.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	e := &env{t: t, store: st, logs: &testkit.SyncBuffer{}, reg: telemetry.NewRegistry()}
	logger, err := telemetry.NewLogger(e.logs, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return testNow }
	opts := testOptions{Options: server.Options{Logger: logger, Registry: e.reg, Clock: clock}, Store: st}
	for _, f := range setup {
		f(&opts)
	}
	if opts.Tokens == nil {
		opts.Tokens = auth.NewService(opts.Store, clock)
	}
	if opts.Ready == nil {
		opts.Ready = server.StoreCheck(opts.Store)
	}
	e.srv, err = server.New(opts.Options)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	// On opts.Store: a setup may have put another backend in place (withPostgres).
	if e.admin, e.adminTok, err = auth.Issue(ctx, opts.Store, store.RoleAdmin, "admin", testNow); err != nil {
		t.Fatal(err)
	}
	if e.user, e.userTok, err = auth.Issue(ctx, opts.Store, store.RoleUser, "user", testNow); err != nil {
		t.Fatal(err)
	}
	return e
}

// start serves e.srv over a real loopback connection.
func (e *env) start() *env {
	e.ts = httptest.NewServer(e.srv.Handler())
	e.t.Cleanup(e.ts.Close)
	return e
}

// response is a finished exchange.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// req sends a request. token "" sends no Authorization header; header values override.
func (e *env) req(method, path, token string, body string, header ...string) response {
	e.t.Helper()
	if e.ts == nil {
		e.start()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			r.Header.Del(header[i])
		} else {
			r.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := e.ts.Client().Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp, b}
}

// problem checks that resp is an RFC 9457 document of the given kind for path and
// returns it.
func problem(t *testing.T, resp response, status int, kind server.Kind, path string) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, resp.body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, resp.body)
	}
	p := resp.json(t)
	if p["type"] != "https://junction.dev/problems/"+string(kind) {
		t.Errorf("type = %v, want kind %s", p["type"], kind)
	}
	if s, _ := p["title"].(string); s == "" {
		t.Errorf("title missing: %s", resp.body)
	}
	if p["status"] != float64(status) {
		t.Errorf("status member = %v, want %d", p["status"], status)
	}
	if s, _ := p["detail"].(string); s == "" {
		t.Errorf("detail missing: %s", resp.body)
	}
	if p["instance"] != path {
		t.Errorf("instance = %v, want %s", p["instance"], path)
	}
	return p
}

// fieldErrors returns errors[].field of a problem.
func fieldErrors(t *testing.T, p map[string]any) []string {
	t.Helper()
	list, ok := p["errors"].([]any)
	if !ok {
		t.Fatalf("problem has no errors list: %v", p)
	}
	var fields []string
	for _, item := range list {
		m, _ := item.(map[string]any)
		f, ok := m["field"].(string)
		if !ok {
			t.Fatalf("error item without field: %v", item)
		}
		if d, _ := m["detail"].(string); d == "" {
			t.Errorf("error item without detail: %v", item)
		}
		fields = append(fields, f)
	}
	return fields
}
