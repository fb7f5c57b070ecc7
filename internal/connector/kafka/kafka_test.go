package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster starts an in-process Kafka (kfake) with one topic and returns its address.
func cluster(t *testing.T, partitions int32, topic string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
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
	return connector.Settings{Connector: &config.Connector{Name: "events", Type: "kafka", Options: opts}, Options: opts, Env: env}
}

func newSource(t *testing.T, env connector.Env, kv ...any) connector.Source {
	t.Helper()
	src, err := NewSource(settings(env, kv...))
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	return src
}

func newSink(t *testing.T, addr, topic string, kv ...any) connector.Sink {
	t.Helper()
	sink, err := NewSink(settings(connector.Env{}, append([]any{"brokers", []any{addr}, "topic", topic}, kv...)...))
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	return sink
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

// TestConformance runs the suite every connector passes against an in-process Kafka.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Kind: Kind(), Messages: 60, Batch: 15,
		Place: func(t *testing.T) (connector.Settings, connector.Settings) {
			topic := unique("orders")
			addr := cluster(t, 1, topic)
			return settings(connector.Env{}, "brokers", []any{addr}, "topic", topic, "group", unique("g")),
				settings(connector.Env{}, "brokers", []any{addr}, "topic", topic)
		},
	})
}

func TestHeadersAndKey(t *testing.T) {
	topic := unique("orders")
	addr := cluster(t, 1, topic)
	sink := newSink(t, addr, topic, "key", "$.customer.id")
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	msgs := []connector.Message{
		{Body: []byte(`{"n":0,"customer":{"id":"c-7"}}`)},
		{Body: []byte(`{"n":1,"customer":{"id":12345678901234567890}}`)},
	}
	if err := sink.Write(ctx, msgs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := sink.Write(ctx, []connector.Message{{Body: []byte(`{"n":2}`)}}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Write without the key: %v, want a not-found error", err)
	}
	if err := sink.Write(ctx, []connector.Message{{Body: []byte(`not json`)}}); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("Write of a non-JSON body with a key: %v, want an error", err)
	}

	src := newSource(t, connector.Env{}, "brokers", []any{addr}, "topic", topic, "group", unique("g"))
	defer closeSource(t, src)
	ch, err := src.Open(ctx, 8)
	if err != nil {
		t.Fatal(err)
	}
	got := connectortest.Receive(t, ch, 2)
	for i, want := range []map[string]string{
		{"topic": topic, "partition": "0", "offset": "0", "key": "c-7"},
		{"topic": topic, "partition": "0", "offset": "1", "key": "12345678901234567890"},
	} {
		d := got[i]
		if string(d.Body) != string(msgs[i].Body) {
			t.Errorf("body %q, want %q", d.Body, msgs[i].Body)
		}
		for k, v := range want {
			if d.Headers[k] != v {
				t.Errorf("delivery %d: header %s = %q, want %q (all: %v)", i, k, d.Headers[k], v, d.Headers)
			}
		}
		if want := fmt.Sprintf("kafka:%s/0/%d", topic, i); d.ID != want {
			t.Errorf("ID %q, want %q", d.ID, want)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Ack(ctx); err != ErrSettled {
			t.Errorf("second Ack: %v, want ErrSettled", err)
		}
	}
}

func TestRecordHeaders(t *testing.T) {
	topic := unique("orders")
	addr := cluster(t, 1, topic)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	rec := &kgo.Record{Topic: topic, Value: []byte(`{"n":0}`), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}}}
	if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, connector.Env{}, "brokers", []any{addr}, "topic", topic, "group", unique("g"))
	defer closeSource(t, src)
	ch, err := src.Open(ctx, 8)
	if err != nil {
		t.Fatal(err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	if d.Headers["trace"] != "abc" || d.Headers["topic"] != topic {
		t.Errorf("headers %v, want the record's trace=abc and topic=%s", d.Headers, topic)
	}
	if _, ok := d.Headers["key"]; ok {
		t.Errorf("headers %v carry a key for a record without one", d.Headers)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// openGroup opens a new source of the consumer group.
func openGroup(t *testing.T, ctx context.Context, env connector.Env, addr, topic, group string, inFlight int) (connector.Source, <-chan connector.Delivery) {
	t.Helper()
	src := newSource(t, env, "brokers", []any{addr}, "topic", topic, "group", group)
	ch, err := src.Open(ctx, inFlight)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return src, ch
}

func TestCommitSurvivesReopen(t *testing.T) {
	topic, group := unique("orders"), unique("g")
	addr := cluster(t, 3, topic)
	sink := newSink(t, addr, topic)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := sink.Write(ctx, connectortest.Messages(100)); err != nil {
		t.Fatal(err)
	}
	src, ch := openGroup(t, ctx, connector.Env{}, addr, topic, group, 100)
	got := connectortest.Receive(t, ch, 100)
	for _, d := range got {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ns := numbers(t, got); len(slices.Compact(ns)) != 100 {
		t.Fatalf("received %v, want 0..99 once each", ns)
	}
	closeSource(t, src)

	src, ch = openGroup(t, ctx, connector.Env{}, addr, topic, group, 100)
	defer closeSource(t, src)
	connectortest.Quiet(t, ch, time.Second)
	// A new message proves the reopened member consumes; anything older would be a
	// redelivery of committed records.
	if err := sink.Write(ctx, []connector.Message{{Body: []byte(`{"n":100}`)}}); err != nil {
		t.Fatal(err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	if n := connectortest.Number(t, d.Body); n != 100 {
		t.Fatalf("after reopening received %d, want only the new message 100", n)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}

// Acknowledging 0-2 and 4-5 commits offset 3: the first unacknowledged record and
// everything after it come back to the group's next member.
func TestUnackedRedeliveredAfterReopen(t *testing.T) {
	topic, group := unique("orders"), unique("g")
	addr := cluster(t, 1, topic)
	sink := newSink(t, addr, topic)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := sink.Write(ctx, connectortest.Messages(10)); err != nil {
		t.Fatal(err)
	}
	src, ch := openGroup(t, ctx, connector.Env{}, addr, topic, group, 10)
	for _, d := range connectortest.Receive(t, ch, 10) {
		switch connectortest.Number(t, d.Body) {
		case 0, 1, 2, 4, 5:
			if err := d.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	closeSource(t, src)

	src, ch = openGroup(t, ctx, connector.Env{}, addr, topic, group, 10)
	defer closeSource(t, src)
	got := connectortest.Receive(t, ch, 7)
	if ns := numbers(t, got); !slices.Equal(ns, []int{3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("redelivered %v, want 3..9", ns)
	}
	for _, d := range got {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}

// A nacked record holds the commit back: acknowledging the records after it and
// closing must not commit past it.
func TestNackHoldsCommit(t *testing.T) {
	topic, group := unique("orders"), unique("g")
	addr := cluster(t, 1, topic)
	sink := newSink(t, addr, topic)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := sink.Write(ctx, connectortest.Messages(3)); err != nil {
		t.Fatal(err)
	}
	src, ch := openGroup(t, ctx, connector.Env{}, addr, topic, group, 10)
	for _, d := range connectortest.Receive(t, ch, 3) {
		var err error
		if connectortest.Number(t, d.Body) == 1 {
			err = d.Nack(ctx)
		} else {
			err = d.Ack(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	again := connectortest.Receive(t, ch, 1)[0]
	if n := connectortest.Number(t, again.Body); n != 1 {
		t.Fatalf("redelivered %d, want 1", n)
	}
	closeSource(t, src) // 1 still unacknowledged: the commit stays at offset 1
	if err := again.Ack(ctx); err != ErrClosed {
		t.Errorf("Ack after Close: %v, want ErrClosed", err)
	}

	src, ch = openGroup(t, ctx, connector.Env{}, addr, topic, group, 10)
	defer closeSource(t, src)
	if ns := numbers(t, connectortest.Receive(t, ch, 2)); !slices.Equal(ns, []int{1, 2}) {
		t.Fatalf("after reopening received %v, want 1 and 2", ns)
	}
}

func TestBackPressure(t *testing.T) {
	topic := unique("orders")
	addr := cluster(t, 2, topic)
	sink := newSink(t, addr, topic)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := sink.Write(ctx, connectortest.Messages(20)); err != nil {
		t.Fatal(err)
	}
	src, ch := openGroup(t, ctx, connector.Env{}, addr, topic, unique("g"), 5)
	defer closeSource(t, src)
	first := connectortest.Receive(t, ch, 5)
	connectortest.Quiet(t, ch, 300*time.Millisecond)
	if err := first[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	connectortest.Receive(t, ch, 1)
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}

// committedOffset asks the group coordinator for the group's offset of partition 0.
func committedOffset(t *testing.T, ctx context.Context, addr, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rt.Partitions = []int32{0}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.Partition == 0 {
				return p.Offset
			}
		}
	}
	return -1
}

// Offsets are committed on the commit interval of the injected clock, without Close.
func TestPeriodicCommit(t *testing.T) {
	topic, group := unique("orders"), unique("g")
	addr := cluster(t, 1, topic)
	sink := newSink(t, addr, topic)
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := sink.Write(ctx, connectortest.Messages(4)); err != nil {
		t.Fatal(err)
	}
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	src, ch := openGroup(t, ctx, connector.Env{Clock: fake}, addr, topic, group, 10)
	defer closeSource(t, src)
	for _, d := range connectortest.Receive(t, ch, 4) {
		if connectortest.Number(t, d.Body) == 3 {
			continue // offset 3 stays unacknowledged
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := committedOffset(t, ctx, addr, group, topic); got != -1 {
		t.Fatalf("committed %d before the commit interval passed", got)
	}
	for fake.Sleepers() == 0 {
		time.Sleep(time.Millisecond)
	}
	fake.Advance(commitInterval)
	deadline := time.Now().Add(connectortest.Timeout)
	for {
		got := committedOffset(t, ctx, addr, group, topic)
		if got == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offset %d after the interval, want 3", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPartitionAck(t *testing.T) {
	p := newPartition()
	var es []*entry
	for _, off := range []int64{10, 11, 13, 17} { // gaps, as compaction leaves them
		e := &entry{rec: &kgo.Record{Offset: off, LeaderEpoch: 2}, p: p}
		p.pending = append(p.pending, e)
		es = append(es, e)
	}
	steps := []struct {
		ack  int
		want int64
	}{{1, -1}, {3, -1}, {0, 12}, {2, 18}}
	for _, s := range steps {
		p.ack(es[s.ack])
		if p.commit.Offset != s.want {
			t.Fatalf("after acking offset %d: commit %d, want %d", es[s.ack].rec.Offset, p.commit.Offset, s.want)
		}
	}
	if p.commit.Epoch != 2 || len(p.pending) != 0 || !p.dirty() {
		t.Errorf("commit %+v, %d pending, dirty %v", p.commit, len(p.pending), p.dirty())
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
	topic := unique("orders")
	addr := cluster(t, 1, topic)
	ctx := context.Background()
	if err := Check(ctx, settings(connector.Env{}, "brokers", []any{addr}, "topic", topic)); err != nil {
		t.Errorf("Check of a running cluster: %v", err)
	}
	err := Check(ctx, settings(connector.Env{}, "brokers", []any{addr}, "topic", "missing-topic"))
	if err == nil || !strings.Contains(err.Error(), "missing-topic") {
		t.Errorf("Check with an unknown topic: %v, want an error naming it", err)
	}
	closed := closedAddr(t)
	start := time.Now()
	err = Check(ctx, settings(connector.Env{}, "brokers", []any{closed}))
	if err == nil || !strings.Contains(err.Error(), closed) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Check of a closed port: %v, want the address and connection refused", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Check of a closed port took %v", d)
	}
	// Open says the same instead of retrying in the background.
	src := newSource(t, connector.Env{}, "brokers", []any{closed}, "topic", topic, "group", "g")
	if _, err := src.Open(ctx, 1); err == nil || !strings.Contains(err.Error(), closed) {
		t.Errorf("Open against a closed port: %v", err)
	}
	closeSource(t, src)
}

func TestOptionErrors(t *testing.T) {
	brokers := []any{"127.0.0.1:9092"}
	env := connector.Env{LookupEnv: func(string) (string, bool) { return "", false }}
	for _, c := range []struct {
		name string
		sink bool
		kv   []any
		want string
	}{
		{"no brokers", false, []any{"topic", "t", "group", "g"}, "test.cai:1:1: kafka connector events: missing brokers: the seed brokers, a list of host:port"},
		{"no group", false, []any{"brokers", brokers, "topic", "t"}, "test.cai:1:1: kafka connector events: missing group"},
		{"no topic", false, []any{"brokers", brokers, "group", "g"}, "missing topic"},
		{"topic and topics", false, []any{"brokers", brokers, "group", "g", "topic", "a", "topics", []any{"b"}}, "test.cai:4:5: kafka connector events: topic: set topic or topics, not both"},
		{"bad start", false, []any{"brokers", brokers, "group", "g", "topic", "t", "start", "beginning"}, "test.cai:5:5: kafka connector events: start: expected earliest or latest"},
		{"brokers not a list", false, []any{"brokers", int64(1), "group", "g", "topic", "t"}, "test.cai:2:5: kafka connector events: brokers: expected a list of strings"},
		{"unknown key", false, []any{"brokers", brokers, "group", "g", "topic", "t", "partitions", int64(3)}, "test.cai:5:5: kafka connector events: unknown setting partitions; expected one of brokers, format, group"},
		{"sink without topic", true, []any{"brokers", brokers}, "test.cai:1:1: kafka connector events: missing topic, which a sink needs: the topic a sink produces to"},
		{"bad key", true, []any{"brokers", brokers, "topic", "t", "key", "$.[["}, "test.cai:4:5: kafka connector events: key: not a JSONPath"},
		{"bad mechanism", true, []any{"brokers", brokers, "topic", "t", "sasl", config.Options{Entries: []config.Option{
			{Pos: config.Pos{File: "test.cai", Line: 9, Col: 7}, Key: "mechanism", Value: "gssapi"},
			{Key: "username", Value: "u"}, {Key: "password", Value: "p"},
		}}}, "test.cai:9:7: kafka connector events: sasl: mechanism: expected plain, scram-sha-256 or scram-sha-512, found \"gssapi\""},
		{"unset password", true, []any{"brokers", brokers, "topic", "t", "sasl", config.Options{Entries: []config.Option{
			{Key: "mechanism", Value: "plain"}, {Key: "username", Value: "u"},
			{Key: "password", Value: config.Value{Pos: config.Pos{File: "test.cai", Line: 8, Col: 9}, Parts: []config.ValuePart{{Env: "KAFKA_PASSWORD"}}}},
		}}}, "test.cai:8:9: kafka connector events: sasl: password: KAFKA_PASSWORD is not set"},
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
		})
	}
}

// A sink accepts a connector block that also carries the source's keys, and SASL
// settings resolve from the environment.
func TestSharedConnectorBlock(t *testing.T) {
	env := connector.Env{LookupEnv: func(name string) (string, bool) { return "s3cret", name == "KAFKA_PASSWORD" }}
	sasl := config.Options{Entries: []config.Option{
		{Key: "mechanism", Value: "scram-sha-512"}, {Key: "username", Value: "junction"},
		{Key: "password", Value: config.Value{Parts: []config.ValuePart{{Env: "KAFKA_PASSWORD"}}}},
	}}
	s := settings(env, "brokers", []any{"127.0.0.1:9092"}, "topic", "t", "group", "g", "start", "latest", "tls", true, "sasl", sasl)
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
	if o.sasl == nil || o.sasl.password != "s3cret" || o.tls == nil || o.tls.RootCAs != nil {
		t.Errorf("options %+v", o)
	}
	_ = src.Close()
}

// groupStable waits until the group has n members and no rebalance in progress.
func groupStable(t *testing.T, ctx context.Context, addr, group string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(connectortest.Timeout)
	for {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && len(resp.Groups) == 1 && resp.Groups[0].State == "Stable" && len(resp.Groups[0].Members) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s did not settle with %d members: %+v %v", group, n, resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// When a second member joins, the first commits what it acknowledged of the partitions
// it gives up (the periodic commit is minutes away on the fake clock), so the new member
// starts after them, and the two split the new records without duplicates.
func TestRebalanceCommitsRevoked(t *testing.T) {
	topic, group := unique("orders"), unique("g")
	addr := cluster(t, 4, topic)
	sink := newSink(t, addr, topic, "key", "$.n") // keys spread the records over the partitions
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	if err := sink.Write(ctx, connectortest.Messages(40)); err != nil {
		t.Fatal(err)
	}
	env := connector.Env{Clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	a, chA := openGroup(t, ctx, env, addr, topic, group, 100)
	defer closeSource(t, a)
	for _, d := range connectortest.Receive(t, chA, 40) {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b, chB := openGroup(t, ctx, env, addr, topic, group, 100)
	defer closeSource(t, b)
	groupStable(t, ctx, addr, group, 2)

	more := make([]connector.Message, 40)
	for i := range more {
		more[i] = connector.Message{Body: fmt.Appendf(nil, `{"n":%d}`, 40+i)}
	}
	if err := sink.Write(ctx, more); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var ns []int
	deadline := time.After(connectortest.Timeout)
	for len(ns) < 40 {
		var d connector.Delivery
		var from string
		select {
		case d = <-chA:
			from = "a"
		case d = <-chB:
			from = "b"
		case <-deadline:
			t.Fatalf("received %d of 40: %v", len(ns), ns)
		}
		seen[from]++
		ns = append(ns, connectortest.Number(t, d.Body))
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ns)
	if ns[0] != 40 || len(slices.Compact(ns)) != 40 {
		t.Fatalf("received %v, want 40..79 once each", ns)
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("deliveries per member %v, want both to take part", seen)
	}
	connectortest.Quiet(t, chA, 200*time.Millisecond)
	connectortest.Quiet(t, chB, 100*time.Millisecond)
}
