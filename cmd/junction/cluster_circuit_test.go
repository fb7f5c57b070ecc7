package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/policy/sharedbreaker"
	"github.com/junctionhq/junction/internal/servicetest"
)

// TestClusterSharedCircuit: two nodes on one PostgreSQL and one Redis. A circuit opened
// by failures on node A is open on node B, and B's reset closes it on A; GET /cluster
// says circuits are shared through Redis.
func TestClusterSharedCircuit(t *testing.T) {
	t.Parallel()
	redisAddr := servicetest.RedisAddr(t)
	dsn := servicetest.PostgresDSN(t)
	var id [4]byte
	_, _ = rand.Read(id[:])
	name := "Flaky" + hex.EncodeToString(id[:]) // its Redis key is the test's own
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer rdb.Close()
		rdb.Del(context.Background(), sharedbreaker.DefaultPrefix+name)
	})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"down"}`))
	}))
	defer up.Close()

	env := []string{"DATABASE_URL=" + dsn, "REDIS_URL=redis://" + redisAddr + "/0"}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `
integration `+name+` {
    base_url: "`+up.URL+`"
    circuit_breaker: { threshold: 2 consecutive failures, reset_after: 10m }
    operation ping { method: GET  path: "/ping" }
}
`)
	token := adminToken(t, dir, env)
	na := startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-a"), "-c", cfg)
	nb := startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-b"), "-c", cfg)
	a := api{t: t, base: na.base, token: token}
	b := api{t: t, base: nb.base, token: token}

	if st, _ := clusterOf(t, nb, token); st.SharedState["circuits"] != "redis" {
		t.Errorf("GET /cluster shared_state = %v, want circuits: redis", st.SharedState)
	}
	circuit := func(c api) string {
		return c.expect(200, "GET", "/integrations/"+name+"/health", nil)["circuit_state"].(string)
	}

	for i := 0; i < 2 && circuit(a) != "open"; i++ {
		a.do("POST", "/integrations/"+name+"/operations/ping", map[string]any{})
	}
	if s := circuit(a); s != "open" {
		t.Fatalf("node A's circuit is %s after two failing calls", s)
	}
	opened := time.Now()
	eventually(t, "node B to answer the circuit as open", func() bool { return circuit(b) == "open" })
	t.Logf("open on A → open on B: %v (bound: 1s)", time.Since(opened).Round(time.Millisecond))
	// B refuses calls without sending them.
	if status, body := b.do("POST", "/integrations/"+name+"/operations/ping", map[string]any{}); status == 200 {
		t.Errorf("node B called through an open circuit: %d %v", status, body)
	}

	b.expect(200, "POST", "/integrations/"+name+"/circuit/reset", nil)
	reset := time.Now()
	eventually(t, "node A to answer the circuit as closed", func() bool { return circuit(a) == "closed" })
	t.Logf("reset on B → closed on A: %v (bound: 1s)", time.Since(reset).Round(time.Millisecond))
}
