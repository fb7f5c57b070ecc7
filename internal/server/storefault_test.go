package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
)

// answerBound is how soon a request must be answered while the store fails: well within
// the server's 60 s write timeout, after which a client gets no answer at all. It is a
// correctness bound (an answer came), not a speed claim; the tests log the real times.
const answerBound = 30 * time.Second

// faultServer is the management API with the webhook service, served by the real
// http.Server (with its write timeout) over loopback, on a store opened the way
// `junction serve` opens it (backend.Open).
type faultServer struct {
	t      *testing.T
	st     store.Store
	base   string
	admin  string // a token already checked, so it is cached
	client *http.Client
	logs   *testkit.SyncBuffer
}

func startFaultServer(t *testing.T, databaseURL string) *faultServer {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	f := &faultServer{t: t, st: st, logs: &testkit.SyncBuffer{}, client: &http.Client{Timeout: 45 * time.Second}}
	logger, err := telemetry.NewLogger(f.logs, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := webhook.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhook.New(st, webhook.SettingsFrom(nil), webhook.Options{Logger: slog.New(slog.DiscardHandler), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	// The clock stands still, so a token the authenticator has checked stays cached (its
	// 5 s lifetime never ends) and requests with it reach their handler's own store
	// calls however long the fault lasts; fresh tokens make the lookup hit the store.
	opts := serverOn(st, logger, func() time.Time { return testNow })
	opts.Webhooks = hooks
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.base = "http://" + ln.Addr().String()
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		// The client's idle connections go first: one it dialled for a burst but never
		// used has sent no request, and the server's graceful shutdown waits up to 5 s
		// for such a connection before it counts it as idle.
		f.client.CloseIdleConnections()
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", f.logs.String())
		}
	})
	f.admin = f.issue(store.RoleAdmin)
	if r := f.do(f.probe("warm up admin token", "GET", "/webhooks", f.admin, "")); r.status != http.StatusOK {
		t.Fatalf("GET /webhooks: %d %s", r.status, r.body)
	}
	return f
}

// issue makes a token that no request has used yet.
func (f *faultServer) issue(role store.Role) string {
	f.t.Helper()
	secret, _, err := auth.Issue(context.Background(), f.st, role, "fault test", testNow)
	if err != nil {
		f.t.Fatalf("issue token: %v", err)
	}
	return secret
}

type probe struct {
	name, method, path, token, body string
	ok                              int // the status when the store is healthy
}

func (f *faultServer) probe(name, method, path, token, body string) probe {
	ok := http.StatusOK
	if method == http.MethodPost {
		ok = http.StatusAccepted
	}
	return probe{name, method, path, token, body, ok}
}

// probes are the requests each fault is tried with; fresh is a token never used before.
func (f *faultServer) probes(fresh string) []probe {
	return []probe{
		f.probe("POST /events", "POST", "/events", f.admin, `{"type":"order.created","data":{"n":1}}`),
		f.probe("GET /webhooks", "GET", "/webhooks", f.admin, ""),
		f.probe("token lookup", "GET", "/webhooks", fresh, ""),
		f.probe("GET /readyz", "GET", "/readyz", "", ""),
	}
}

type answer struct {
	probe
	status  int
	header  http.Header
	body    string
	elapsed time.Duration
	err     error
}

func (f *faultServer) do(p probe) answer {
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	req, err := http.NewRequest(p.method, f.base+p.path, body)
	if err != nil {
		return answer{probe: p, err: err}
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	if p.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		return answer{probe: p, err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{probe: p, status: resp.StatusCode, header: resp.Header, body: string(b), elapsed: time.Since(start), err: err}
}

// doAll sends the probes at once, as clients would.
func (f *faultServer) doAll(ps []probe) []answer {
	out := make([]answer, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { out[i] = f.do(p) })
	}
	wg.Wait()
	return out
}

// expectUnavailable checks that every answer is a 503 problem of kind unavailable with
// Retry-After, answered within answerBound, and logs how long each took.
func expectUnavailable(t *testing.T, fault string, answers []answer) {
	t.Helper()
	for _, a := range answers {
		if a.err != nil {
			t.Errorf("%s, %s: no answer after %v: %v", fault, a.name, a.elapsed.Round(time.Millisecond), a.err)
			continue
		}
		t.Logf("%s, %s: %d in %v", fault, a.name, a.status, a.elapsed.Round(time.Millisecond))
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("%s, %s: status %d, want 503; body %s", fault, a.name, a.status, a.body)
			continue
		}
		if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s, %s: Content-Type %q, want application/problem+json", fault, a.name, ct)
		}
		if want := `"type":"` + server.KindUnavailable.TypeURI() + `"`; !strings.Contains(a.body, want) {
			t.Errorf("%s, %s: body %s lacks %s", fault, a.name, a.body, want)
		}
		if secs, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || secs < 1 {
			t.Errorf("%s, %s: Retry-After %q, want a number of seconds", fault, a.name, a.header.Get("Retry-After"))
		}
		if a.elapsed > answerBound {
			t.Errorf("%s, %s: answered after %v, want within %v", fault, a.name, a.elapsed, answerBound)
		}
	}
}

// waitHealthy sends the probes until every one succeeds: the store recovered by itself.
func (f *faultServer) waitHealthy(t *testing.T, after string, ps []probe) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for tries := 1; ; tries++ {
		var failed []string
		for _, a := range f.doAll(ps) {
			if a.err != nil || a.status != a.ok {
				failed = append(failed, fmt.Sprintf("%s: %d %v %s", a.name, a.status, a.err, a.body))
			}
		}
		if len(failed) == 0 {
			t.Logf("%s: every request succeeds after %v (%d rounds)", after, time.Since(start).Round(time.Millisecond), tries)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: requests still fail after %v:\n%s", after, time.Since(start), strings.Join(failed, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for the event
	}
}

// TestPostgresFaultsAnswer503 puts a TCP proxy between the server and PostgreSQL and
// makes it refuse connections, black-hole them (accept and forward nothing, also on the
// pool's connections already open), and slow them down (a byte every 250 ms: even a
// ping, about 25 bytes there and back, then takes longer than /readyz's 2 s). Each time,
// publishing an event, listing webhooks, a request whose fresh token must be looked up
// and /readyz answer 503 `unavailable` with Retry-After well within the write timeout,
// and all succeed again once the proxy forwards normally. Run it alone to see the times:
//
//	go test -count=1 -run TestPostgresFaultsAnswer503 -v ./internal/server/
func TestPostgresFaultsAnswer503(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := servicetest.NewFaultProxy(t, u.Host)
	u.Host = proxy.Addr()
	f := startFaultServer(t, u.String())
	f.waitHealthy(t, "start", f.probes(f.issue(store.RoleUser)))

	for _, c := range []struct {
		fault string
		start func()
	}{
		{"refusing", proxy.Refuse},
		{"black-holing", proxy.BlackHole},
		{"slow", func() { proxy.Slow(250 * time.Millisecond) }},
	} {
		t.Run(c.fault, func(t *testing.T) {
			fresh := f.issue(store.RoleUser)
			c.start()
			expectUnavailable(t, c.fault, f.doAll(f.probes(fresh)))
			proxy.Heal()
			// The fresh token was never accepted, so its lookup still hits the store.
			f.waitHealthy(t, c.fault+" healed", f.probes(fresh))
		})
	}
}

// TestSQLiteFailuresAnswer503: on SQLite, a database locked by another process for good
// fails writes with 503 (reads go on, WAL), and a store closed under the server fails
// every request with 503, not 500.
func TestSQLiteFailuresAnswer503(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junction.db")
	f := startFaultServer(t, path)
	fresh := f.issue(store.RoleUser)
	f.waitHealthy(t, "start", f.probes(f.issue(store.RoleUser)))

	t.Run("locked", func(t *testing.T) {
		other, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		conn, err := other.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
		writes := []probe{
			f.probe("POST /events", "POST", "/events", f.admin, `{"type":"order.created","data":{"n":1}}`),
			f.probe("POST /webhooks", "POST", "/webhooks", f.admin, `{"name":"a","url":"https://example.com/hook","events":["*"]}`),
		}
		writes[1].ok = http.StatusCreated
		expectUnavailable(t, "locked", f.doAll(writes))
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		f.waitHealthy(t, "unlocked", writes)
	})

	t.Run("closed", func(t *testing.T) {
		if err := f.st.Close(); err != nil {
			t.Fatal(err)
		}
		expectUnavailable(t, "closed", f.doAll(f.probes(fresh)))
	})
}
