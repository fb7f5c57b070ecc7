package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/policy/sharedbreaker"
	"github.com/junctionhq/junction/internal/servicetest"
)

// The loads of issue 14's kill test. They are the numbers, not scaled down.
const (
	killEvents    = 3000  // webhook events, each to killReceivers endpoints
	killReceivers = 4     //
	killMessages  = 10000 // messages through the RabbitMQ flow
	killEvery     = 10 * time.Second
	loadSpan      = 30 * time.Second // the loads are sent evenly over it, so that kills fall in them
	killLeaseTTL  = "3s"             // cluster leases (flow sources, retention); job ticks and webhook deliveries have their own
)

// killConfig: webhook fan-out, a RabbitMQ queue → queue flow (the source is read by every
// node, competing consumers; the sink's routing key is set, or it would be the message's
// own, the input queue's name), an every-1s job, and an integration whose circuit the test
// opens (shared through Redis).
func killConfig(in, out, flaky string) string {
	return fmt.Sprintf(`integration Hooks {
    type: webhook
    timeout: 2s
    retry_delays: [100ms, 500ms, 1s, 2s, 5s, 10s]
    allowed_networks: ["127.0.0.0/8"]
    workers: 16
}
integration Beat {
    base_url: env(BEAT_URL)
    timeout: 20s
    idempotency: { header: "Idempotency-Key" }
    operation tick { method: POST  path: "/tick" }
}
job heartbeat {
    every 1s
    catch_up none
    call "Beat.tick"
}
integration %[3]s {
    base_url: env(FLAKY_URL)
    circuit_breaker: { threshold: 2 consecutive failures, reset_after: 10m }
    operation ping { method: GET  path: "/ping" }
}
connector in { type: rabbitmq  url: %[4]q  queue: { name: %[1]q, durable: true } }
connector out { type: rabbitmq  url: %[4]q  queue: { name: %[2]q, durable: true } }
flow relay {
    source: in { batch_size: 100 }
    sink out { connector: out  routing_key: %[2]q }
}
`, in, out, flaky, rabbitURL)
}

// relayQueues declares the flow's two queues, counts the messages arriving on the
// output queue by id, and deletes both queues at the end.
type relayQueues struct {
	in, out string
	conn    *amqp.Connection
	mu      sync.Mutex
	byID    map[string]int
	total   int
}

func newRelayQueues(t *testing.T) *relayQueues {
	t.Helper()
	servicetest.Require(t, "RabbitMQ", "127.0.0.1:5672")
	q := &relayQueues{in: uniqueName("kill-in"), out: uniqueName("kill-out"), byID: map[string]int{}}
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Fatalf("RabbitMQ: %v", err)
	}
	q.conn = conn
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{q.in, q.out} {
		if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if ch, err := conn.Channel(); err == nil {
			_, _ = ch.QueueDelete(q.in, false, false, false)
			_, _ = ch.QueueDelete(q.out, false, false, false)
		}
		_ = conn.Close()
	})
	deliveries, err := ch.Consume(q.out, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for d := range deliveries {
			var m struct{ ID string }
			_ = json.Unmarshal(d.Body, &m)
			q.mu.Lock()
			q.byID[m.ID]++
			q.total++
			q.mu.Unlock()
		}
	}()
	return q
}

func (q *relayQueues) distinct() int { q.mu.Lock(); defer q.mu.Unlock(); return len(q.byID) }

// publish sends n messages to the input queue with publisher confirms, 500 at a time
// spread over loadSpan;
// it reports the first error (it runs in its own goroutine, so it cannot end the test).
func (q *relayQueues) publish(n int) error {
	ch, err := q.conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	for start := 0; start < n; start += 500 {
		time.Sleep(time.Until(began.Add(loadSpan * time.Duration(start) / time.Duration(n)))) // a timetable
		var confirms []*amqp.DeferredConfirmation
		for i := start; i < min(start+500, n); i++ {
			c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q.in, false, false, amqp.Publishing{
				Body: fmt.Appendf(nil, `{"id":"m-%05d","n":%d}`, i, i), DeliveryMode: amqp.Persistent, ContentType: "application/json"})
			if err != nil {
				return err
			}
			confirms = append(confirms, c)
		}
		for _, c := range confirms {
			if ok, err := c.WaitContext(ctx); !ok || err != nil {
				return fmt.Errorf("RabbitMQ did not confirm a publish: %v", err)
			}
		}
	}
	return nil
}

// publishEvents posts n events, spread over loadSpan, through whichever nodes are up,
// round robin, by 8 publishers; each event is sent again, with its id, until a node answers 202, as a
// client whose node died would. It reports how many posts failed (a node killed under
// them).
func publishEvents(c *testCluster, n int) (failed int64) {
	next := make(chan int)
	var wg sync.WaitGroup
	var turn, fails atomic.Int64
	for range 8 {
		wg.Go(func() {
			for i := range next {
				body := fmt.Sprintf(`{"id":"evt-%05d","type":"kill.test","data":{"n":%d}}`, i, i)
				for !postEvent(c, int(turn.Add(1)), body) {
					fails.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	began := time.Now()
	for i := range n {
		if i%100 == 0 {
			time.Sleep(time.Until(began.Add(loadSpan * time.Duration(i) / time.Duration(n)))) // a timetable
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return fails.Load()
}

func postEvent(c *testCluster, turn int, body string) bool {
	bases := c.bases()
	if len(bases) == 0 {
		return false
	}
	req, _ := http.NewRequest("POST", bases[turn%len(bases)]+"/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

// progress records when each load was complete, polled by a goroutine of its own.
type progress struct {
	began     time.Time
	mu        sync.Mutex
	hooksDone time.Duration // 0 until every receiver has every event
	flowDone  time.Duration
	receivers []*hookReceiver
	q         *relayQueues
}

// String is how far the loads are, for logs.
func (p *progress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var events []int
	for _, r := range p.receivers {
		events = append(events, r.distinctEvents())
	}
	out := 0
	if p.q != nil {
		out = p.q.distinct()
	}
	return fmt.Sprintf("%v: events at each receiver %v of %d, messages out %d of %d", time.Since(p.began).Round(time.Millisecond), events, killEvents, out, killMessages)
}

func (p *progress) watch(ctx context.Context, receivers []*hookReceiver, q *relayQueues) {
	p.mu.Lock()
	p.receivers, p.q = receivers, q
	p.mu.Unlock()
	for ctx.Err() == nil {
		all := true
		for _, r := range receivers {
			all = all && r.distinctEvents() == killEvents
		}
		p.mu.Lock()
		if all && p.hooksDone == 0 {
			p.hooksDone = time.Since(p.began)
		}
		if q.distinct() == killMessages && p.flowDone == 0 {
			p.flowDone = time.Since(p.began)
		}
		done := p.hooksDone != 0 && p.flowDone != 0
		p.mu.Unlock()
		if done {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *progress) done() (hooks, flow time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hooksDone, p.flowDone
}

// TestClusterKillNine is issue 14's kill test. Three nodes on one PostgreSQL and one
// Redis carry 3,000 webhook events to 4 receivers, 10,000 messages through a RabbitMQ
// queue → queue flow and an every-1s job, while one node is killed with SIGKILL every
// 10 s and restarted under its node id. No event and no message is lost (every receiver
// gets every event, the output queue every message); duplicates (deliveries and messages
// made again after a kill) are counted and logged, not failed: delivery is at least
// once. Every job tick from the first to the last is claimed once and completed once at
// the job's target (re-sends of a tick in flight at a kill carry the tick's idempotency
// key, and are counted). A circuit opened on one node is answered as open by another.
func TestClusterKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster kill test skipped in -short mode")
	}
	t.Parallel()
	q := newRelayQueues(t)
	beat := newBeatUpstream(t)
	beat.work = 500 * time.Millisecond // half of each second has a tick in flight for the kills to interrupt
	flakyUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(flakyUp.Close)
	var id [4]byte
	_, _ = rand.Read(id[:])
	flaky := "Flaky" + hex.EncodeToString(id[:]) // its Redis key is the test's own
	c := newTestCluster(t, 3, killConfig(q.in, q.out, flaky),
		"BEAT_URL="+beat.URL, "FLAKY_URL="+flakyUp.URL, "JUNCTION_LEASE_TTL="+killLeaseTTL)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
		defer rdb.Close()
		rdb.Del(context.Background(), sharedbreaker.DefaultPrefix+flaky)
	})
	receivers := make([]*hookReceiver, killReceivers)
	for i := range receivers {
		receivers[i] = newHookReceiver(t)
		c.api(0).expect(201, "POST", "/webhooks", map[string]any{"name": fmt.Sprint("r", i), "url": receivers[i].URL, "events": []string{"kill.*"}})
	}
	conn, err := pgx.Connect(context.Background(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// The loads, in goroutines of their own; the kills, here.
	prog := &progress{began: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go prog.watch(ctx, receivers, q)
	var loads sync.WaitGroup
	var publishFails int64
	var publishErr error
	loads.Go(func() { publishFails = publishEvents(c, killEvents) })
	loads.Go(func() { publishErr = q.publish(killMessages) })
	kills, restarts, circuit := killEvery10s(t, c, prog, flaky)
	loads.Wait()
	if publishErr != nil {
		t.Fatalf("publishing to RabbitMQ: %v", publishErr)
	}

	// Every node up again: everything arrives, deliveries a dead node had leased after
	// their lease (2 × timeout + 30 s).
	deadline := time.Now().Add(2 * time.Minute)
	for !loadsDone(prog) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for every event at every receiver and every message at the output queue; %v", prog)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every tick due by now settles: a tick a killed node held, the last kill's included
	// (it may have fallen a moment ago), is taken over after its 30 s lease; a tick due
	// later runs on a live node, which finishes it at its SIGTERM.
	settledBy := time.Now().UTC().Format(time.RFC3339Nano)
	waitUntil(t, 90*time.Second, "every job tick settled (a dead node's after its 30 s lease)", func() bool {
		return len(heartbeatRuns(t, conn, " AND status <> 'succeeded' AND tick <= '"+settledBy+"'")) == 0
	})
	for i := range c.nodes {
		if code := c.proc(i).stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("%s exited %d on SIGTERM", c.nodes[i].id, code)
		}
	}
	total := time.Since(prog.began)

	hookDups, msgDups := countDuplicates(t, receivers, q)
	ticks, resent, gap := checkTicks(t, conn, beat)
	hooks, flow := prog.done()
	t.Logf("%v under load in all; %d kills (one every %v, each node restarted under its id, restarts took %v); %d event posts failed on a dying node and were sent again",
		total.Round(time.Millisecond), kills, killEvery, restarts, publishFails)
	t.Logf("webhooks: %d events × %d receivers, sent over %v, all delivered %v after the start (%.0f deliveries/s); %d duplicate deliveries (same webhook-id)",
		killEvents, killReceivers, loadSpan, hooks.Round(time.Millisecond), float64(killEvents*killReceivers)/hooks.Seconds(), hookDups)
	t.Logf("flow: %d messages through RabbitMQ, sent over %v, all out %v after the start (%.0f msg/s); %d duplicates", killMessages, loadSpan, flow.Round(time.Millisecond), float64(killMessages)/flow.Seconds(), msgDups)
	t.Logf("job: %d ticks, each completed once at the target; %d ticks sent again after a kill (same key); longest gap between ticks reaching the target %v", ticks, resent, gap.Round(time.Millisecond))
	t.Logf("circuit opened on %s answered as open by %s %v later (bound: 1 s)", circuit.a, circuit.b, circuit.took.Round(time.Millisecond))
}

type circuitSeen struct {
	a, b string
	took time.Duration
}

// killEvery10s kills a node every killEvery from 5 s after the loads began, round robin, and restarts it, until the
// loads are through and every node was killed at least once; after the first restart it
// opens a circuit on the restarted node and times how soon the next node sees it open.
func killEvery10s(t *testing.T, c *testCluster, prog *progress, flaky string) (kills int, restarts []time.Duration, seen circuitSeen) {
	began := time.Now()
	for kills < 3 || !loadsDone(prog) {
		if kills == 12 {
			t.Logf("still not through after %d kills: the kills stop, the loads go on", kills)
			break
		}
		next := began.Add(5*time.Second + time.Duration(kills)*killEvery)
		time.Sleep(time.Until(next)) // the kills' timetable, not a wait for something
		i := kills % len(c.nodes)
		c.kill(i)
		killed := time.Now()
		c.start(i)
		restarts = append(restarts, time.Since(killed).Round(time.Millisecond))
		kills++
		t.Logf("killed and restarted %s; %v", c.nodes[i].id, prog)
		if kills == 1 {
			seen = openCircuit(t, c, i, (i+1)%len(c.nodes), flaky)
		}
	}
	return kills, restarts, seen
}

func loadsDone(p *progress) bool {
	h, f := p.done()
	return h != 0 && f != 0
}

// openCircuit fails calls on node a until its circuit is open, then polls node b.
func openCircuit(t *testing.T, c *testCluster, a, b int, flaky string) circuitSeen {
	t.Helper()
	state := func(n int) string {
		return c.api(n).expect(200, "GET", "/integrations/"+flaky+"/health", nil)["circuit_state"].(string)
	}
	for range 5 {
		if state(a) == "open" {
			break
		}
		c.api(a).do("POST", "/integrations/"+flaky+"/operations/ping", map[string]any{})
	}
	if s := state(a); s != "open" {
		t.Fatalf("%s's circuit is %s after failing calls", c.nodes[a].id, s)
	}
	opened := time.Now()
	waitUntil(t, 30*time.Second, "the other node to answer the circuit as open", func() bool { return state(b) == "open" })
	return circuitSeen{a: c.nodes[a].id, b: c.nodes[b].id, took: time.Since(opened)}
}

// countDuplicates checks that nothing was lost, and counts what came more than once.
func countDuplicates(t *testing.T, receivers []*hookReceiver, q *relayQueues) (hookDups, msgDups int) {
	t.Helper()
	for i, r := range receivers {
		r.mu.Lock()
		if len(r.byEvent) != killEvents {
			t.Errorf("receiver %d got %d distinct events of %d", i, len(r.byEvent), killEvents)
		}
		for _, n := range r.byEvent {
			hookDups += n - 1
		}
		if len(r.byMsg) != killEvents {
			t.Errorf("receiver %d saw %d distinct webhook-ids for %d events: a duplicate must repeat its webhook-id", i, len(r.byMsg), killEvents)
		}
		r.mu.Unlock()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range killMessages {
		if q.byID[fmt.Sprintf("m-%05d", i)] == 0 {
			t.Errorf("message m-%05d never reached the output queue", i)
		}
	}
	if len(q.byID) != killMessages {
		t.Errorf("%d distinct messages on the output queue, %d sent", len(q.byID), killMessages)
	}
	return hookDups, q.total - len(q.byID)
}

// checkTicks: every second from the first tick to the last has one run, succeeded, whose
// key was completed once at the target, and the target got no other key.
func checkTicks(t *testing.T, conn *pgx.Conn, beat *beatUpstream) (ticks, resent int, gap time.Duration) {
	t.Helper()
	runs := heartbeatRuns(t, conn, "")
	beat.mu.Lock()
	defer beat.mu.Unlock()
	keys := map[string]bool{}
	owners := map[string]int{}
	for i, r := range runs {
		keys[heartbeatKey(r.Tick)] = true
		owners[r.Owner]++
		if i > 0 && !r.Tick.Equal(runs[i-1].Tick.Add(time.Second)) {
			t.Errorf("no run between ticks %v and %v", runs[i-1].Tick, r.Tick)
		}
		if r.Status != "succeeded" {
			t.Errorf("tick %v is %s, owned by %s", r.Tick, r.Status, r.Owner)
		}
		if n := beat.completions[heartbeatKey(r.Tick)]; n != 1 {
			t.Errorf("tick %v completed %d times at the job's target", r.Tick, n)
		}
	}
	var first []time.Time
	for k, at := range beat.arrivals {
		if !keys[k] {
			t.Errorf("the job's target got key %s, which is no tick's", k)
		}
		if len(at) > 1 {
			resent++
		}
		first = append(first, at[0])
	}
	if len(runs) < 10 {
		t.Fatalf("only %d ticks", len(runs))
	}
	t.Logf("job ticks by the process that ran them: %v", owners)
	slices.SortFunc(first, time.Time.Compare)
	for i := 1; i < len(first); i++ {
		gap = max(gap, first[i].Sub(first[i-1]))
	}
	return len(runs), resent, gap
}
