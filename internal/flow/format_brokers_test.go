package flow_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/amqp"
	"github.com/junctionhq/junction/internal/connector/kafka"
	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/format/formattest"
	"github.com/junctionhq/junction/internal/servicetest"
)

// The orders of these tests: Avro in, Protocol Buffers (shop.Order of
// internal/format/testdata/order.proto) in the middle, Avro out.
const (
	placedAvroSchema = `{"type": "record", "name": "Placed", "namespace": "shop", "fields": [
  {"name": "id", "type": "long"}, {"name": "customer", "type": "string"},
  {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "PlacedLine", "fields": [
    {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}},
  {"name": "total", "type": "double"}, {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}`
	summaryAvroSchema = `{"type": "record", "name": "Summary", "namespace": "shop", "fields": [
  {"name": "id", "type": "long"}, {"name": "customer", "type": "string"}, {"name": "skus", "type": {"type": "array", "items": "string"}},
  {"name": "total", "type": "double"}, {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}`
	// avroToProto maps a Placed order onto shop.Order.
	avroToProto = `step map { transform: { id: "$.id", customer: "$.customer", lines: "$.lines[*]", status: "STATUS_NEW", total: "$.total", created: "$.placed" } }`
)

func placedOrder(i int) string {
	return fmt.Sprintf(`{"id": %d, "customer": "c-%d", "lines": [{"sku": "s%d", "qty": 2}, {"sku": "t", "qty": 1}], "total": %d.5, "placed": "2026-01-02T15:04:05.123Z"}`, 9007199254740993+i, i, i, i)
}

// wantProto is placedOrder(i) as the flow writes it in Protocol Buffers, decoded.
func wantProto(i int) string {
	return fmt.Sprintf(`{"id": %d, "customer": "c-%d", "lines": [{"sku": "s%d", "qty": 2, "cents": 0}, {"sku": "t", "qty": 1, "cents": 0}],
  "status": "STATUS_NEW", "attrs": {}, "created": "2026-01-02T15:04:05.123Z", "raw": "", "total": %d.5, "big": 0, "first": null}`, 9007199254740993+i, i, i, i)
}

// byID compares lists of orders in any order, by id: a flow handles messages
// concurrently. It sorts the lists inside an order too, alike on both sides, so their
// order is left to the codecs' own tests.
var byID = cmpopts.SortSlices(func(a, b any) bool { return sortKey(a) < sortKey(b) })

func sortKey(v any) string {
	if m, ok := v.(map[string]any); ok {
		return fmt.Sprint(m["id"])
	}
	return fmt.Sprint(v)
}

func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// startEngine runs a configuration's flows over real connectors.
func startEngine(t *testing.T, src string) *fakeDLQ {
	t.Helper()
	cfg, diags := config.Decode(filepath.Join(t.TempDir(), "test.cai"), []byte(src))
	if err := diags.Err(); err != nil {
		t.Fatalf("config: %v", err)
	}
	dlq := newFakeDLQ()
	e, err := flow.New(cfg, flow.Options{
		Kinds:       map[string]connector.Kind{"kafka": kafka.Kind(), "rabbitmq": amqp.Kind()},
		Env:         connector.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.Real{}},
		DeadLetters: dlq,
	})
	if err != nil {
		t.Fatalf("flow.New: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Close(ctx)
	})
	return dlq
}

func newAvro(t *testing.T, o format.AvroOptions) format.Codec {
	t.Helper()
	c, err := format.NewAvro(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newProto(t *testing.T, set string) format.Codec {
	t.Helper()
	c, err := format.NewProtobuf(mustRead(t, set), "shop.Order")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAvroAndProtobufThroughKafka: Avro orders in the schema registry's wire format go
// through one flow into a topic of Protocol Buffers (keyed by the order id), and
// through a second flow into a topic of Avro registered under its subject; a message
// that is not Avro is dead-lettered and the rest carry on.
func TestAvroAndProtobufThroughKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "placed", "orders", "summaries"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	broker := c.ListenAddrs()[0]
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{Username: "junction", Password: "s3cret"})
	t.Setenv("REGISTRY_PASSWORD", "s3cret")
	set := formattest.DescriptorSetFile(t, filepath.Join("..", "format", "testdata", "order.proto"))
	registry := fmt.Sprintf(`registry: { url: %q, username: "junction", password: env(REGISTRY_PASSWORD)`, reg.URL())
	protobuf := fmt.Sprintf(`format: { type: protobuf, descriptor_set: %q, message: "shop.Order" }`, set)
	dlq := startEngine(t, fmt.Sprintf(`
connector placed { type: kafka, brokers: [%[1]q], topic: "placed", group: %[2]q, start: earliest, format: { type: avro, %[3]s } } }
connector orders { type: kafka, brokers: [%[1]q], topic: "orders", group: %[2]q, start: earliest, key: "$.id", %[4]s }
connector summaries { type: kafka, brokers: [%[1]q], topic: "summaries", format: { type: avro, schema: %[5]s, %[3]s, subject: "summaries-value" } } }
flow avro-to-protobuf {
    source: placed
    %[6]s
    sink orders { connector: orders }
    on_error: retry 2 times with exponential_backoff(1ms, max 5ms) then dead_letter("dl")
}
flow protobuf-to-avro {
    source: orders
    step map { transform: { id: "$.id", customer: "$.customer", skus: "$.lines[*].sku", total: "$.total", created: "$.created" } }
    sink summaries { connector: summaries }
}`, broker, unique("formats"), registry, protobuf, strconv.Quote(summaryAvroSchema), avroToProto))

	placedID, err := reg.Register("placed-value", placedAvroSchema)
	if err != nil {
		t.Fatal(err)
	}
	regClient, err := format.NewRegistry(reg.URL(), "junction", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	producer := newAvro(t, format.AvroOptions{Schema: placedAvroSchema, Registry: regClient, Subject: "placed-value"})
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("orders", "summaries"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	const n = 3
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		if i == 1 {
			cl.ProduceSync(ctx, &kgo.Record{Topic: "placed", Value: []byte(`{"id": 1}`)}) // not Avro
		}
		value, err := producer.Encode(tree(t, placedOrder(i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "placed", Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if id := producerID(t, reg, "placed-value"); id != placedID {
		t.Fatalf("the producer registered schema %d, want %d", id, placedID)
	}

	proto := newProto(t, set)
	summaries := newAvro(t, format.AvroOptions{Registry: regClient})
	var orders, sums []any
	var keys []string
	for len(orders) < n || len(sums) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out with %d orders and %d summaries of %d; dead letters: %+v", len(orders), len(sums), n, dlq.all())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			switch r.Topic {
			case "orders":
				v, err := proto.Decode(r.Value)
				if err != nil {
					t.Fatalf("an orders record is not shop.Order: %v", err)
				}
				orders, keys = append(orders, v), append(keys, string(r.Key))
			case "summaries":
				v, err := summaries.Decode(r.Value)
				if err != nil {
					t.Fatalf("a summaries record is not registered Avro: %v", err)
				}
				sums = append(sums, v)
			}
		})
	}
	var wantOrders, wantSums []any
	var wantKeys []string
	for i := range n {
		wantOrders = append(wantOrders, tree(t, wantProto(i)))
		wantKeys = append(wantKeys, strconv.Itoa(9007199254740993+i))
		wantSums = append(wantSums, tree(t, fmt.Sprintf(`{"id": %d, "customer": "c-%d", "skus": ["s%d", "t"], "total": %d.5, "created": "2026-01-02T15:04:05.123Z"}`, 9007199254740993+i, i, i, i)))
	}
	if diff := cmp.Diff(wantOrders, orders, byID); diff != "" {
		t.Errorf("protobuf orders (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantKeys, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("record keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSums, sums, byID); diff != "" {
		t.Errorf("avro summaries (-want +got):\n%s", diff)
	}
	if reg.Schema(producerID(t, reg, "summaries-value")) != summaryAvroSchema {
		t.Error("the sink did not register its schema under summaries-value")
	}
	dls := dlq.all()
	if len(dls) != 1 || dls[0].Flow != "avro-to-protobuf" || !strings.Contains(dls[0].Error, "the message is not Avro: invalid Avro: not in the schema registry's wire format") {
		t.Errorf("dead letters %+v, want the one message that is not Avro", dls)
	}
}

// producerID is the id of the subject's latest schema.
func producerID(t *testing.T, reg *fakeapi.SchemaRegistry, subject string) int {
	t.Helper()
	r, err := format.NewRegistry(reg.URL(), "junction", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := r.Latest(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAvroAndProtobufThroughRabbitMQ: Avro orders (a schema file, no registry) on one
// queue go through a flow into another queue as Protocol Buffers; a message that is
// not Avro is dead-lettered and the rest carry on.
func TestAvroAndProtobufThroughRabbitMQ(t *testing.T) {
	const server = "amqp://guest:guest@127.0.0.1:5672/"
	servicetest.Require(t, "RabbitMQ", "127.0.0.1:5672")
	conn, err := amqp091.Dial(server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	in, out := unique("junction-test-formats-in"), unique("junction-test-formats-out")
	for _, q := range []string{in, out} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, q := range []string{in, out} {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				t.Errorf("delete queue %s: %v", q, err)
			}
		}
	})
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "placed.avsc")
	if err := os.WriteFile(schemaFile, []byte(placedAvroSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	set := formattest.DescriptorSetFile(t, filepath.Join("..", "format", "testdata", "order.proto"))
	dlq := startEngine(t, fmt.Sprintf(`
connector placed { type: rabbitmq, url: %[1]q, queue: { name: %[2]q, durable: false }, format: { type: avro, schema_file: %[4]q } }
connector orders { type: rabbitmq, url: %[1]q, routing_key: %[3]q, mandatory: true, format: { type: protobuf, descriptor_set: %[5]q, message: "shop.Order" } }
flow avro-to-protobuf {
    source: placed
    %[6]s
    sink orders { connector: orders }
    on_error: retry 2 times with exponential_backoff(1ms, max 5ms) then dead_letter("dl")
}`, server, in, out, schemaFile, set, avroToProto))

	producer := newAvro(t, format.AvroOptions{Schema: placedAvroSchema})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 3
	for i := range n {
		body, err := producer.Encode(tree(t, placedOrder(i)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := ch.PublishWithContext(ctx, "", in, false, false, amqp091.Publishing{Body: []byte("<not avro/>")}); err != nil {
				t.Fatal(err)
			}
		}
		if err := ch.PublishWithContext(ctx, "", in, false, false, amqp091.Publishing{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	deliveries, err := ch.Consume(out, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	proto := newProto(t, set)
	var got, want []any
	for len(got) < n {
		select {
		case d := <-deliveries:
			v, err := proto.Decode(d.Body)
			if err != nil {
				t.Fatalf("a message of %s is not shop.Order: %v", out, err)
			}
			got = append(got, v)
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d orders; dead letters: %+v", len(got), n, dlq.all())
		}
	}
	for i := range n {
		want = append(want, tree(t, wantProto(i)))
	}
	if diff := cmp.Diff(want, got, byID); diff != "" {
		t.Errorf("protobuf orders (-want +got):\n%s", diff)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(dlq.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if dls := dlq.all(); len(dls) != 1 || string(dls[0].Body) != "<not avro/>" || !strings.HasPrefix(dls[0].Error, "the message is not Avro: invalid Avro") {
		t.Errorf("dead letters %+v, want the one message that is not Avro", dls)
	}
}
