package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/flow"
)

// faultTicksConfig is a flow whose source is a schedule ticking every second: a one-node
// source, run by the holder of the lease flow-source:ticks.
const faultTicksConfig = `integration Sink {
    base_url: env(SINK_URL)
    operation tick { method: POST  path: "/tick" }
}
connector clock { type: schedule  cron: "* * * * * *" }
connector out { type: integration }
flow ticks {
    source: clock
    sink upstream { connector: out  integration: Sink  operation: tick }
}
`

// flowState asks a node for the flow's state with a short timeout: a node cut off from
// its database may not answer at all, which is "" here.
func flowState(base, token string) flow.Status {
	c := http.Client{Timeout: 2 * time.Second}
	req, _ := http.NewRequest("GET", base+"/flows/ticks", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return flow.Status{}
	}
	defer resp.Body.Close()
	var st flow.Status
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil {
		return flow.Status{}
	}
	return st
}

// TestClusterPostgresBlackHole: three nodes; the one holding the schedule flow's lease is
// cut off from PostgreSQL by a black hole (connections open, nothing answered), as a hung
// database server or a partition would. Another node takes the lease over once it lapses
// (time to live 3 s, renewed every second) and ticks go on from it; the cut-off node
// gives the lease up by then (no second tick in any second) and is shown as down. The failover time, from the black hole to
// the first tick from the new holder, is logged. When the proxy forwards again the node
// rejoins: up in GET /cluster, standing by for the flow.
func TestClusterPostgresBlackHole(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	sink := newTickSink(t)
	c := newTestCluster(t, 3, faultTicksConfig, "SINK_URL="+sink.URL, "JUNCTION_LEASE_TTL="+ttl.String())

	var holder string
	waitUntil(t, 30*time.Second, "a node holding the flow's lease and ticking", func() bool {
		holder = c.holder(0, "flow-source:ticks")
		return holder != "" && len(sink.list()) >= 2
	})
	h := c.index(holder)
	others := []int{(h + 1) % 3, (h + 2) % 3}
	hBase := c.proc(h).base

	c.nodes[h].pg.BlackHole()
	cut := time.Now()
	var next int
	waitUntil(t, 30*time.Second, "another node to run the flow", func() bool {
		for _, o := range others {
			if flowState(c.proc(o).base, c.token).State == flow.StateRunning {
				next = o
				return true
			}
		}
		return false
	})
	takeover := time.Since(cut)
	waitUntil(t, 30*time.Second, "ticks from the new holder", func() bool { return sink.since(cut.Add(takeover)) >= 2 })
	var resumed time.Duration
	for _, a := range sink.list() {
		if a.After(cut.Add(takeover)) {
			resumed = a.Sub(cut)
			break
		}
	}
	waitUntil(t, 30*time.Second, "the cut-off node shown as down", func() bool {
		_, nodes := c.status(next)
		return nodes[holder].State == cluster.NodeDown && len(nodes[holder].Leases) == 0
	})
	if got := c.holder(next, "flow-source:ticks"); got != c.nodes[next].id {
		t.Errorf("GET /cluster shows the lease on %q, want %s", got, c.nodes[next].id)
	}
	// The cut-off node gives the lease up: it cannot renew, so it must not tick on (the
	// count of ticks below shows it did not).
	waitUntil(t, 30*time.Second, "the cut-off node to give the lease up", func() bool {
		return strings.Contains(c.proc(h).log(), `msg="cluster: lease lost or given up" lease=flow-source:ticks`)
	})

	// A tick per second from one node at a time: no more arrivals than seconds spanned
	// (plus one for where the first and last fall, one for a loaded machine).
	overlapFrom := time.Now()
	waitUntil(t, 30*time.Second, "five more ticks", func() bool { return sink.since(overlapFrom) >= 5 })
	arrivals := sink.list()
	span := arrivals[len(arrivals)-1].Sub(arrivals[0])
	if limit := int(span/time.Second) + 2; len(arrivals) > limit {
		t.Errorf("%d ticks arrived in %v: more than one per second (did the cut-off node tick on?)", len(arrivals), span.Round(time.Millisecond))
	}

	// Forwarding again: the node rejoins and stands by.
	c.nodes[h].pg.Heal()
	healed := time.Now()
	waitUntil(t, 30*time.Second, "the cut-off node up again", func() bool {
		_, nodes := c.status(next)
		return nodes[holder].State == cluster.NodeUp
	})
	rejoined := time.Since(healed)
	waitUntil(t, 30*time.Second, "the rejoined node standing by for the flow", func() bool {
		st := flowState(hBase, c.token)
		return st.State == flow.StateStandby && st.SourceHolder == c.nodes[next].id
	})
	t.Logf("PostgreSQL black-holed for %s: another node (%s) ran the flow %v later, its first tick %v after the black hole (lease TTL %v, renewed every %v); after Heal it was up again in %v",
		holder, c.nodes[next].id, takeover.Round(time.Millisecond), resumed.Round(time.Millisecond), ttl, ttl/3, rejoined.Round(time.Millisecond))
}
