package amqp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/amqp"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	addr   = "127.0.0.1:5672"
	server = "amqp://guest:guest@" + addr + "/"
)

// topology is a unique exchange, queue and binding for one test.
type topology struct {
	exchange, queue string
}

func newTopology(t *testing.T) topology {
	t.Helper()
	servicetest.Require(t, "RabbitMQ", addr)
	suffix := random(t)
	tp := topology{exchange: "junction-test-x-" + suffix, queue: "junction-test-q-" + suffix}
	t.Cleanup(func() {
		ch := adminChannel(t)
		if _, err := ch.QueueDelete(tp.queue, false, false, false); err != nil {
			t.Errorf("delete queue: %v", err)
		}
		if err := ch.ExchangeDelete(tp.exchange, false, false); err != nil {
			t.Errorf("delete exchange: %v", err)
		}
	})
	return tp
}

// block is the connector block declaring the topology, with url.
func (tp topology) block(url string) string {
	return fmt.Sprintf(`url: %q
exchanges: [{ name: %q, type: topic }]
queue: { name: %q, durable: false }
bindings: [{ exchange: %q, routing_key: "order.*" }]`, url, tp.exchange, tp.queue, tp.exchange)
}

func (tp topology) sinkUse() string {
	return fmt.Sprintf("exchange: %q\nrouting_key: \"order.created\"", tp.exchange)
}

func random(t *testing.T) string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func settings(t *testing.T, block, use string) connector.Settings {
	t.Helper()
	return connectortest.Settings(t, "rabbitmq", "orders", block, use)
}

func newSource(t *testing.T, s connector.Settings) connector.Source {
	t.Helper()
	src, err := amqp.Kind().NewSource(s)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func newSink(t *testing.T, s connector.Settings) connector.Sink {
	t.Helper()
	sink, err := amqp.Kind().NewSink(s)
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	t.Cleanup(func() {
		if err := sink.Close(); err != nil {
			t.Errorf("sink Close: %v", err)
		}
	})
	return sink
}

// adminChannel is a plain client connection for looking at the broker behind the
// connector's back.
func adminChannel(t *testing.T) *amqp091.Channel {
	t.Helper()
	conn, err := amqp091.Dial(server)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("admin channel: %v", err)
	}
	return ch
}

func context20s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// TestConformance runs the suite every connector passes against the local RabbitMQ.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Kind: amqp.Kind(), Messages: 500, Batch: 50, Parallel: true,
		Place: func(t *testing.T) (connector.Settings, connector.Settings) {
			tp := newTopology(t)
			return settings(t, tp.block(server), "batch_size: 100"), settings(t, tp.block(server), tp.sinkUse())
		},
	})
}

func TestHeadersAndSettleOnce(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	ctx := context20s(t)
	src := newSource(t, settings(t, tp.block(server), ""))
	ch, err := src.Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// No routing_key option: the message's routing_key header routes it.
	sink := newSink(t, settings(t, tp.block(server), fmt.Sprintf("exchange: %q", tp.exchange)))
	sent := time.Now().Truncate(time.Second)
	msg := connector.Message{
		Body: []byte(`{"n":1}`),
		Time: sent,
		Headers: map[string]string{
			"routing_key": "order.paid", "message_id": "m-1", "content_type": "application/json", "tenant": "acme",
		},
	}
	if err := sink.Write(ctx, []connector.Message{msg}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	want := map[string]string{
		"routing_key": "order.paid", "exchange": tp.exchange, "message_id": "m-1",
		"content_type": "application/json", "tenant": "acme",
	}
	for k, v := range want {
		if d.Headers[k] != v {
			t.Errorf("header %s = %q, want %q (all: %v)", k, d.Headers[k], v, d.Headers)
		}
	}
	if _, ok := d.Headers["redelivered"]; ok {
		t.Errorf("first delivery has a redelivered header")
	}
	if !d.Time.Equal(sent) {
		t.Errorf("Time = %v, want the publish time %v", d.Time, sent)
	}
	if !strings.HasPrefix(d.ID, "amqp:") {
		t.Errorf("ID = %q, want amqp:<tag>", d.ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := d.Ack(ctx); !errors.Is(err, amqp.ErrSettled) {
		t.Errorf("second Ack = %v, want ErrSettled", err)
	}
	if err := d.Nack(ctx); !errors.Is(err, amqp.ErrSettled) {
		t.Errorf("Nack after Ack = %v, want ErrSettled", err)
	}
	connectortest.Quiet(t, ch, 200*time.Millisecond)
}

func TestVisibilityTimeout(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	ctx := context20s(t)
	src := newSource(t, settings(t, tp.block(server), "visibility_timeout: 300ms"))
	ch, err := src.Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sink := newSink(t, settings(t, tp.block(server), tp.sinkUse()))
	if err := sink.Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	start := time.Now()
	stuck := connectortest.Receive(t, ch, 1)[0]
	again := connectortest.Receive(t, ch, 1)[0]
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("redelivered after %v, before the visibility timeout", waited)
	}
	if string(again.Body) != string(stuck.Body) || again.Headers["redelivered"] != "true" {
		t.Fatalf("second delivery %q (headers %v), want %q redelivered", again.Body, again.Headers, stuck.Body)
	}
	if err := stuck.Ack(ctx); !errors.Is(err, amqp.ErrVisibilityExpired) {
		t.Errorf("late Ack of the expired delivery = %v, want ErrVisibilityExpired", err)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	// Settled in time: not delivered a third time.
	connectortest.Quiet(t, ch, 600*time.Millisecond)
}

func TestPrefetchIsInFlight(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	ctx := context20s(t)
	src := newSource(t, settings(t, tp.block(server), "prefetch: 50"))
	sink := newSink(t, settings(t, tp.block(server), tp.sinkUse()))
	ch, err := src.Open(ctx, 3)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := sink.Write(ctx, connectortest.Messages(10)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := connectortest.Receive(t, ch, 3)
	// Three unsettled: the source must not hand out a fourth, though prefetch says 50.
	connectortest.Quiet(t, ch, 300*time.Millisecond)
	if err := got[0].Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	got = append(got[1:], connectortest.Receive(t, ch, 1)...)
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	for _, d := range got {
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	for range 6 {
		if err := connectortest.Receive(t, ch, 1)[0].Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
}

func TestTopologyDeclared(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	ctx := context20s(t)
	sink := newSink(t, settings(t, tp.block(server), tp.sinkUse()+"\nmandatory: true"))
	if err := sink.Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	admin := adminChannel(t)
	if err := admin.ExchangeDeclarePassive(tp.exchange, "topic", true, false, false, false, nil); err != nil {
		t.Fatalf("exchange %s not declared: %v", tp.exchange, err)
	}
	q, err := admin.QueueDeclarePassive(tp.queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("queue %s not declared: %v", tp.queue, err)
	}
	if q.Messages != 1 {
		t.Errorf("queue holds %d messages, want the 1 routed through the binding order.*", q.Messages)
	}

	// The binding is order.*: other keys reach no queue, which mandatory makes an error.
	other := newSink(t, settings(t, tp.block(server), fmt.Sprintf("exchange: %q\nrouting_key: \"invoice.created\"\nmandatory: true", tp.exchange)))
	err = other.Write(ctx, connectortest.Messages(2))
	if !errors.Is(err, amqp.ErrReturned) || !strings.Contains(err.Error(), "NO_ROUTE") {
		t.Errorf("Write of unroutable mandatory messages = %v, want ErrReturned with NO_ROUTE", err)
	}
	// The sink carries on after a returned batch.
	if err := sink.Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write after a returned batch: %v", err)
	}
	if q, err = admin.QueueDeclarePassive(tp.queue, false, false, false, false, nil); err != nil || q.Messages != 2 {
		t.Errorf("queue holds %d messages (%v), want 2", q.Messages, err)
	}

	// Declaring again (a second connector on the same topology) is harmless.
	if err := newSink(t, settings(t, tp.block(server), tp.sinkUse())).Write(ctx, connectortest.Messages(1)); err != nil {
		t.Errorf("Write with the topology declared again: %v", err)
	}
}

func TestTopologyConflict(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	ctx := context20s(t)
	if _, err := adminChannel(t).QueueDeclare(tp.queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// The connector says durable: false, the queue exists durable.
	src := newSource(t, settings(t, tp.block(server), ""))
	_, err := src.Open(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "PRECONDITION_FAILED") || !strings.Contains(err.Error(), tp.queue) {
		t.Errorf("Open with a conflicting queue = %v, want PRECONDITION_FAILED naming the queue", err)
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	ctx := context20s(t)
	sink := newSink(t, settings(t, tp.block(server), tp.sinkUse()))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if err := sink.Write(ctx, connectortest.Messages(10)); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	q, err := adminChannel(t).QueueDeclarePassive(tp.queue, false, false, false, false, nil)
	if err != nil || q.Messages != 400 {
		t.Errorf("queue holds %d messages (%v), want 400", q.Messages, err)
	}
}

func TestReconnect(t *testing.T) {
	t.Parallel()
	tp := newTopology(t)
	ctx := context20s(t)
	proxy := connectortest.NewProxy(t, addr)
	via := "amqp://guest:guest@" + proxy.Addr() + "/"
	src := newSource(t, settings(t, tp.block(via), "poll_interval: 100ms"))
	sink := newSink(t, settings(t, tp.block(via), tp.sinkUse()))
	ch, err := src.Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := sink.Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	before := connectortest.Receive(t, ch, 1)[0]

	proxy.Cut()

	// The unsettled delivery came on the lost connection: RabbitMQ requeued it, and the
	// reconnected source delivers it again.
	after := connectortest.Receive(t, ch, 1)[0]
	if string(after.Body) != string(before.Body) || after.Headers["redelivered"] != "true" {
		t.Fatalf("after reconnecting got %q (headers %v), want %q redelivered", after.Body, after.Headers, before.Body)
	}
	if err := before.Ack(ctx); err == nil {
		t.Errorf("Ack of a delivery from the lost connection succeeded")
	}
	if err := after.Ack(ctx); err != nil {
		t.Fatalf("Ack after reconnecting: %v", err)
	}

	// The sink reconnects too: a Write on the cut connection may fail (the flow retries
	// it), a later one succeeds.
	var werr error
	for range 3 {
		if werr = sink.Write(ctx, connectortest.Messages(2)); werr == nil {
			break
		}
	}
	if werr != nil {
		t.Fatalf("Write after the connection was cut: %v", werr)
	}
	for _, d := range connectortest.Receive(t, ch, 2) {
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	servicetest.Require(t, "RabbitMQ", addr)
	ctx := context20s(t)
	check := amqp.Kind().Check
	if err := check(ctx, settings(t, fmt.Sprintf("url: %q", server), "")); err != nil {
		t.Errorf("Check: %v", err)
	}

	closed := closedAddr(t)
	err := check(ctx, settings(t, fmt.Sprintf("url: \"amqp://guest:s3cret@%s/\"", closed), ""))
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), closed) {
		t.Errorf("Check of a closed port = %v, want connection refused naming %s", err, closed)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}

	err = check(ctx, settings(t, "url: \"amqp://guest:wrong-s3cret@"+addr+"/\"", ""))
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "wrong-s3cret") {
		t.Errorf("Check with a wrong password = %v, want the broker's 403 without the password", err)
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	_ = l.Close()
	return a
}
