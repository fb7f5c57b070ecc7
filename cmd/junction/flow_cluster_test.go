package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/servicetest"
)

// tickSink is the flow's sink: an HTTP upstream that records when each tick arrives.
type tickSink struct {
	*httptest.Server
	mu       sync.Mutex
	arrivals []time.Time
}

func newTickSink(t *testing.T) *tickSink {
	s := &tickSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.arrivals = append(s.arrivals, time.Now())
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *tickSink) list() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.arrivals)
}

// since counts the arrivals after t.
func (s *tickSink) since(t time.Time) int {
	n := 0
	for _, a := range s.list() {
		if a.After(t) {
			n++
		}
	}
	return n
}

func flowOf(t *testing.T, s *process, token, name string) flow.Status {
	t.Helper()
	resp, body := s.get(t, "/flows/"+name, token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /flows/%s = %d %s", name, resp.StatusCode, body)
	}
	var st flow.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestScheduleFlowOnceAcrossTwoNodes: two `junction serve` nodes on one PostgreSQL run a
// flow whose source is a schedule ticking every second (on the second, so both nodes'
// ticks would fall in the same seconds). One node holds the lease flow-source:ticks and
// ticks; the other stands by, saying which node holds it, and GET /cluster shows the
// lease on the holder. Every second's tick reaches the sink once. The holder is killed
// with SIGKILL: the other takes the lease within its time to live (3 s here) and ticks
// go on from it.
func TestScheduleFlowOnceAcrossTwoNodes(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	dsn := servicetest.PostgresDSN(t)
	sink := newTickSink(t)
	env := []string{"DATABASE_URL=" + dsn, "JUNCTION_LEASE_TTL=" + ttl.String(), "SINK_URL=" + sink.URL}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ticks.cai")
	writeFile(t, cfg, `integration Sink {
    base_url: env(SINK_URL)
    operation tick { method: POST  path: "/tick" }
}
connector clock { type: schedule  cron: "* * * * * *" }
connector out { type: integration }
flow ticks {
    source: clock
    sink upstream { connector: out  integration: Sink  operation: tick }
}
`)
	token := adminToken(t, dir, env) // migrates the database before either process starts
	nodes := map[string]*process{
		"node-a": startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-a"), "-c", cfg),
		"node-b": startServer(t, dir, append(env, "JUNCTION_NODE_ID=node-b"), "-c", cfg),
	}

	// One node runs the source, the other stands by naming it.
	var holder, standby string
	waitUntil(t, 30*time.Second, "one node running the flow, the other standing by", func() bool {
		sa, sb := flowOf(t, nodes["node-a"], token, "ticks"), flowOf(t, nodes["node-b"], token, "ticks")
		switch {
		case sa.State == flow.StateRunning && sb.State == flow.StateStandby && sb.SourceHolder == "node-a":
			holder, standby = "node-a", "node-b"
		case sb.State == flow.StateRunning && sa.State == flow.StateStandby && sa.SourceHolder == "node-b":
			holder, standby = "node-b", "node-a"
		}
		return holder != ""
	})
	if st := flowOf(t, nodes[holder], token, "ticks"); st.SourceLease != "flow-source:ticks" {
		t.Errorf("the holder's flow = %+v; want source_lease flow-source:ticks", st)
	}
	_, members := clusterOf(t, nodes[standby], token)
	if !slices.Contains(members[holder].Leases, "flow-source:ticks") || slices.Contains(members[standby].Leases, "flow-source:ticks") {
		t.Errorf("GET /cluster leases: %s %v, %s %v; want flow-source:ticks on %s only", holder, members[holder].Leases, standby, members[standby].Leases, holder)
	}

	// Both nodes up for eight ticks: each reaches the sink once, all from the holder.
	both := time.Now()
	waitUntil(t, 30*time.Second, "eight ticks with both nodes up", func() bool { return sink.since(both) >= 8 })
	if st := flowOf(t, nodes[standby], token, "ticks"); st.Counters.Received != 0 || st.State != flow.StateStandby {
		t.Errorf("the standby node's flow = %+v; want standby, nothing received", st)
	}

	// Kill the holder: the other takes the lease over and ticks on.
	if code := nodes[holder].stop(t, syscall.SIGKILL); code == 0 {
		t.Error("SIGKILL did not kill")
	}
	killed := time.Now()
	survivor := nodes[standby]
	waitUntil(t, 30*time.Second, "the survivor to run the flow", func() bool {
		return flowOf(t, survivor, token, "ticks").State == flow.StateRunning
	})
	takeover := time.Since(killed)
	waitUntil(t, 30*time.Second, "the survivor's first tick", func() bool { return sink.since(killed) >= 1 })
	var resumed time.Duration
	for _, a := range sink.list() {
		if a.After(killed) {
			resumed = a.Sub(killed)
			break
		}
	}
	waitUntil(t, 30*time.Second, "five ticks from the survivor", func() bool { return sink.since(killed) >= 5 })
	_, members = clusterOf(t, survivor, token)
	if !slices.Contains(members[standby].Leases, "flow-source:ticks") {
		t.Errorf("after the takeover GET /cluster shows %s holding %v", standby, members[standby].Leases)
	}
	if code := survivor.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("the survivor exited %d on SIGTERM:\n%s", code, survivor.log())
	}

	// A tick per second, from one node at a time: the arrivals are no more than the
	// seconds they span (plus one for where the first and last fall in their seconds;
	// one more for a tick held up by a loaded machine). Ticks from both nodes would be
	// about twice that. (The standby node's received counter above is the direct proof.)
	arrivals := sink.list()
	span := arrivals[len(arrivals)-1].Sub(arrivals[0])
	if limit := int(span/time.Second) + 2; len(arrivals) > limit {
		t.Errorf("%d ticks arrived in %v: more than one per second", len(arrivals), span.Round(time.Millisecond))
	}
	// The lease's time to live bounds the takeover; the slack is for a loaded machine.
	if takeover > ttl+5*time.Second {
		t.Errorf("the survivor ran the flow %v after the kill; the lease time to live is %v", takeover, ttl)
	}
	t.Logf("takeover: the survivor's flow ran %v after SIGKILL, its first tick reached the sink %v after (lease TTL %v, renew %v); %d ticks in all, none twice",
		takeover.Round(time.Millisecond), resumed.Round(time.Millisecond), ttl, ttl/3, len(sink.list()))
}

// TestScheduleFlowRestartOnSQLite: on SQLite there is one node, so a schedule flow runs
// at once, and after a SIGKILL a restarted server (a new node id) frees the leases its
// previous life left instead of waiting out their time to live (15 s by default): the
// flow runs again before the killed process's lease could have expired.
func TestScheduleFlowRestartOnSQLite(t *testing.T) {
	t.Parallel()
	sink := newTickSink(t)
	env := []string{"SINK_URL=" + sink.URL}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ticks.cai")
	writeFile(t, cfg, `integration Sink {
    base_url: env(SINK_URL)
    operation tick { method: POST  path: "/tick" }
}
connector clock { type: schedule  every: 200ms }
connector out { type: integration }
flow ticks {
    source: clock
    sink upstream { connector: out  integration: Sink  operation: tick }
}
`)
	token := adminToken(t, dir, env)
	first := startServer(t, dir, env, "-c", cfg)
	waitUntil(t, 30*time.Second, "ticks from the first process", func() bool { return len(sink.list()) >= 2 })
	if code := first.stop(t, syscall.SIGKILL); code == 0 {
		t.Error("SIGKILL did not kill")
	}
	killed := time.Now()
	second := startServer(t, dir, env, "-c", cfg)
	waitUntil(t, 30*time.Second, "ticks from the restarted process", func() bool { return sink.since(killed) >= 2 })
	// The killed process renewed its lease at most 5 s (a third of 15 s) before dying:
	// it held until at least 10 s after the kill.
	if d := time.Since(killed); d >= 10*time.Second {
		t.Errorf("the restarted process ticked %v after the kill; it waited for the dead process's lease", d)
	}
	_, members := clusterOf(t, second, token)
	for id, n := range members {
		if n.Self && !slices.Contains(n.Leases, "flow-source:ticks") {
			t.Errorf("the restarted node %s holds %v", id, n.Leases)
		}
		if !n.Self && len(n.Leases) > 0 {
			t.Errorf("the killed node %s still holds %v", id, n.Leases)
		}
	}
}
