package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/cluster"
)

// TestClusterAPI: GET /cluster answers the nodes of this node's database with their
// leases, configuration versions and states, from the node that answers.
func TestClusterAPI(t *testing.T) {
	e := newEnv(t, func(o *testOptions) {
		n, err := cluster.New(cluster.Options{Store: o.Store, ID: "node-a", Address: "10.0.0.1:8080", Version: "v1", ConfigVersion: "c1",
			SharedState: map[string]string{"circuits": "per-node"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Stop(context.Background()) })
		if _, err := n.Lease(ctx, "job-scheduler", nil); err != nil {
			t.Fatal(err)
		}
		o.Cluster = n
	}).start()
	var doc map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := e.req("GET", "/cluster", e.user, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /cluster = %d %s", resp.StatusCode, resp.body)
		}
		doc = resp.json(t)
		nodes := doc["nodes"].([]any)
		if len(nodes) == 1 && len(nodes[0].(map[string]any)["leases"].([]any)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /cluster never showed the node's lease: %v", doc)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := doc["nodes"].([]any)[0].(map[string]any)
	if n["id"] != "node-a" || n["address"] != "10.0.0.1:8080" || n["version"] != "v1" || n["state"] != "up" || n["self"] != true ||
		n["config_version"] != "c1" || n["config_differs"] != false || n["leases"].([]any)[0] != "job-scheduler" {
		t.Errorf("node = %v", n)
	}
	for _, k := range []string{"started_at", "last_heartbeat"} {
		if _, err := time.Parse(time.RFC3339Nano, n[k].(string)); err != nil {
			t.Errorf("%s = %v", k, n[k])
		}
	}
	if doc["shared_state"].(map[string]any)["circuits"] != "per-node" || doc["lease_ttl_seconds"] != 15.0 {
		t.Errorf("GET /cluster = %v", doc)
	}
	if resp := e.req("GET", "/cluster", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /cluster without a token = %d", resp.StatusCode)
	}
}
