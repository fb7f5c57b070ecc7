// Command cluster measures a Junction cluster on loopback (issue 14): for 1, 2 and 3
// `junction serve` processes on one PostgreSQL schema (and one Redis), webhook
// deliveries per second (-events events to 4 receivers, published through the nodes
// round robin by 16 publishers, timed from the first publish to the last event at the
// last receiver) and flow messages per second (-messages messages through a RabbitMQ
// queue → queue flow that every node consumes, timed from the first publish to the last
// message on the output queue; publishing with confirms overlaps the flow). With 2 nodes
// or more it also measures failover: the node holding a schedule flow's lease (ticking
// every 100 ms) is killed with SIGKILL, and the time to the first tick from another node
// is reported, with the lease time to live -lease-ttl.
//
// The junction binary is built from ./cmd/junction first (or -bin). Every node and the
// bench share the machine's cores, so on 2 cores more nodes do not mean more speed; the
// numbers show what sharing one database costs.
//
//	go run ./bench/cluster [-nodes 1,2,3] [-events 3000] [-messages 10000] [-lease-ttl 3s]
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

type options struct {
	bin, pg, amqp, redis string
	nodes                []int
	events, messages     int
	leaseTTL             time.Duration
}

func main() {
	var o options
	nodes := flag.String("nodes", "1,2,3", "cluster sizes to measure")
	flag.StringVar(&o.bin, "bin", "", "junction binary (default: built from ./cmd/junction)")
	flag.StringVar(&o.pg, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL (a schema of its own is made and dropped)")
	flag.StringVar(&o.amqp, "amqp", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ")
	flag.StringVar(&o.redis, "redis", "127.0.0.1:6379", "Redis (REDIS_URL of the nodes, database 0)")
	flag.IntVar(&o.events, "events", 3000, "webhook events (each to 4 receivers)")
	flag.IntVar(&o.messages, "messages", 10000, "flow messages")
	flag.DurationVar(&o.leaseTTL, "lease-ttl", 3*time.Second, "cluster lease time to live (JUNCTION_LEASE_TTL)")
	flag.Parse()
	for _, f := range strings.Split(*nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench/cluster: -nodes: %q is not a positive number\n", f)
			os.Exit(2)
		}
		o.nodes = append(o.nodes, n)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cluster:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "junction-cluster-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.bin == "" {
		o.bin = filepath.Join(dir, "junction")
		build := exec.Command("go", "build", "-o", o.bin, "./cmd/junction")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building junction (run from the repository's root): %w", err)
		}
	}
	fmt.Printf("%-6s %16s %14s %22s\n", "nodes", "deliveries/s", "flow msg/s", "failover (kill -9)")
	for _, n := range o.nodes {
		r, err := measure(o, dir, n)
		if err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
		fail := "-"
		if r.failover > 0 {
			fail = fmt.Sprintf("%v (TTL %v)", r.failover.Round(time.Millisecond), o.leaseTTL)
		}
		fmt.Printf("%-6d %16.0f %14.0f %22s\n", n, r.deliveries, r.flow, fail)
	}
	return nil
}

type result struct {
	deliveries, flow float64
	failover         time.Duration
}

// counter counts distinct ids and signals when it has want of them.
type counter struct {
	mu   sync.Mutex
	seen map[string]bool
	want int
	done chan struct{}
}

func newCounter(want int) *counter {
	return &counter{seen: map[string]bool{}, want: want, done: make(chan struct{})}
}

func (c *counter) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[id] {
		return
	}
	c.seen[id] = true
	if len(c.seen) == c.want {
		close(c.done)
	}
}

func (c *counter) wait(d time.Duration, what string) error {
	select {
	case <-c.done:
		return nil
	case <-time.After(d):
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("%s: %d of %d after %v", what, len(c.seen), c.want, d)
	}
}

// measure runs one cluster size in a schema and queues of its own.
func measure(o options, dir string, n int) (result, error) {
	var res result
	ctx := context.Background()
	suffix := randomHex()
	dsn, drop, err := schema(ctx, o.pg, "bench_cluster_"+suffix)
	if err != nil {
		return res, err
	}
	defer drop()
	qin, qout := "bench-cluster-in-"+suffix, "bench-cluster-out-"+suffix
	rmq, err := amqp.Dial(o.amqp)
	if err != nil {
		return res, fmt.Errorf("RabbitMQ: %w", err)
	}
	defer rmq.Close()
	ch, err := rmq.Channel()
	if err != nil {
		return res, err
	}
	for _, q := range []string{qin, qout} {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			return res, err
		}
		defer func() {
			if c, err := rmq.Channel(); err == nil {
				_, _ = c.QueueDelete(q, false, false, false)
			}
		}()
	}

	// Receivers: events (4 endpoints, an event counts when all 4 have it) and ticks.
	hooks := newCounter(o.events * 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ ID string }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &ev)
		hooks.add(r.URL.Path + " " + ev.ID)
	}))
	defer recv.Close()
	var ticks tickLog
	tickSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ticks.add(time.Now())
		w.WriteHeader(http.StatusNoContent)
	}))
	defer tickSrv.Close()

	cfg := filepath.Join(dir, "cluster-"+suffix+".cai")
	if err := os.WriteFile(cfg, []byte(config(o.amqp, qin, qout)), 0o600); err != nil {
		return res, err
	}
	env := append(os.Environ(), "DATABASE_URL="+dsn, "REDIS_URL=redis://"+o.redis+"/0",
		"JUNCTION_LEASE_TTL="+o.leaseTTL.String(), "SINK_URL="+tickSrv.URL)
	token, err := adminToken(o.bin, dir, env)
	if err != nil {
		return res, err
	}
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i], err = startNode(o.bin, dir, append(env, fmt.Sprintf("JUNCTION_NODE_ID=node-%d", i)), cfg)
		if err != nil {
			return res, err
		}
		defer nodes[i].kill()
	}
	for i := range 4 {
		body := fmt.Sprintf(`{"name":"r%d","url":%q,"events":["bench.*"]}`, i, fmt.Sprintf("%s/r%d", recv.URL, i))
		if code, err := post(nodes[0].base+"/webhooks", token, body); err != nil || code != http.StatusCreated {
			return res, fmt.Errorf("POST /webhooks: %d %v", code, err)
		}
	}

	began := time.Now()
	if err := publishEvents(nodes, token, o.events); err != nil {
		return res, err
	}
	if err := hooks.wait(5*time.Minute, "deliveries"); err != nil {
		return res, err
	}
	res.deliveries = float64(o.events*4) / time.Since(began).Seconds()

	flow, err := res.measureFlow(rmq, qin, qout, o.messages)
	if err != nil {
		return res, err
	}
	res.flow = flow
	if n > 1 {
		res.failover, err = failover(nodes, token, &ticks)
	}
	return res, err
}

func (res *result) measureFlow(rmq *amqp.Connection, qin, qout string, messages int) (float64, error) {
	out := newCounter(messages)
	ch, err := rmq.Channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	deliveries, err := ch.Consume(qout, "", true, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	go func() {
		for d := range deliveries {
			var m struct{ ID string }
			_ = json.Unmarshal(d.Body, &m)
			out.add(m.ID)
		}
	}()
	pub, err := rmq.Channel()
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	if err := pub.Confirm(false); err != nil {
		return 0, err
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var confirms []*amqp.DeferredConfirmation
	for i := range messages {
		c, err := pub.PublishWithDeferredConfirmWithContext(ctx, "", qin, false, false, amqp.Publishing{
			Body: fmt.Appendf(nil, `{"id":"m-%d"}`, i), DeliveryMode: amqp.Persistent, ContentType: "application/json"})
		if err != nil {
			return 0, err
		}
		confirms = append(confirms, c)
	}
	for _, c := range confirms {
		if ok, err := c.WaitContext(ctx); !ok || err != nil {
			return 0, fmt.Errorf("RabbitMQ did not confirm a publish: %v", err)
		}
	}
	if err := out.wait(5*time.Minute, "flow messages"); err != nil {
		return 0, err
	}
	return float64(messages) / time.Since(began).Seconds(), nil
}

// failover kills the holder of flow-source:ticks and times the first tick after.
func failover(nodes []*node, token string, ticks *tickLog) (time.Duration, error) {
	holder := -1
	deadline := time.Now().Add(30 * time.Second)
	for holder < 0 {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no node holds flow-source:ticks")
		}
		holder = leaseHolder(nodes, token)
		time.Sleep(50 * time.Millisecond)
	}
	nodes[holder].kill()
	killed := time.Now()
	deadline = killed.Add(time.Minute)
	for {
		if at, ok := ticks.after(killed); ok {
			return at.Sub(killed), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no tick within a minute of killing the holder")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaseHolder is the index of the node holding flow-source:ticks by GET /cluster, or -1.
func leaseHolder(nodes []*node, token string) int {
	req, _ := http.NewRequest("GET", nodes[0].base+"/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Nodes []struct {
			ID     string
			Leases []string
		}
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	for _, n := range st.Nodes {
		for _, l := range n.Leases {
			if l == "flow-source:ticks" {
				i, _ := strconv.Atoi(strings.TrimPrefix(n.ID, "node-"))
				return i
			}
		}
	}
	return -1
}

type tickLog struct {
	mu sync.Mutex
	at []time.Time
}

func (l *tickLog) add(t time.Time) { l.mu.Lock(); l.at = append(l.at, t); l.mu.Unlock() }

func (l *tickLog) after(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.at {
		if a.After(t) {
			return a, true
		}
	}
	return time.Time{}, false
}

func config(amqpURL, qin, qout string) string {
	return fmt.Sprintf(`integration Hooks {
    type: webhook
    timeout: 5s
    allowed_networks: ["127.0.0.0/8"]
    workers: 16
}
integration Sink {
    base_url: env(SINK_URL)
    operation tick { method: POST  path: "/tick" }
}
connector clock { type: schedule  every: 100ms }
connector tickout { type: integration }
flow ticks {
    source: clock
    sink upstream { connector: tickout  integration: Sink  operation: tick }
}
connector in { type: rabbitmq  url: %[1]q  queue: { name: %[2]q, durable: true } }
connector out { type: rabbitmq  url: %[1]q  queue: { name: %[3]q, durable: true } }
flow relay {
    source: in { batch_size: 100 }
    sink out { connector: out  routing_key: %[3]q }
}
`, amqpURL, qin, qout)
}

// publishEvents posts events through the nodes round robin, 16 at a time.
func publishEvents(nodes []*node, token string, events int) error {
	next := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 16 {
		wg.Go(func() {
			for i := range next {
				body := fmt.Sprintf(`{"id":"evt-%d","type":"bench.event","data":{"n":%d}}`, i, i)
				if code, err := post(nodes[i%len(nodes)].base+"/events", token, body); err != nil || code != http.StatusAccepted {
					failed.Add(1)
				}
			}
		})
	}
	for i := range events {
		next <- i
	}
	close(next)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d events were not accepted", f, events)
	}
	return nil
}

func post(u, token, body string) (int, error) {
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// node is a running `junction serve`.
type node struct {
	cmd  *exec.Cmd
	base string
	once sync.Once
}

var listeningRE = regexp.MustCompile(`msg="junction serving" addr=(\S+)`)

func startNode(bin, dir string, env []string, cfg string) (*node, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "-c", cfg)
	cmd.Dir, cmd.Env = dir, env
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{cmd: cmd}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		n.base = "http://" + a
	case <-time.After(30 * time.Second):
		n.kill()
		return nil, fmt.Errorf("junction serve did not start within 30s")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(n.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			n.kill()
			return nil, fmt.Errorf("junction serve not healthy within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill ends the node with SIGKILL (once) and reaps it.
func (n *node) kill() {
	n.once.Do(func() {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		_ = n.cmd.Wait()
	})
}

func adminToken(bin, dir string, env []string) (string, error) {
	cmd := exec.Command(bin, "token", "create", "--role", "admin", "--name", "bench")
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("junction token create: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// schema creates a schema and returns a DSN using it, and a function dropping it.
func schema(ctx context.Context, base, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	}
	return u.String(), drop, nil
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
