package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServeStopsWithoutLeaks runs Serve in-process on a fresh SQLite file, reloads its
// configuration, cancels it, and lets goleak check that every goroutine it started ended.
func TestServeStopsWithoutLeaks(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.cai")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) }))
	defer upstream.Close()
	// Every local policy is on: without REDIS_URL they must run in-process.
	cfg := `integration A { base_url: "` + upstream.URL + `"
		rate_limit: { requests: 100, window: 1s } default_cache_ttl: 1m
		circuit_breaker: { threshold: 5 failures in 1m }
		operation get { method: GET path: "/x" } }
	connector tick { type: schedule  every: 20ms }
	connector inbox { type: http }
	connector out { type: log  level: debug }
	flow ticks { source: tick  sink s { connector: out } }
	flow inbound { source: inbox { path: "x" }  sink s { connector: out } }`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs, stderr testkit.SyncBuffer
	reload := make(chan struct{})
	addr := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Serve(ctx, Options{
			ConfigPaths: []string{cfgPath},
			DatabaseURL: filepath.Join(dir, "j.db"),
			Addr:        "127.0.0.1:0",
			Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
			Stderr:      &stderr,
			LookupEnv:   func(string) (string, bool) { return "", false },
			Reload:      reload,
			Listening:   func(a net.Addr) { addr <- a },
		})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case err := <-errc:
		t.Fatalf("Serve returned early: %v\n%s", err, logs.String())
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	token := regexp.MustCompile(`jct_[A-Za-z0-9_-]+`).FindString(stderr.String())
	if token == "" {
		t.Fatalf("first admin token not printed on stderr: %q", stderr.String())
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/integrations/A/operations/get", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("gateway call: %d %s\n%s", resp.StatusCode, body, logs.String())
	}
	// The integration metrics are on the server's /metrics.
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`junction_integration_calls_total{integration="A",operation="get",outcome="success"} 1`,
		`junction_integration_cache_total{integration="A",operation="get",result="miss"} 1`,
		`junction_integration_circuit_state{integration="A"} 0`,
		`junction_http_requests_total{code="200",method="POST",route="POST /integrations/{name}/operations/{op}"} 1`,
		`junction_webhook_queue_depth 0`,
		`junction_webhook_dead_letters 0`,
		`junction_flow_messages_total{flow="ticks",outcome="delivered"}`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Flows are replaced on reload: the old ones drain and stop, the new ones start.
	reload <- struct{}{}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "configuration reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("reload not logged:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestServeRejectsBadOptions(t *testing.T) {
	err := Serve(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("Serve without logger: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	err = Serve(context.Background(), Options{Logger: logger, Stderr: io.Discard, LookupEnv: os.LookupEnv, RedisURL: "redis//nope"})
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("bad REDIS_URL: %v", err)
	}
	err = Serve(context.Background(), Options{Logger: logger, Stderr: io.Discard, LookupEnv: os.LookupEnv, EventRetention: -time.Hour})
	if err == nil || !strings.Contains(err.Error(), "event retention must not be negative") {
		t.Errorf("negative event retention: %v", err)
	}
}
