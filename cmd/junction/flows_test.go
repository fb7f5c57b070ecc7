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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/servicetest"
)

const rabbitURL = "amqp://guest:guest@127.0.0.1:5672/"

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// rabbit publishes test messages to RabbitMQ with publisher confirms, and deletes the
// test's exchange and queue at the end.
type rabbit struct {
	t    *testing.T
	conn *amqp.Connection
	ch   *amqp.Channel
}

func newRabbit(t *testing.T, exchange, queue string) *rabbit {
	t.Helper()
	servicetest.Require(t, "RabbitMQ", "127.0.0.1:5672")
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Fatalf("RabbitMQ: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	// Declared here too, so messages published before Junction starts are kept.
	if err := ch.ExchangeDeclare(exchange, "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, "order.*", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = ch.QueueDelete(queue, false, false, false)
		_ = ch.ExchangeDelete(exchange, false, false)
		_ = conn.Close()
	})
	return &rabbit{t: t, conn: conn, ch: ch}
}

// publish sends bodies and waits for RabbitMQ to confirm every one.
func (r *rabbit) publish(exchange, key string, bodies ...string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var confirms []*amqp.DeferredConfirmation
	for _, b := range bodies {
		c, err := r.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false,
			amqp.Publishing{Body: []byte(b), DeliveryMode: amqp.Persistent, ContentType: "application/json"})
		if err != nil {
			r.t.Fatalf("publish: %v", err)
		}
		confirms = append(confirms, c)
	}
	for _, c := range confirms {
		if ok, err := c.WaitContext(ctx); !ok || err != nil {
			r.t.Fatalf("RabbitMQ did not confirm a publish: %v", err)
		}
	}
}

// get takes up to n messages from queue, acknowledging them, and returns their bodies.
func (r *rabbit) get(queue string, n int) []string {
	r.t.Helper()
	var out []string
	for len(out) < n {
		d, ok, err := r.ch.Get(queue, true)
		if err != nil {
			r.t.Fatalf("get from %s: %v", queue, err)
		}
		if !ok {
			break
		}
		out = append(out, string(d.Body))
	}
	return out
}

// pgDB is the test's own PostgreSQL schema, where flows write.
type pgDB struct {
	t    *testing.T
	dsn  string
	conn *pgx.Conn
}

func newPG(t *testing.T, ddl string) *pgDB {
	t.Helper()
	dsn := servicetest.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	return &pgDB{t: t, dsn: dsn, conn: conn}
}

func (p *pgDB) ids(table string) []string {
	p.t.Helper()
	rows, err := p.conn.Query(context.Background(), "SELECT id FROM "+table+" ORDER BY id")
	if err != nil {
		p.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		p.t.Fatal(err)
	}
	return ids
}

func (p *pgDB) count(table string) int {
	p.t.Helper()
	var n int
	if err := p.conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

const orderTables = `
CREATE TABLE high_value_orders (id text PRIMARY KEY, customer_id text, total numeric, doc jsonb);
CREATE TABLE regular_orders (id text PRIMARY KEY, customer_id text, total numeric, doc jsonb);`

// orderFlowConfig is seed 002's order-sync without the enrich step (that one is tested
// with NATS below): RabbitMQ → transform → validate → route → two PostgreSQL tables.
func orderFlowConfig(exchange, queue string) string {
	return fmt.Sprintf(`
connector orders {
    type: rabbitmq
    url: %q
    exchanges: [{ name: %q, type: topic, durable: true }]
    queue: { name: %q, durable: true }
    bindings: [{ exchange: %q, routing_key: "order.*" }]
}
connector warehouse { type: postgres  url: env(WAREHOUSE_URL) }

flow order-sync {
    source: orders { batch_size: 100, visibility_timeout: 5m }
    step transform-order {
        transform: {
            id: "$.orderId"
            customer: { id: "$.customerId", email: "$.customerEmail" }
            items: "$.orderItems[*]"
            total: "$.orderTotal"
        }
    }
    step validate-order {
        validate: {
            type: "object"
            required: ["id", "customer", "total"]
            properties: {
                id: { type: "string" }
                total: { type: "number", minimum: 0 }
                customer: { type: "object", required: ["id"], properties: { id: { type: "string" } } }
            }
        }
    }
    step route-order {
        route: { "total >= 1000": "high-value-orders", else: "regular-orders" }
    }
    sink high-value-orders {
        connector: warehouse
        table: "high_value_orders"
        mode: upsert
        key: ["id"]
        columns: { id: "$.id", customer_id: "$.customer.id", total: "$.total", doc: "$" }
    }
    sink regular-orders {
        connector: warehouse
        table: "regular_orders"
        mode: upsert
        key: ["id"]
        columns: { id: "$.id", customer_id: "$.customer.id", total: "$.total", doc: "$" }
    }
    on_error: retry 3 times with exponential_backoff(100ms, max 1s) then dead_letter("failed-orders")
    monitoring: { metrics: true, logging: { level: info, include_payload: true } }
}
`, rabbitURL, exchange, queue, exchange)
}

func order(i int) string {
	return fmt.Sprintf(`{"orderId":"o-%05d","customerId":"c-%d","customerEmail":"c%d@example.com","orderItems":[{"sku":"s%d","qty":1}],"orderTotal":%d}`,
		i, i%7, i%7, i, (i*37)%2000)
}

// TestFlowRabbitMQToPostgres: every order lands in exactly the table its total routes it
// to; poison messages go to the dead-letter queue with the step and reason without
// stopping the flow; status, logs, metrics and replay answer. Junction keeps its own
// state (dead letters included) on SQLite, then on PostgreSQL.
func TestFlowRabbitMQToPostgres(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { flowRabbitMQToPostgres(t, nil) })
	t.Run("postgres", func(t *testing.T) { flowRabbitMQToPostgres(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)}) })
}

func flowRabbitMQToPostgres(t *testing.T, junctionDB []string) {
	exchange, queue := uniqueName("orders"), uniqueName("order-processing")
	mq := newRabbit(t, exchange, queue)
	db := newPG(t, orderTables)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, orderFlowConfig(exchange, queue))
	env := append([]string{"WAREHOUSE_URL=" + db.dsn}, junctionDB...)
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}

	const n = 300
	var bodies []string
	for i := range n {
		bodies = append(bodies, order(i))
		if i == 100 {
			bodies = append(bodies, `{"orderId": "broken`)                                      // not JSON
			bodies = append(bodies, `{"orderId":"neg","customerId":"c","orderTotal":-3}`)       // schema: minimum
			bodies = append(bodies, `{"orderId":"nocustomer","orderTotal":12,"orderItems":[]}`) // schema: customer.id
		}
	}
	mq.publish(exchange, "order.created", bodies...)

	eventually(t, "every order in PostgreSQL", func() bool {
		return db.count("high_value_orders")+db.count("regular_orders") >= n
	})
	high, regular := map[string]bool{}, map[string]bool{}
	for _, id := range db.ids("high_value_orders") {
		high[id] = true
	}
	for _, id := range db.ids("regular_orders") {
		regular[id] = true
	}
	for i := range n {
		id := fmt.Sprintf("o-%05d", i)
		wantHigh := (i*37)%2000 >= 1000
		if high[id] != wantHigh || regular[id] == wantHigh {
			t.Errorf("%s (total %d): in high_value_orders %v, in regular_orders %v", id, (i*37)%2000, high[id], regular[id])
		}
	}
	if len(high)+len(regular) != n {
		t.Errorf("%d rows, want %d", len(high)+len(regular), n)
	}
	var doc string
	if err := db.conn.QueryRow(context.Background(), `SELECT doc->>'customer' FROM regular_orders WHERE id = 'o-00000'`).Scan(&doc); err != nil || !strings.Contains(doc, `"email": "c0@example.com"`) {
		t.Errorf("mapped document: %q, %v", doc, err)
	}

	eventually(t, "three dead letters", func() bool {
		_, out := a.do("GET", "/dead-letters?flow=order-sync", nil)
		return out["pagination"].(map[string]any)["total"].(float64) == 3
	})
	out := a.expect(200, "GET", "/dead-letters?flow=order-sync", nil)
	steps := map[string]string{}
	var anID string
	for _, d := range out["data"].([]any) {
		dl := d.(map[string]any)
		if dl["queue"] != "failed-orders" || dl["error"] == "" {
			t.Errorf("dead letter %v", dl)
		}
		steps[fmt.Sprint(dl["message"])] = fmt.Sprint(dl["step"])
		anID = dl["id"].(string)
	}
	if len(steps) != 3 || steps[`{"orderId": "broken`] != "decode" {
		t.Errorf("dead letters by step: %v", steps)
	}
	for msg, step := range steps {
		if strings.Contains(msg, "neg") || strings.Contains(msg, "nocustomer") {
			if step != "validate-order" {
				t.Errorf("%s failed in %s, want validate-order", msg, step)
			}
		}
	}
	// A replay of a poison message fails the same way and keeps it.
	p := a.expect(409, "POST", "/dead-letters/"+anID+"/replay", nil)
	if p["type"] == nil || p["step"] == nil {
		t.Errorf("replay problem %v", p)
	}

	st := a.expect(200, "GET", "/flows/order-sync", nil)
	c := st["counters"].(map[string]any)
	if st["state"] != "running" || c["delivered"].(float64) != n || c["dead_lettered"].(float64) != 3 || st["dead_letters"].(float64) != 3 {
		t.Errorf("status %v", st)
	}
	if le := st["last_error"].(map[string]any); le["step"] == "" {
		t.Errorf("last error %v", le)
	}
	list := a.expect(200, "GET", "/flows", nil)
	if len(list["data"].([]any)) != 1 {
		t.Errorf("GET /flows: %v", list)
	}
	_, metrics := s.get(t, "/metrics", "")
	for _, want := range []string{
		`junction_flow_messages_total{flow="order-sync",outcome="delivered"} 300`,
		`junction_flow_dead_letters{flow="order-sync"} 3`,
		`junction_flow_step_duration_seconds_count{flow="order-sync",step="route-order"}`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	cli := []string{"JUNCTION_URL=" + s.base, "JUNCTION_TOKEN=" + token}
	stdout, stderr, code := run(t, dir, cli, "flow", "status", "order-sync")
	if code != 0 || !strings.Contains(stdout, "flow order-sync: running") || !strings.Contains(stdout, "300 delivered") {
		t.Errorf("flow status: %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = run(t, dir, cli, "flow", "logs", "order-sync", "-n", "500")
	if code != 0 || !strings.Contains(stdout, "dead_lettered") || !strings.Contains(stdout, `payload={"orderId"`) {
		t.Errorf("flow logs: %d\n%.2000s", code, stdout)
	}
	if _, stderr, code := run(t, dir, cli, "flow", "status", "nope"); code == 0 || !strings.Contains(stderr, "404") {
		t.Errorf("flow status of an unknown flow: %d %s", code, stderr)
	}

	// Stop and start: a message published while stopped waits in the queue.
	a.expect(200, "POST", "/flows/order-sync/stop", nil)
	mq.publish(exchange, "order.created", order(n))
	time.Sleep(300 * time.Millisecond)
	if db.count("high_value_orders")+db.count("regular_orders") != n {
		t.Errorf("a stopped flow wrote")
	}
	a.expect(200, "POST", "/flows/order-sync/start", nil)
	eventually(t, "the order published while stopped", func() bool {
		return db.count("high_value_orders")+db.count("regular_orders") == n+1
	})

	stdout, stderr, code = run(t, dir, env, "connector", "test", "-c", cfg, "orders")
	if code != 0 || !strings.Contains(stdout, "ok") {
		t.Errorf("connector test orders: %d %s %s", code, stdout, stderr)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM:\n%s", code, s.log())
	}
}

// TestFlowSurvivesSIGKILL is the kill test: 10,000 messages wait in RabbitMQ, Junction
// moves them into PostgreSQL and is killed with SIGKILL part-way, then restarted. Every
// message is in PostgreSQL afterwards, exactly one row each (the upsert key makes the
// redelivered ones idempotent).
func TestFlowSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const n = 10000
	exchange, queue := uniqueName("orders"), uniqueName("order-processing")
	mq := newRabbit(t, exchange, queue)
	db := newPG(t, orderTables)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, orderFlowConfig(exchange, queue))
	env := []string{"WAREHOUSE_URL=" + db.dsn}

	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = order(i)
	}
	mq.publish(exchange, "order.created", bodies...)

	s := startServer(t, dir, env, "-c", cfg)
	rows := func() int { return db.count("high_value_orders") + db.count("regular_orders") }
	eventually(t, "the flow to be under way", func() bool { return rows() > n/3 })
	if code := s.stop(t, syscall.SIGKILL); code == 0 {
		t.Fatalf("SIGKILL did not kill")
	}
	atKill := rows()
	if atKill >= n {
		t.Fatalf("all %d rows were written before the kill; the test needs a slower flow or more messages", atKill)
	}
	startServer(t, dir, env, "-c", cfg)
	eventually(t, "every message in PostgreSQL", func() bool { return rows() >= n })
	time.Sleep(500 * time.Millisecond) // redeliveries still in flight would show as extra rows
	if got := rows(); got != n {
		t.Fatalf("%d rows, want exactly %d", got, n)
	}
	for _, table := range []string{"high_value_orders", "regular_orders"} {
		var wrong int
		_ = db.conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE doc->>'id' <> id").Scan(&wrong)
		if wrong != 0 {
			t.Errorf("%s: %d rows whose document does not match their key", table, wrong)
		}
	}
	t.Logf("%d of %d rows were written before SIGKILL; all %d present after the restart, one row each", atKill, n, n)
}

// TestFlowMQTTFilterNATS: MQTT (wildcard subscription) → filter → NATS JetStream. Only
// the hot readings of temperature topics arrive, each once.
func TestFlowMQTTFilterNATS(t *testing.T) {
	servicetest.Require(t, "Mosquitto", "127.0.0.1:1883")
	servicetest.Require(t, "NATS", "127.0.0.1:4222")
	prefix, stream := uniqueName("sensors"), strings.ToUpper(strings.ReplaceAll(uniqueName("readings"), "-", "_"))
	subject := strings.ToLower(stream)
	js := newJetStream(t, stream)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, fmt.Sprintf(`
connector sensors { type: mqtt  url: "tcp://127.0.0.1:1883"  qos: 1 }
connector bus { type: nats  url: "nats://127.0.0.1:4222"  stream: %q  subjects: [%q] }
flow hot-readings {
    source: sensors { topics: [%q] }
    step hot-only { filter: "celsius >= 30" }
    sink alerts { connector: bus, subject: %q }
}`, stream, subject+".>", prefix+"/+/temp", subject+".hot"))
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	eventually(t, "the flow to run", func() bool { return a.expect(200, "GET", "/flows/hot-readings", nil)["state"] == "running" })

	pub := newMQTTPublisher(t)
	want := map[string]bool{}
	for i := range 40 {
		room := []string{"kitchen", "cellar"}[i%2]
		topic := prefix + "/" + room + "/temp"
		if i%5 == 4 {
			topic = prefix + "/" + room + "/humidity" // not subscribed
		}
		body := fmt.Sprintf(`{"n":%d,"celsius":%d}`, i, 10+i)
		pub.publish(topic, body)
		if i%5 != 4 && 10+i >= 30 {
			want[fmt.Sprint(i)] = true
		}
	}
	got := js.receive(len(want), subject+".hot")
	seen := map[string]int{}
	for _, b := range got {
		var m struct{ N int }
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatalf("NATS message %q: %v", b, err)
		}
		seen[fmt.Sprint(m.N)]++
	}
	for n := range want {
		if seen[n] != 1 {
			t.Errorf("reading %s arrived %d times, want once", n, seen[n])
		}
	}
	for n := range seen {
		if !want[n] {
			t.Errorf("reading %s should have been filtered out", n)
		}
	}
	st := a.expect(200, "GET", "/flows/hot-readings", nil)
	c := st["counters"].(map[string]any)
	if c["delivered"].(float64) != float64(len(want)) || c["filtered"].(float64) != float64(32-len(want)) {
		t.Errorf("counters %v (want %d delivered, %d filtered)", c, len(want), 32-len(want))
	}
}

// TestFlowNATSEnrichWebhook: NATS → enrich (a local fake customer service) → webhook
// event, delivered by the webhooks capability to a subscribed endpoint.
func TestFlowNATSEnrichWebhook(t *testing.T) {
	servicetest.Require(t, "NATS", "127.0.0.1:4222")
	stream := strings.ToUpper(strings.ReplaceAll(uniqueName("orders"), "-", "_"))
	subject := strings.ToLower(stream)
	js := newJetStream(t, stream)
	customers := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/customers/")
		if id == "unknown" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no such customer"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"tier":"gold"}`, id)
	}))
	defer customers.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, hookConfig+fmt.Sprintf(`
integration Customers {
    base_url: env(CUSTOMERS_URL)
    operation get { method: GET  path: "/customers/{id}" }
}
connector orders { type: nats  url: "nats://127.0.0.1:4222"  stream: %q  subjects: [%q] }
connector notify { type: webhook }
flow enrich-orders {
    source: orders { durable: "enrich-orders", filter_subject: %q }
    step customer { enrich: Customers.get  params: { id: "$.customer" }  as: "customer_details" }
    sink order-enriched { connector: notify, event_type: "order.enriched", id: "$.id" }
    on_error: retry 2 times with exponential_backoff(50ms, max 200ms) then dead_letter("enrich-failed")
}`, stream, subject+".>", subject+".created"))
	env := []string{"CUSTOMERS_URL=" + customers.URL}
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	receiver := newHookReceiver(t)
	a.expect(201, "POST", "/webhooks", map[string]any{"name": "shop", "url": receiver.URL, "events": []string{"order.*"}})

	const n = 50
	for i := range n {
		js.publish(subject+".created", fmt.Sprintf(`{"id":"o-%d","customer":"c-%d"}`, i, i%3))
	}
	js.publish(subject+".created", `{"id":"o-x","customer":"unknown"}`)
	js.publish(subject+".other", `{"id":"o-y","customer":"c-1"}`) // not the flow's subject

	eventually(t, "every enriched order at the endpoint", func() bool { return receiver.distinctEvents() >= n })
	receiver.mu.Lock()
	for i := range n {
		id := fmt.Sprintf("o-%d", i)
		body := receiver.bodies[id]
		want := fmt.Sprintf(`"customer_details":{"id":"c-%d","tier":"gold"}`, i%3)
		if !strings.Contains(body, `"type":"order.enriched"`) || !strings.Contains(body, want) {
			t.Errorf("event %s: %s", id, body)
		}
	}
	if len(receiver.byEvent) != n {
		t.Errorf("%d distinct events at the endpoint, want %d: %v", len(receiver.byEvent), n, receiver.byEvent)
	}
	receiver.mu.Unlock()
	eventually(t, "the unknown customer's order in the dead-letter queue", func() bool {
		_, out := a.do("GET", "/dead-letters?flow=enrich-orders", nil)
		data, _ := out["data"].([]any)
		return len(data) == 1 && data[0].(map[string]any)["step"] == "customer" &&
			strings.Contains(data[0].(map[string]any)["error"].(string), "404")
	})
}

// TestFlowScheduleIntegrationRedis: a schedule triggers an integration call whose answer
// goes to a Redis stream.
func TestFlowScheduleIntegrationRedis(t *testing.T) {
	addr := servicetest.RedisAddr(t)
	key := uniqueName("rates")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Del(context.Background(), key); rdb.Close() })
	var calls atomic.Int64
	rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"base":%q,"usd":1.%02d,"call":%d}`, r.URL.Query().Get("base"), n%100, n)
	}))
	defer rates.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, fmt.Sprintf(`
integration Rates {
    base_url: env(RATES_URL)
    operation latest { method: GET  path: "/latest"  query: { base: string } }
}
connector tick { type: schedule  every: 200ms  payload: { base: "EUR" } }
connector cache { type: redis  url: "redis://%s/0" }
flow rates-to-redis {
    source: tick
    step fetch { enrich: Rates.latest  params: { base: "$.base" }  as: "rates" }
    sink stream { connector: cache, stream: %q }
}`, addr, key))
	env := []string{"RATES_URL=" + rates.URL}
	startServer(t, dir, env, "-c", cfg)
	var entries []redis.XMessage
	eventually(t, "five entries in the Redis stream", func() bool {
		var err error
		entries, err = rdb.XRange(context.Background(), key, "-", "+").Result()
		return err == nil && len(entries) >= 5
	})
	for i, e := range entries[:5] {
		body, _ := e.Values["body"].(string)
		if !strings.Contains(body, `"base":"EUR"`) || !strings.Contains(body, fmt.Sprintf(`"call":%d`, i+1)) {
			t.Errorf("entry %d: %q", i, body)
		}
	}
}

// TestOrderSyncExample runs the shipped examples/order-sync.cai and .yaml (seed 002's
// flow, enrich step included) against the local RabbitMQ and PostgreSQL, with a fake
// customer service: each order is enriched and lands in the table its total routes it to.
func TestOrderSyncExample(t *testing.T) {
	for _, file := range []string{"order-sync.cai", "order-sync.yaml"} {
		t.Run(file, func(t *testing.T) {
			// The example as shipped, but with an exchange and queue of the test's own, so
			// that no other test run on the same RabbitMQ shares them.
			exchange, queue := uniqueName("orders"), uniqueName("order-processing")
			newRabbit(t, exchange, queue)
			cfg := exampleWithNames(t, file, map[string]string{"orders": exchange, "order-processing": queue})
			ddl, err := os.ReadFile("../../examples/order-sync.sql")
			if err != nil {
				t.Fatal(err)
			}
			db := newPG(t, string(ddl))
			customers := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := strings.TrimPrefix(r.URL.Path, "/customers/")
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"id":%q,"name":"Customer %s","tier":"gold"}`, id, id)
			}))
			defer customers.Close()
			env := []string{"WAREHOUSE_URL=" + db.dsn, "CUSTOMER_SERVICE_URL=" + customers.URL}
			dir := t.TempDir()
			token := adminToken(t, dir, env)
			s := startServer(t, dir, env, "-c", cfg)
			a := api{t: t, base: s.base, token: token}
			eventually(t, "the flow to run", func() bool { return a.expect(200, "GET", "/flows/order-sync", nil)["state"] == "running" })

			var bodies []string
			for i := range 20 {
				bodies = append(bodies, order(i))
			}
			bodies = append(bodies, `{"orderId":"no-items","customerId":"c","customerEmail":"c@example.com","orderItems":[],"orderTotal":5}`)
			// Published the README's way: junction connector send, one order per line.
			out, stderr, code := runWithInput(t, dir, env, strings.Join(bodies, "\n")+"\n",
				"connector", "send", "-c", cfg, "orders", "--set", "exchange="+exchange, "--set", "routing_key=order.created")
			if code != 0 || !strings.Contains(out, "21 message(s) sent") {
				t.Fatalf("connector send: exit %d\n%s%s", code, out, stderr)
			}
			eventually(t, "every order in PostgreSQL", func() bool {
				return db.count("high_value_orders")+db.count("regular_orders") >= 20
			})
			for i := range 20 {
				table := "regular_orders"
				if (i*37)%2000 >= 1000 {
					table = "high_value_orders"
				}
				var tier string
				err := db.conn.QueryRow(context.Background(), "SELECT doc->'customer_details'->>'tier' FROM "+table+" WHERE id = $1", fmt.Sprintf("o-%05d", i)).Scan(&tier)
				if err != nil || tier != "gold" {
					t.Errorf("order %d in %s: tier %q, %v", i, table, tier, err)
				}
			}
			eventually(t, "the order without items in failed-orders", func() bool {
				_, out := a.do("GET", "/dead-letters?queue=failed-orders", nil)
				data, _ := out["data"].([]any)
				return len(data) == 1 && data[0].(map[string]any)["step"] == "validate-order"
			})
		})
	}
}

// exampleWithNames copies an example configuration, and the schemas it reads, into a
// directory of the test's, with the RabbitMQ names (quoted or bare YAML words) replaced,
// and returns the copy's path.
func exampleWithNames(t *testing.T, file string, names map[string]string) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/" + file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for from, to := range names {
		for _, form := range []string{`name: "%s"`, `exchange: "%s"`, `name: %s,`, `exchange: %s,`} {
			text = strings.ReplaceAll(text, fmt.Sprintf(form, from), fmt.Sprintf(form, to))
		}
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "schemas"), os.DirFS("../../examples/schemas")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file)
	writeFile(t, path, text)
	for _, name := range names {
		if !strings.Contains(text, name) {
			t.Fatalf("%s: no RabbitMQ name was replaced by %s", file, name)
		}
	}
	return path
}

// TestConnectorTestCommand: `junction connector test` says why a connector cannot reach
// its system.
func TestConnectorTestCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `
connector down { type: rabbitmq  url: "amqp://guest:guest@127.0.0.1:1/"  queue: "q" }
connector db { type: postgres  url: "postgres://postgres@127.0.0.1:1/test?connect_timeout=2" }
connector tick { type: schedule  every: 5m }
`)
	for _, name := range []string{"down", "db"} {
		stdout, stderr, code := run(t, dir, nil, "connector", "test", "-c", cfg, name)
		if code != 1 || !strings.Contains(stdout, "FAILED") || !strings.Contains(stdout, "refused") {
			t.Errorf("connector test %s: exit %d\n%s%s", name, code, stdout, stderr)
		}
	}
	if stdout, _, code := run(t, dir, nil, "connector", "test", "-c", cfg, "tick"); code != 0 || !strings.Contains(stdout, "ok") {
		t.Errorf("connector test tick: exit %d %s", code, stdout)
	}
	if stdout, _, code := run(t, dir, nil, "connector", "test", "-c", cfg, "nope"); code != 1 || !strings.Contains(stdout, `no connector named "nope"`) {
		t.Errorf("connector test nope: exit %d %s", code, stdout)
	}
}

// TestConnectorSendCommand: `junction connector send` publishes through a connector's
// sink side and returns once the broker confirmed; what RabbitMQ cannot route, a
// connector that is only a source and a mistyped name are errors that say so.
func TestConnectorSendCommand(t *testing.T) {
	exchange, queue := uniqueName("send"), uniqueName("send-q")
	mq := newRabbit(t, exchange, queue)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, fmt.Sprintf(`
connector mq { type: rabbitmq  url: %q  exchanges: [{ name: %q }]  queue: %q  bindings: [{ exchange: %q, routing_key: "order.*" }] }
connector tick { type: schedule  every: 5m }
`, rabbitURL, exchange, queue, exchange))
	send := []string{"connector", "send", "-c", cfg, "mq", "--set", "exchange=" + exchange, "--set", "routing_key=order.created"}
	if out, stderr, code := run(t, dir, nil, append(send, `{"n":1}`, `{"n":2}`)...); code != 0 || !strings.Contains(out, "2 message(s) sent") {
		t.Fatalf("send two arguments: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := runWithInput(t, dir, nil, "{\"n\":3}\n\n{\"n\":4}\n", send...); code != 0 || !strings.Contains(out, "2 message(s) sent") {
		t.Fatalf("send two lines: exit %d\n%s%s", code, out, stderr)
	}
	if got := mq.get(queue, 4); !slices.Equal(got, []string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`}) {
		t.Errorf("queue holds %q", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"connector", "send", "-c", cfg, "mq", "--set", "exchange=" + exchange, "--set", "routing_key=nobody.listens", "x"}, "returned unroutable"},
		{[]string{"connector", "send", "-c", cfg, "tick", "x"}, "is only a source"},
		{[]string{"connector", "send", "-c", cfg, "mqq", "x"}, `no connector named "mqq" in the configuration (declared: mq, tick)`},
		{[]string{"connector", "send", "-c", cfg, "mq", "--set", "exchange", "x"}, "expected key=value"},
		{[]string{"connector", "send", "-c", cfg, "mq", "--set", "exchange=" + exchange}, "no message to send"},
		{[]string{"connector", "send", "mq", "x"}, "no configuration given"},
	} {
		if out, stderr, code := run(t, dir, nil, c.args...); code != 1 || !strings.Contains(out+stderr, c.want) {
			t.Errorf("%v: exit %d, want %q\n%s%s", c.args[3:], code, c.want, out, stderr)
		}
	}
}

// TestFlowInternalSources: events published with POST /events and messages POSTed to
// /in/{path} reach their flows (here into a Redis stream); /in answers only once the
// message is written.
func TestFlowInternalSources(t *testing.T) {
	addr := servicetest.RedisAddr(t)
	key := uniqueName("internal")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Del(context.Background(), key); rdb.Close() })
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, fmt.Sprintf(`
connector shop-events { type: events  events: ["shop.*"] }
connector inbox { type: http }
connector out { type: redis  url: "redis://%s/0"  stream: %q }
flow from-events {
    source: shop-events
    step tag { transform: { via: "events", order: "$.order" } }
    sink s { connector: out }
}
flow from-http {
    source: inbox { path: "partners/acme" }
    step tag { transform: { via: "http", order: "$.order" } }
    sink s { connector: out }
}`, addr, key))
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	eventually(t, "the flows to run", func() bool {
		return a.expect(200, "GET", "/flows/from-http", nil)["state"] == "running" &&
			a.expect(200, "GET", "/flows/from-events", nil)["state"] == "running"
	})
	a.expect(202, "POST", "/events", map[string]any{"type": "shop.order_paid", "data": map[string]any{"order": "e1"}})
	a.expect(202, "POST", "/events", map[string]any{"type": "billing.invoice", "data": map[string]any{"order": "e2"}})
	a.expect(202, "POST", "/in/partners/acme", map[string]any{"order": "h1"})
	// Answered after the write: the entry is already there (not necessarily the last:
	// the events flow may write its entry after it).
	entries, err := rdb.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e redis.XMessage) bool { return e.Values["body"] == `{"order":"h1","via":"http"}` }) {
		t.Fatalf("after POST /in: %v", entries)
	}
	if p := a.expect(404, "POST", "/in/nobody", map[string]any{}); p["type"] == nil {
		t.Errorf("unknown inbound path: %v", p)
	}
	eventually(t, "the shop event in the stream", func() bool {
		entries, _ = rdb.XRange(context.Background(), key, "-", "+").Result()
		return len(entries) >= 2
	})
	time.Sleep(200 * time.Millisecond)
	entries, _ = rdb.XRange(context.Background(), key, "-", "+").Result()
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprint(e.Values["body"]))
	}
	if len(got) != 2 || !strings.Contains(strings.Join(got, " "), `{"order":"e1","via":"events"}`) {
		t.Errorf("stream: %v (billing.invoice must not match shop.*)", got)
	}
}

// TestFlowToS3: messages POSTed to a flow are stored in S3-compatible storage through an
// integration sink (a SigV4-signed PUT, checked by the local S3 fake).
func TestFlowToS3(t *testing.T) {
	s3 := fakeapi.NewS3(t, fakeapi.S3Config{AccessKeyID: "AKIDFLOWS", SecretAccessKey: "flows-secret", Region: "eu-west-1", Buckets: []string{"archive"}})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, `
integration Storage {
    base_url: env(S3_ENDPOINT_URL)
    auth: aws_signature_v4 { access_key: env(AWS_ACCESS_KEY_ID), secret_key: env(AWS_SECRET_ACCESS_KEY), region: "eu-west-1", service: "s3" }
    operation upload {
        method: PUT
        path: "/{bucket}/{key}"
        headers: { "Content-Type": "{content_type}" }
        body_type: binary
    }
}
connector inbox { type: http }
connector storage { type: integration }
flow archive-orders {
    source: inbox { path: "archive" }
    sink s3 {
        connector: storage
        integration: Storage
        operation: upload
        params: { bucket: "archive", key: "$.id", content_type: "application/json" }
        body: "$"
    }
}`)
	env := []string{"S3_ENDPOINT_URL=" + s3.URL(), "AWS_ACCESS_KEY_ID=AKIDFLOWS", "AWS_SECRET_ACCESS_KEY=flows-secret"}
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	eventually(t, "the flow to run", func() bool { return a.expect(200, "GET", "/flows/archive-orders", nil)["state"] == "running" })
	a.expect(202, "POST", "/in/archive", map[string]any{"id": "o-1", "total": 12})
	obj, ok := s3.Object("archive", "o-1")
	if !ok || string(obj.Data) != `{"id":"o-1","total":12}` || obj.ContentType != "application/json" {
		t.Fatalf("stored object: %v %+v", ok, obj)
	}
}

// TestFlowReplaySkipsAcceptingSinks: a message written by one sink and rejected by the
// other is dead-lettered with the sink that took it; the replay, once the other sink can
// take it, writes it only there. Junction keeps its state on SQLite.
func TestFlowReplaySkipsAcceptingSinks(t *testing.T) {
	// checked_orders refuses negative totals (SQLSTATE 23514: the message goes to the
	// dead letters at once); all_orders has no key, so a second write would show.
	db := newPG(t, `CREATE TABLE all_orders (id text);
CREATE TABLE checked_orders (id text, total numeric CONSTRAINT positive CHECK (total >= 0));`)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, `
connector inbox { type: http }
connector warehouse { type: postgres  url: env(WAREHOUSE_URL) }
flow fanout {
    source: inbox { path: "fanout" }
    sink all { connector: warehouse  table: "all_orders"  columns: { id: "$.id" } }
    sink checked { connector: warehouse  table: "checked_orders"  columns: { id: "$.id", total: "$.total" } }
    on_error: dead_letter("fanout-failed")
}`)
	env := []string{"WAREHOUSE_URL=" + db.dsn}
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	eventually(t, "the flow to run", func() bool { return a.expect(200, "GET", "/flows/fanout", nil)["state"] == "running" })
	a.expect(202, "POST", "/in/fanout", map[string]any{"id": "o-1", "total": -5})

	var dl map[string]any
	eventually(t, "a dead letter", func() bool {
		out := a.expect(200, "GET", "/dead-letters?flow=fanout", nil)
		if data := out["data"].([]any); len(data) == 1 {
			dl = data[0].(map[string]any)
			return true
		}
		return false
	})
	if dl["step"] != "sink checked" || fmt.Sprint(dl["accepted"]) != "[[all]]" {
		t.Fatalf("dead letter %v, want step sink checked, accepted [[all]]", dl)
	}
	if n, m := db.count("all_orders"), db.count("checked_orders"); n != 1 || m != 0 {
		t.Fatalf("before the replay: all_orders %d, checked_orders %d", n, m)
	}
	if _, err := db.conn.Exec(context.Background(), "ALTER TABLE checked_orders DROP CONSTRAINT positive"); err != nil {
		t.Fatal(err)
	}
	a.expect(200, "POST", "/dead-letters/"+dl["id"].(string)+"/replay", nil)
	if n, m := db.count("all_orders"), db.count("checked_orders"); n != 1 || m != 1 {
		t.Errorf("after the replay: all_orders %d, checked_orders %d; want 1 and 1 (all_orders had it)", n, m)
	}
	if out := a.expect(200, "GET", "/dead-letters?flow=fanout", nil); len(out["data"].([]any)) != 0 {
		t.Errorf("dead letters after the replay: %v", out["data"])
	}
}
