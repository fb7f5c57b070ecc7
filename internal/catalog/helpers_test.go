package catalog_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/integration"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// httptest servers' keep-alive connections close asynchronously after Close.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// entry is a catalog entry's integration built from a configuration that uses it, on a
// clock whose sleeps (back-off, Retry-After) pass at once; the fakes share the clock.
type entry struct {
	rt  *integration.Runtime
	clk *clock.Fake
	in  string
}

// useEntry builds the runtime of src (a configuration using a catalog entry, whose
// integration is named in) with env as the environment, on clk (nil: real time). It fails the test when the
// configuration has errors or the integration is misconfigured.
func useEntry(t *testing.T, clk *clock.Fake, in, src string, env map[string]string) *entry {
	t.Helper()
	cfg, diags := config.Decode("uses-catalog.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	m, err := integration.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	opts := integration.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:   m,
	}
	if clk != nil { // nil: real time
		opts.Clock = clk
	}
	rt, err := integration.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	for _, st := range rt.Statuses() {
		if st.Reason != "" {
			t.Fatalf("integration %s is misconfigured: %s", st.Name, st.Reason)
		}
	}
	return &entry{rt: rt, clk: clk, in: in}
}

func newClock() *clock.Fake { return clock.NewAutoFake(time.Now().Truncate(time.Second)) }

// call calls an operation; a failure of Junction's own fails the test.
func (e *entry) call(t *testing.T, op string, params map[string]any) *integration.Result {
	t.Helper()
	res, err := e.try(t, op, params, integration.CallOptions{})
	if err != nil {
		t.Fatalf("%s.%s: %v", e.in, op, err)
	}
	return res
}

func (e *entry) try(t *testing.T, op string, params map[string]any, co integration.CallOptions) (*integration.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.rt.Call(ctx, e.in, op, params, co)
}

// want fails the test unless res has the status and, when given, its body holds every
// fragment.
func want(t *testing.T, res *integration.Result, status int, fragments ...string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
	for _, f := range fragments {
		if !bytes.Contains(res.Body, []byte(f)) {
			t.Errorf("body %s lacks %s", res.Body, f)
		}
	}
}

// wantKind fails the test unless err is a call failure of the kind.
func wantKind(t *testing.T, err error, kind integration.Kind) *integration.Error {
	t.Helper()
	if integration.KindOf(err) != kind {
		t.Fatalf("error %v (%q), want kind %s", err, integration.KindOf(err), kind)
	}
	e, _ := err.(*integration.Error)
	return e
}

// object decodes a JSON answer.
func object(t *testing.T, res *integration.Result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatalf("body %s: %v", res.Body, err)
	}
	return m
}

// sleptAtLeast fails the test unless the clock was asked to sleep d or more once.
func sleptAtLeast(t *testing.T, clk *clock.Fake, d time.Duration) {
	t.Helper()
	for _, s := range clk.Slept() {
		if s >= d {
			return
		}
	}
	t.Errorf("slept %v, want a wait of at least %v (Retry-After)", clk.Slept(), d)
}

// src fills a configuration template: {{URL}} and the like become the values.
func src(tmpl string, vars ...string) string {
	return strings.NewReplacer(vars...).Replace(tmpl)
}

// githubSignature is X-Hub-Signature-256 as GitHub computes it.
func githubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
