package runtime

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/webhook"
)

// testDeps are the dependencies of a runtime on a fresh SQLite store.
func testDeps(t testing.TB) Deps {
	t.Helper()
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/j.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	reg := telemetry.NewRegistry()
	ints, err := integration.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhook.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := flow.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	bus := event.New(quiet())
	t.Cleanup(bus.Close)
	return Deps{
		Store: st, Bus: bus, Logger: quiet(), Registry: reg,
		LookupEnv: func(string) (string, bool) { return "", false },
		Metrics:   Metrics{Integrations: ints, Webhooks: hooks, Flows: flows},
	}
}

func decode(t testing.TB, src string) *config.Config {
	t.Helper()
	cfg, diags := config.Decode("t.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	return cfg
}

// A connector no flow uses is still checked: serve refuses what validate refuses, with
// the position; an unset variable is not an error (the flows using it say so).
func TestBuildChecksEveryConnector(t *testing.T) {
	deps := testDeps(t)
	_, err := Build(decode(t, `connector q { type: rabbitmq  url: "amqp://127.0.0.1/"  queue: "q"  prefech: 5 }`), deps, nil)
	if err == nil || !strings.Contains(err.Error(), "t.cai:1:") || !strings.Contains(err.Error(), "did you mean prefetch") {
		t.Fatalf("Build = %v", err)
	}
	for what, src := range map[string]string{
		"an unset variable": `connector q { type: rabbitmq  url: env(AMQP_URL)  queue: "q" }`,
		// What a flow's use of a connector supplies is not missing from the connector.
		"options given where a flow uses the connector": `connector inbox { type: http }
connector out { type: webhook }
flow f { source: inbox { path: "orders" }  sink s { connector: out  event_type: "order.in" } }`,
	} {
		rt, err := Build(decode(t, src), deps, nil)
		if err != nil {
			t.Fatalf("%s failed the build: %v", what, err)
		}
		if err := rt.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// A reload swaps the runtime at once and retires the old one after the calls in flight
// on it: a call under way finishes on the old settings while new calls see the new ones.
// A configuration that cannot be built changes nothing.
func TestHostReload(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(200)
	}))
	defer up.Close()
	conf := func(name string) *config.Config {
		return decode(t, fmt.Sprintf(`integration %s { base_url: %q
			operation slow { method: GET  path: "/slow" }
			operation fast { method: GET  path: "/fast" } }`, name, up.URL))
	}
	h, err := Start(t.Context(), conf("Old"), testDeps(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())

	slow := make(chan error, 1)
	go func() {
		res, err := h.Call(context.Background(), "Old", "slow", nil, integration.CallOptions{})
		if err == nil && res.Status != 200 {
			err = fmt.Errorf("status %d", res.Status)
		}
		slow <- err
	}()
	<-entered
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.Reload(context.Background(), conf("New")) }()

	// The new runtime is in force while the old one waits for its call.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := h.Call(context.Background(), "New", "fast", nil, integration.CallOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new configuration never took over")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-reloaded:
		t.Fatalf("the reload finished (%v) while a call was in flight on the old runtime", err)
	default:
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("the call in flight during the reload: %v", err)
	}
	if err := <-reloaded; err != nil {
		t.Fatalf("Reload: %v", err)
	}

	if err := h.Reload(context.Background(), decode(t, `connector q { type: nosuch }`)); err == nil {
		t.Fatal("a configuration that cannot be built was accepted")
	}
	if _, err := h.Call(context.Background(), "New", "fast", nil, integration.CallOptions{}); err != nil {
		t.Fatalf("after a rejected reload: %v", err)
	}
}

// Declared webhooks: a block serve cannot run is refused by Build with its position;
// a good one is in the store once the runtime has started (not before: Build writes
// nothing), managed.
func TestDeclaredWebhooksStartWithTheRuntime(t *testing.T) {
	deps := testDeps(t)
	if _, err := Build(decode(t, `webhook w { event "no such type!"  url "https://h.example.com" }`), deps, nil); err == nil || !strings.Contains(err.Error(), "t.cai:1:1: webhook w:") {
		t.Fatalf("Build = %v", err)
	}
	cfg := decode(t, `webhook w { event "order.*"  url "https://h.example.com" }`)
	rt, err := Build(cfg, deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if eps, _ := deps.Store.EndpointsManagedOrNamed(t.Context(), nil); len(eps) != 0 {
		t.Fatalf("Build wrote endpoints: %v", eps)
	}
	if err := rt.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	h, err := Start(t.Context(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	eps, _, err := h.Webhooks().ListEndpoints(t.Context(), webhook.EndpointFilter{Page: webhook.Page{Page: 1, Limit: 10}})
	if err != nil || len(eps) != 1 || !eps[0].Managed || eps[0].Name != "w" {
		t.Fatalf("endpoints after Start: %v, %v", eps, err)
	}
	if st, ok := h.Webhooks().Declared(eps[0]); !ok || st.At != "t.cai:1:1" {
		t.Errorf("Declared = %+v, %v", st, ok)
	}
}

// The refused webhooks kept in memory survive a reload (the user fixing the
// configuration still sees why the provider was refused); a source the reload removes
// takes its own with it.
func TestRejectionsSurviveReload(t *testing.T) {
	deps := testDeps(t)
	deps.LookupEnv = func(k string) (string, bool) { return "s3cret", k == "GH_SECRET" }
	both := decode(t, "source gh { verify: github  secret: env(GH_SECRET) }\nsource other { verify: github  secret: env(GH_SECRET) }")
	h, err := Start(t.Context(), both, deps)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	for _, src := range []string{"gh", "other"} {
		if _, err := h.Webhooks().Ingest(t.Context(), src, webhook.Received{Header: http.Header{}, Body: []byte(`{}`)}); err == nil {
			t.Fatalf("an unsigned webhook to %s was accepted", src)
		}
	}
	count := func(src string) int {
		rs, err := h.Webhooks().ListRejections(src, 100)
		if err != nil {
			t.Fatalf("ListRejections(%s): %v", src, err)
		}
		return len(rs)
	}
	if err := h.Reload(t.Context(), both); err != nil {
		t.Fatal(err)
	}
	if count("gh") != 1 || count("other") != 1 {
		t.Errorf("after a reload: %d and %d rejections, want 1 each", count("gh"), count("other"))
	}
	if err := h.Reload(t.Context(), decode(t, "source gh { verify: github  secret: env(GH_SECRET) }")); err != nil {
		t.Fatal(err)
	}
	if count("gh") != 1 || count("") != 1 {
		t.Errorf("after removing other: gh has %d, all sources %d; want 1 and 1", count("gh"), count(""))
	}
}
