package redisstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stream returns the local Redis URL and a unique stream name, deleted when t ends.
func stream(t *testing.T) (string, string) {
	t.Helper()
	addr := servicetest.RedisAddr(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "junction-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		if err := rdb.Del(context.Background(), name).Err(); err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	return "redis://" + addr + "/0", name
}

func client(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// settings builds connector settings from key/value pairs, each option on its own line
// so errors can be checked for positions.
func settings(env connector.Env, kv ...any) connector.Settings {
	opts := config.Options{Pos: config.Pos{File: "test.cai", Line: 1, Col: 1}}
	for i := 0; i < len(kv); i += 2 {
		opts.Entries = append(opts.Entries, config.Option{
			Pos: config.Pos{File: "test.cai", Line: i/2 + 2, Col: 5}, Key: kv[i].(string), Value: kv[i+1],
		})
	}
	return connector.Settings{Connector: &config.Connector{Name: "events", Type: "redis", Options: opts}, Options: opts, Env: env}
}

// newSource is a source of the stream in group "flows"; kv adds options or replaces
// those.
func newSource(t *testing.T, url, name string, kv ...any) connector.Source {
	t.Helper()
	defaults := []any{"url", url, "stream", name, "group", "flows", "block", 50 * time.Millisecond}
	for i := 0; i < len(defaults); i += 2 {
		if !slices.Contains(kv, defaults[i]) {
			kv = append(kv, defaults[i], defaults[i+1])
		}
	}
	src, err := NewSource(settings(connector.Env{}, kv...))
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	return src
}

func newSink(t *testing.T, url, name string, kv ...any) connector.Sink {
	t.Helper()
	sink, err := NewSink(settings(connector.Env{}, append([]any{"url", url, "stream", name}, kv...)...))
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	return sink
}

func open(t *testing.T, ctx context.Context, src connector.Source, inFlight int) <-chan connector.Delivery {
	t.Helper()
	ch, err := src.Open(ctx, inFlight)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return ch
}

func closeSource(t *testing.T, src connector.Source) {
	t.Helper()
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func numbers(t *testing.T, ds []connector.Delivery) []int {
	t.Helper()
	var ns []int
	for _, d := range ds {
		ns = append(ns, connectortest.Number(t, d.Body))
	}
	slices.Sort(ns)
	return ns
}

func pendingCount(t *testing.T, rdb *redis.Client, name string) int64 {
	t.Helper()
	p, err := rdb.XPending(context.Background(), name, "flows").Result()
	if err != nil {
		t.Fatalf("XPENDING: %v", err)
	}
	return p.Count
}

// TestConformance runs the suite every connector passes against the local Redis.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Kind: Kind(), Messages: 60, Batch: 15,
		Place: func(t *testing.T) (connector.Settings, connector.Settings) {
			url, name := stream(t)
			return settings(connector.Env{}, "url", url, "stream", name, "group", "flows", "block", 50*time.Millisecond),
				settings(connector.Env{}, "url", url, "stream", name)
		},
	})
}

// TestAcknowledgedNotPending: XACK takes acknowledged entries off the pending list.
func TestAcknowledgedNotPending(t *testing.T) {
	url, name := stream(t)
	src := newSource(t, url, name)
	defer closeSource(t, src)
	connectortest.RoundTrip(t, src, newSink(t, url, name), 20, 5)
	if n := pendingCount(t, client(t), name); n != 0 {
		t.Errorf("%d entries still pending after acknowledging all", n)
	}
}

// A consumer that restarts under its name first gets back what it left unacknowledged,
// without waiting for claim_after.
func TestRestartSameConsumer(t *testing.T) {
	url, name := stream(t)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := newSink(t, url, name).Write(ctx, connectortest.Messages(3)); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, url, name, "consumer", "worker-1")
	ch := open(t, ctx, src, 10)
	for _, d := range connectortest.Receive(t, ch, 3) {
		if connectortest.Number(t, d.Body) == 1 {
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	closeSource(t, src)

	src = newSource(t, url, name, "consumer", "worker-1")
	defer closeSource(t, src)
	ch = open(t, ctx, src, 10)
	got := connectortest.Receive(t, ch, 2)
	if ns := numbers(t, got); !slices.Equal(ns, []int{0, 2}) {
		t.Fatalf("after restart received %v, want the unacknowledged 0 and 2", ns)
	}
	for _, d := range got {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	if n := pendingCount(t, client(t), name); n != 0 {
		t.Errorf("%d entries still pending", n)
	}
}

// Entries a dead consumer left pending are taken over by another after claim_after.
func TestClaimFromDeadConsumer(t *testing.T) {
	url, name := stream(t)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := newSink(t, url, name).Write(ctx, connectortest.Messages(2)); err != nil {
		t.Fatal(err)
	}
	const claimAfter = 400 * time.Millisecond
	dead := newSource(t, url, name, "consumer", "dead", "claim_after", claimAfter)
	connectortest.Receive(t, open(t, ctx, dead, 10), 2)
	taken := time.Now()
	closeSource(t, dead) // without settling: as if the process had crashed

	alive := newSource(t, url, name, "consumer", "alive", "claim_after", claimAfter)
	defer closeSource(t, alive)
	ch := open(t, ctx, alive, 10)
	got := connectortest.Receive(t, ch, 2)
	if waited := time.Since(taken); waited < claimAfter {
		t.Errorf("claimed after %v, before claim_after %v", waited, claimAfter)
	}
	if ns := numbers(t, got); !slices.Equal(ns, []int{0, 1}) {
		t.Fatalf("claimed %v, want 0 and 1", ns)
	}
	for _, d := range got {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The live consumer's own in-flight entries are not handed out twice when they idle
	// past claim_after.
	if err := newSink(t, url, name).Write(ctx, []connector.Message{{Body: []byte(`{"n":2}`)}}); err != nil {
		t.Fatal(err)
	}
	slow := connectortest.Receive(t, ch, 1)[0]
	connectortest.Quiet(t, ch, 3*claimAfter)
	if err := slow.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if n := pendingCount(t, client(t), name); n != 0 {
		t.Errorf("%d entries still pending", n)
	}
}

func TestHeadersAndFields(t *testing.T) {
	url, name := stream(t)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	rdb := client(t)
	id1, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: name, Values: []any{"body", `{"n":0}`, "trace", "abc"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: name, Values: []any{"order", "7", "total", "12.5"}}).Err(); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, url, name)
	defer closeSource(t, src)
	got := connectortest.Receive(t, open(t, ctx, src, 10), 2)

	first := got[0]
	if string(first.Body) != `{"n":0}` {
		t.Errorf("body %q", first.Body)
	}
	want := map[string]string{"trace": "abc", "stream": name, "id": id1}
	if !mapsEqual(first.Headers, want) {
		t.Errorf("headers %v, want %v", first.Headers, want)
	}
	if first.ID != "redis:"+name+"/"+id1 || time.Since(first.Time) > time.Minute {
		t.Errorf("ID %q, time %v", first.ID, first.Time)
	}
	var fields map[string]string
	if err := json.Unmarshal(got[1].Body, &fields); err != nil || fields["order"] != "7" || fields["total"] != "12.5" {
		t.Errorf("entry without a body field became %q, want its fields as JSON", got[1].Body)
	}
	for _, d := range got {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Nack(ctx); err != ErrSettled {
			t.Errorf("Nack after Ack: %v, want ErrSettled", err)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCustomFieldAndStart(t *testing.T) {
	url, name := stream(t)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	sink := newSink(t, url, name, "field", "payload")
	if err := sink.Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatal(err)
	}
	// A new group that starts at $ skips what is already in the stream.
	src := newSource(t, url, name, "field", "payload", "start", "$", "group", "late")
	defer closeSource(t, src)
	ch := open(t, ctx, src, 10)
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	if err := sink.Write(ctx, []connector.Message{{Body: []byte(`{"n":1}`)}}); err != nil {
		t.Fatal(err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	if string(d.Body) != `{"n":1}` {
		t.Fatalf("received %q, want only the entry written after the group was created", d.Body)
	}
	if _, ok := d.Headers["payload"]; ok {
		t.Errorf("the body field is also a header: %v", d.Headers)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBackPressure(t *testing.T) {
	url, name := stream(t)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := newSink(t, url, name).Write(ctx, connectortest.Messages(10)); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, url, name)
	defer closeSource(t, src)
	ch := open(t, ctx, src, 3)
	first := connectortest.Receive(t, ch, 3)
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	if err := first[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	connectortest.Receive(t, ch, 1)
	connectortest.Quiet(t, ch, 200*time.Millisecond)
}

func TestSinkMaxLenAndWrongType(t *testing.T) {
	url, name := stream(t)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	sink := newSink(t, url, name, "maxlen", int64(10))
	for range 10 {
		if err := sink.Write(ctx, connectortest.Messages(100)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := client(t).XLen(ctx, name).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Approximate trimming removes whole nodes (100 entries by default).
	if n >= 1000 || n < 10 {
		t.Errorf("stream holds %d entries after 1000 writes with maxlen 10", n)
	}

	// Write reports errors of the transaction's commands, not only of EXEC.
	other := name + "-string"
	rdb := client(t)
	t.Cleanup(func() { rdb.Del(context.Background(), other) })
	if err := rdb.Set(ctx, other, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := newSink(t, url, other).Write(ctx, connectortest.Messages(2)); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("Write to a string key: %v, want WRONGTYPE", err)
	}
}

func TestGeneratedConsumerRemoved(t *testing.T) {
	url, name := stream(t)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	src := newSource(t, url, name)
	consumer := src.(*Source).o.consumer
	if !strings.HasPrefix(consumer, "junction-") {
		t.Errorf("generated consumer name %q", consumer)
	}
	open(t, ctx, src, 1)
	rdb := client(t)
	// XREADGROUP registers the consumer; wait for the first read.
	deadline := time.Now().Add(connectortest.Timeout)
	for {
		cs, err := rdb.XInfoConsumers(ctx, name, "flows").Result()
		if err == nil && len(cs) == 1 && cs[0].Name == consumer {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s never registered: %v %v", consumer, cs, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	closeSource(t, src)
	cs, err := rdb.XInfoConsumers(ctx, name, "flows").Result()
	if err != nil || len(cs) != 0 {
		t.Errorf("consumers after Close: %v, %v; want none", cs, err)
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestCheck(t *testing.T) {
	url, name := stream(t)
	ctx := context.Background()
	if err := Check(ctx, settings(connector.Env{}, "url", url, "stream", name)); err != nil {
		t.Errorf("Check: %v", err)
	}
	other := name + "-hash"
	rdb := client(t)
	t.Cleanup(func() { rdb.Del(context.Background(), other) })
	if err := rdb.HSet(ctx, other, "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, settings(connector.Env{}, "url", url, "stream", other)); err == nil || !strings.Contains(err.Error(), "not a stream") {
		t.Errorf("Check of a hash key: %v", err)
	}
	closed := closedAddr(t)
	err := Check(ctx, settings(connector.Env{}, "url", "redis://junction:hunter2@"+closed+"/0"))
	if err == nil || !strings.Contains(err.Error(), closed) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Check of a closed port: %v, want the address and connection refused", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	env := connector.Env{LookupEnv: func(string) (string, bool) { return "", false }}
	url := "redis://127.0.0.1:6379/0"
	envURL := config.Value{Pos: config.Pos{File: "test.cai", Line: 2, Col: 10}, Parts: []config.ValuePart{{Env: "REDIS_URL"}}}
	for _, c := range []struct {
		name string
		sink bool
		kv   []any
		want string
	}{
		{"no url", false, []any{"stream", "s", "group", "g"}, "test.cai:1:1: redis connector events: missing url"},
		{"no stream", true, []any{"url", url}, "test.cai:1:1: redis connector events: missing stream"},
		{"no group", false, []any{"url", url, "stream", "s"}, "test.cai:1:1: redis connector events: missing group"},
		{"unset env", false, []any{"url", envURL, "stream", "s", "group", "g"}, "test.cai:2:5: redis connector events: url: REDIS_URL is not set"},
		{"bad url", true, []any{"url", "redis://u:hunter2@host:port/0", "stream", "s"}, "test.cai:2:5: redis connector events: url: invalid URL"},
		{"bad scheme", true, []any{"url", "http://127.0.0.1", "stream", "s"}, "url: redis: invalid URL scheme: http"},
		{"bad start", false, []any{"url", url, "stream", "s", "group", "g", "start", ">"}, "test.cai:5:5: redis connector events: start: expected 0"},
		{"zero block", false, []any{"url", url, "stream", "s", "group", "g", "block", time.Duration(0)}, "test.cai:5:5: redis connector events: block: must be at least 1ms"},
		{"bad claim_after", false, []any{"url", url, "stream", "s", "group", "g", "claim_after", "soon"}, "test.cai:5:5: redis connector events: claim_after: expected a duration"},
		{"negative maxlen", true, []any{"url", url, "stream", "s", "maxlen", int64(-1)}, "test.cai:4:5: redis connector events: maxlen: must not be negative"},
		{"unknown", true, []any{"url", url, "stream", "s", "queue", "q"}, "test.cai:4:5: redis connector events: unknown setting queue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.sink {
				_, err = NewSink(settings(env, c.kv...))
			} else {
				_, err = NewSource(settings(env, c.kv...))
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// One connector block serves both roles: the sink accepts the source's keys and the
// other way round; start may be written as the number 0.
func TestSharedConnectorBlock(t *testing.T) {
	s := settings(connector.Env{}, "url", "redis://127.0.0.1:6379/0", "stream", "s", "group", "g", "consumer", "c",
		"start", int64(0), "block", "2s", "claim_after", 5*time.Minute, "field", "data", "maxlen", int64(1000))
	sink, err := NewSink(s)
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	_ = sink.Close()
	src, err := NewSource(s)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	o := src.(*Source).o
	if o.start != "0" || o.block != 2*time.Second || o.claimAfter != 5*time.Minute || o.field != "data" || o.consumer != "c" || o.generatedConsumer {
		t.Errorf("options %+v", o)
	}
	_ = src.Close()
}
