package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/policy/sharedbreaker"
	"github.com/junctionhq/junction/internal/servicetest"
)

// TestClusterRedisFaults: two nodes sharing circuits through Redis, each through its own
// fault proxy. With node B's Redis black-holed (connections open, nothing answered), B
// still calls and answers at once: its breakers stay local (sharedbreaker). A circuit
// opened on A meanwhile reaches B once B's Redis forwards again. With A's Redis slowed
// (300 ms added per chunk each way), A's reset still reaches B; how long each took is
// logged.
func TestClusterRedisFaults(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(up.Close)
	var id [4]byte
	_, _ = rand.Read(id[:])
	name := "Flaky" + hex.EncodeToString(id[:]) // its Redis key is the test's own
	c := newTestCluster(t, 2, `integration `+name+` {
    base_url: env(FLAKY_URL)
    circuit_breaker: { threshold: 2 consecutive failures, reset_after: 10m }
    operation ping { method: GET  path: "/ping" }
}
`, "FLAKY_URL="+up.URL)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
		defer rdb.Close()
		rdb.Del(context.Background(), sharedbreaker.DefaultPrefix+name)
	})
	circuit := func(n int) string {
		return c.api(n).expect(200, "GET", "/integrations/"+name+"/health", nil)["circuit_state"].(string)
	}
	// A bounded client: a node whose calls waited on Redis would show as a timeout here.
	client := http.Client{Timeout: 20 * time.Second}
	call := func(n int) (int, error) {
		req, _ := http.NewRequest("POST", c.proc(n).base+"/integrations/"+name+"/operations/ping", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	c.nodes[1].redis.BlackHole()
	began := time.Now()
	if status, err := call(1); err != nil || status == http.StatusOK {
		t.Fatalf("a call on B with its Redis black-holed: %d %v", status, err)
	}
	onB := time.Since(began)
	for range 5 {
		if circuit(0) == "open" {
			break
		}
		if _, err := call(0); err != nil {
			t.Fatal(err)
		}
	}
	if s := circuit(0); s != "open" {
		t.Fatalf("A's circuit is %s after failing calls", s)
	}
	stateOnB := circuit(1) // answered while cut off: whatever B's own breaker says

	c.nodes[1].redis.Heal()
	healed := time.Now()
	waitUntil(t, 30*time.Second, "B to answer the circuit as open once its Redis forwards again", func() bool { return circuit(1) == "open" })
	caughtUp := time.Since(healed)

	c.nodes[0].redis.Delay(300 * time.Millisecond)
	c.api(0).expect(200, "POST", "/integrations/"+name+"/circuit/reset", nil)
	reset := time.Now()
	waitUntil(t, 30*time.Second, "B to answer the circuit as closed after A's reset over a slow Redis", func() bool { return circuit(1) == "closed" })
	slowReset := time.Since(reset)
	c.nodes[0].redis.Heal()
	t.Logf("B's Redis black-holed: a call on B answered in %v, B's circuit read %s while A's was open; B open %v after its Redis forwarded again; A's reset reached B in %v with 300 ms added per chunk on A's Redis",
		onB.Round(time.Millisecond), stateOnB, caughtUp.Round(time.Millisecond), slowReset.Round(time.Millisecond))
}
