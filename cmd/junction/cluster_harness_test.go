package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/servicetest"
)

// testCluster is a cluster started by a test (issue 14): N `junction serve` nodes on one
// PostgreSQL schema of the test's own (servicetest.PostgresDSN, dropped at the end) and
// one Redis, each node reaching both through fault proxies of its own, so a test can cut
// one node off from the database or Redis (refuse, black-hole, delay) while the others
// go on. A node can be killed with SIGKILL and restarted with the same node id.
//
// Redis has no key prefix option in Junction (REDIS_URL is host, port and database
// number): tests keep their Redis keys apart by naming integrations uniquely, and delete
// the keys they made themselves.
type testCluster struct {
	t     *testing.T
	dir   string
	cfg   string
	token string
	dsn   string // the test's schema, directly (not through a proxy)
	env   []string
	nodes []*clusterNode
}

// clusterNode is one node: its id, its proxies, and the process of its current life.
type clusterNode struct {
	id    string
	pg    *servicetest.FaultProxy
	redis *servicetest.FaultProxy
	env   []string
	lives int // how many times it was started

	mu   sync.Mutex
	proc *process // nil while the node is down
}

// newTestCluster writes config, migrates the database, makes an admin token and starts
// n nodes (node-a, node-b …). env is added to every node's environment.
func newTestCluster(t *testing.T, n int, config string, env ...string) *testCluster {
	t.Helper()
	redisAddr := servicetest.RedisAddr(t)
	dsn := servicetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pgAddr := u.Host
	if pgAddr == "" {
		pgAddr = "127.0.0.1:5432"
	}
	c := &testCluster{t: t, dir: t.TempDir(), dsn: dsn, env: env}
	c.cfg = filepath.Join(c.dir, "cluster.cai")
	writeFile(t, c.cfg, config)
	c.token = adminToken(t, c.dir, append([]string{"DATABASE_URL=" + dsn}, env...)) // migrates before any node starts
	for i := range n {
		node := &clusterNode{id: fmt.Sprintf("node-%c", 'a'+i)}
		node.pg = servicetest.NewFaultProxy(t, pgAddr)
		node.redis = servicetest.NewFaultProxy(t, redisAddr)
		via := *u
		via.Host = node.pg.Addr()
		node.env = append([]string{
			"DATABASE_URL=" + via.String(),
			"REDIS_URL=redis://" + node.redis.Addr() + "/0",
			"JUNCTION_NODE_ID=" + node.id,
		}, env...)
		c.nodes = append(c.nodes, node)
	}
	for i := range c.nodes {
		c.start(i)
	}
	return c
}

// start starts node i (again), waiting until it answers /healthz.
func (c *testCluster) start(i int) *process {
	c.t.Helper()
	n := c.nodes[i]
	p := startServer(c.t, c.dir, n.env, "-c", c.cfg)
	n.mu.Lock()
	n.proc = p
	n.lives++
	n.mu.Unlock()
	return p
}

// kill ends node i with SIGKILL and waits for the process to be gone.
func (c *testCluster) kill(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		c.t.Fatalf("%s is not running", n.id)
	}
	if code := p.stop(c.t, syscall.SIGKILL); code == 0 {
		c.t.Errorf("SIGKILL did not kill %s", n.id)
	}
}

// proc is node i's current process, nil while it is down.
func (c *testCluster) proc(i int) *process {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// bases are the addresses of the nodes up now; safe from any goroutine.
func (c *testCluster) bases() []string {
	var out []string
	for i := range c.nodes {
		if p := c.proc(i); p != nil {
			out = append(out, p.base)
		}
	}
	return out
}

// api is a client of node i (which must be up).
func (c *testCluster) api(i int) api {
	p := c.proc(i)
	if p == nil {
		c.t.Fatalf("%s is down", c.nodes[i].id)
	}
	return api{t: c.t, base: p.base, token: c.token}
}

// status is GET /cluster as node i answers it, and its nodes by id.
func (c *testCluster) status(i int) (cluster.Status, map[string]cluster.NodeStatus) {
	c.t.Helper()
	p := c.proc(i)
	if p == nil {
		c.t.Fatalf("%s is down", c.nodes[i].id)
	}
	return clusterOf(c.t, p, c.token)
}

// holder is the id of the node GET /cluster (asked of node i) shows holding lease, or "".
func (c *testCluster) holder(i int, lease string) string {
	c.t.Helper()
	_, nodes := c.status(i)
	for id, n := range nodes {
		if n.State != cluster.NodeUp {
			continue
		}
		for _, l := range n.Leases {
			if l == lease {
				return id
			}
		}
	}
	return ""
}

// index is the position of the node with id.
func (c *testCluster) index(id string) int {
	for i, n := range c.nodes {
		if n.id == id {
			return i
		}
	}
	c.t.Fatalf("no node %s", id)
	return -1
}

// TestClusterHarness checks the harness itself: three nodes list each other as up in
// GET /cluster; a node killed with SIGKILL and restarted under its node id is up again,
// on a new address.
func TestClusterHarness(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, `integration A { base_url: "http://127.0.0.1:1" }`+"\n", "JUNCTION_LEASE_TTL=2s")
	allUp := func(from int) bool {
		_, nodes := c.status(from)
		up := 0
		for _, n := range c.nodes {
			if s, ok := nodes[n.id]; ok && s.State == cluster.NodeUp {
				up++
			}
		}
		return up == len(c.nodes)
	}
	waitUntil(t, 30*time.Second, "three nodes up", func() bool { return allUp(0) })
	before := c.proc(1).base
	c.kill(1)
	waitUntil(t, 30*time.Second, "the killed node shown as down", func() bool {
		_, nodes := c.status(0)
		return nodes["node-b"].State == cluster.NodeDown
	})
	c.start(1)
	waitUntil(t, 30*time.Second, "the restarted node up again", func() bool { return allUp(2) })
	_, nodes := c.status(2)
	if got := nodes["node-b"].Address; "http://"+got == before || "http://"+got != c.proc(1).base {
		t.Errorf("the restarted node-b is listed at %s (was %s, now serves at %s)", got, before, c.proc(1).base)
	}
	if len(nodes) != 3 {
		t.Errorf("GET /cluster lists %d nodes after a restart under the same id: %+v", len(nodes), nodes)
	}
}
