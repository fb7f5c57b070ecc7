package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/servicetest"
)

// clusterOf reads GET /cluster from s, by node id.
func clusterOf(t *testing.T, s *process, token string) (cluster.Status, map[string]cluster.NodeStatus) {
	t.Helper()
	resp, body := s.get(t, "/cluster", token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /cluster = %d %s", resp.StatusCode, body)
	}
	var st cluster.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	byID := map[string]cluster.NodeStatus{}
	for _, n := range st.Nodes {
		byID[n.ID] = n
	}
	return st, byID
}

// TestClusterTwoNodes starts two `junction serve` processes on one PostgreSQL database:
// GET /cluster on either lists both, up, with their addresses and configuration
// version; a reload of one with another configuration shows the versions differing;
// `junction cluster status` prints both; after one is killed with SIGKILL its heartbeat
// goes stale and it is shown as down within the lease time to live (2 s here).
func TestClusterTwoNodes(t *testing.T) {
	t.Parallel()
	dsn := servicetest.PostgresDSN(t)
	env := []string{"DATABASE_URL=" + dsn, "JUNCTION_LEASE_TTL=2s"}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration A { base_url: "http://127.0.0.1:1" }`+"\n")
	token := adminToken(t, dir, env) // migrates the database before either process starts
	a := startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-a"), "-c", cfg)
	b := startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-b"), "-c", cfg)

	st, nodes := clusterOf(t, a, token)
	for id, s := range map[string]*process{"node-a": a, "node-b": b} {
		n, ok := nodes[id]
		if !ok {
			t.Fatalf("GET /cluster does not list %s: %+v", id, st)
		}
		if n.State != cluster.NodeUp || "http://"+n.Address != s.base || n.Version == "" || n.ConfigVersion == "" || n.ConfigDiffers || n.Self != (id == "node-a") {
			t.Errorf("%s = %+v (serving at %s)", id, n, s.base)
		}
	}
	if nodes["node-a"].ConfigVersion != nodes["node-b"].ConfigVersion {
		t.Errorf("the same file, different versions: %s, %s", nodes["node-a"].ConfigVersion, nodes["node-b"].ConfigVersion)
	}
	if st.LeaseTTL != 2 || st.SharedState["circuits"] != "per-node" || st.SharedState["rate_limits"] != "per-node" {
		t.Errorf("GET /cluster = %+v", st)
	}

	// b reloads another configuration: the two versions differ, and each says so.
	before := nodes["node-b"].ConfigVersion
	writeFile(t, cfg, `integration A { base_url: "http://127.0.0.1:2" }`+"\n")
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "b's new configuration version", func() bool {
		_, nodes = clusterOf(t, a, token)
		return nodes["node-b"].ConfigVersion != before
	})
	if !nodes["node-a"].ConfigDiffers || !nodes["node-b"].ConfigDiffers {
		t.Errorf("after b's reload: a %+v, b %+v; want both marked as differing", nodes["node-a"], nodes["node-b"])
	}

	out, errOut, code := run(t, dir, nil, "cluster", "status", "--server", b.base, "--token", token)
	if code != 0 || !strings.Contains(out, "node-a ") || !strings.Contains(out, "node-b *") || !strings.Contains(out, "(differs)") || !strings.Contains(out, "Per node: ") {
		t.Errorf("cluster status = %d\n%s%s", code, out, errOut)
	}

	if code := b.stop(t, syscall.SIGKILL); code == 0 {
		t.Error("SIGKILL did not kill")
	}
	killed := time.Now()
	waitUntil(t, 30*time.Second, "the killed node shown as down", func() bool {
		_, nodes = clusterOf(t, a, token)
		return nodes["node-b"].State == cluster.NodeDown
	})
	down := time.Since(killed)
	if n := nodes["node-b"]; n.StoppedAt != nil || time.Since(n.LastHeartbeat) < 2*time.Second {
		t.Errorf("the killed node = %+v", n)
	}
	if n := nodes["node-a"]; n.State != cluster.NodeUp || n.ConfigDiffers {
		t.Errorf("the survivor = %+v; want up, no longer differing from any up node", n)
	}
	// A clean stop marks the node stopped.
	if code := a.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("node-a exited %d on SIGTERM:\n%s", code, a.log())
	}
	c := startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-c"), "-c", cfg)
	_, nodes = clusterOf(t, c, token)
	if n := nodes["node-a"]; n.State != cluster.NodeStopped || n.StoppedAt == nil {
		t.Errorf("node-a after SIGTERM = %+v; want stopped", n)
	}
	if nodes["node-c"].ConfigVersion != nodes["node-b"].ConfigVersion {
		t.Errorf("node-c runs %s, node-b ran %s from the same file", nodes["node-c"].ConfigVersion, nodes["node-b"].ConfigVersion)
	}
	t.Logf("the killed node was shown as down %v after SIGKILL (lease time to live 2s)", down.Round(time.Millisecond))
}
