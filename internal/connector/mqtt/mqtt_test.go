package mqtt_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/connector/mqtt"
	"github.com/junctionhq/junction/internal/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	addr   = "127.0.0.1:1883"
	server = "tcp://" + addr
)

func random(t *testing.T) string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// prefix is a topic prefix no other test uses.
func prefix(t *testing.T) string {
	t.Helper()
	servicetest.Require(t, "Mosquitto", addr)
	return "junction-test/" + random(t)
}

// clientID is a client id for a test's source whose session is removed at the end.
func clientID(t *testing.T) string {
	id := "junction-test-" + random(t)
	t.Cleanup(func() {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(server).SetClientID(id).SetCleanSession(true))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Errorf("remove session %s: %v", id, tok.Error())
			return
		}
		c.Disconnect(100)
	})
	return id
}

func settings(t *testing.T, block, use string) connector.Settings {
	t.Helper()
	return connectortest.Settings(t, "mqtt", "sensors", block, use)
}

func urlBlock(url string) string { return fmt.Sprintf("url: %q", url) }

func newSource(t *testing.T, use string) connector.Source {
	t.Helper()
	src, err := mqtt.Kind().NewSource(settings(t, urlBlock(server), use))
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func newSink(t *testing.T, topic string) connector.Sink {
	t.Helper()
	sink, err := mqtt.Kind().NewSink(settings(t, urlBlock(server), fmt.Sprintf("topic: %q", topic)))
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	return sink
}

func context20s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// TestConformance runs the suite every connector passes against the local Mosquitto, at
// QoS 1 with a persistent session (a Nack reconnects to have the broker redeliver).
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Kind: mqtt.Kind(), Messages: 500, Batch: 50, Parallel: true,
		Place: func(t *testing.T) (connector.Settings, connector.Settings) {
			topic := prefix(t) + "/orders"
			return settings(t, urlBlock(server), fmt.Sprintf("topics: [%q]\nclient_id: %q", topic, clientID(t))),
				settings(t, urlBlock(server), fmt.Sprintf("topic: %q", topic))
		},
	})
}

func TestHeadersAndSettleOnce(t *testing.T) {
	t.Parallel()
	ctx := context20s(t)
	topic := prefix(t) + "/orders"
	src := newSource(t, fmt.Sprintf("topic: %q\nclient_id: %q", topic, clientID(t)))
	ch, err := src.Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := newSink(t, topic).Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	if d.Headers["topic"] != topic || d.Headers["qos"] != "1" || d.Headers["retained"] != "false" || d.Headers["message_id"] == "" {
		t.Errorf("headers = %v, want topic %s, qos 1, retained false and a message_id", d.Headers, topic)
	}
	if string(d.Body) != `{"n":0}` || !strings.HasPrefix(d.ID, "mqtt:"+topic+":") {
		t.Errorf("delivery %s %q", d.ID, d.Body)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := d.Ack(ctx); !errors.Is(err, mqtt.ErrSettled) {
		t.Errorf("second Ack = %v, want ErrSettled", err)
	}
	if err := d.Nack(ctx); !errors.Is(err, mqtt.ErrSettled) {
		t.Errorf("Nack after Ack = %v, want ErrSettled", err)
	}
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}

// receiveTopics collects the topics of what arrives within d, acknowledging it.
func receiveTopics(t *testing.T, ch <-chan connector.Delivery, d time.Duration) []string {
	t.Helper()
	var topics []string
	timeout := time.After(d)
	for {
		select {
		case del := <-ch:
			topics = append(topics, del.Headers["topic"])
			if err := del.Ack(context.Background()); err != nil {
				t.Errorf("Ack: %v", err)
			}
		case <-timeout:
			slices.Sort(topics)
			return topics
		}
	}
}

func TestWildcards(t *testing.T) {
	t.Parallel()
	ctx := context20s(t)
	p := prefix(t)
	open := func(use string) <-chan connector.Delivery {
		ch, err := newSource(t, use+fmt.Sprintf("\nclient_id: %q", clientID(t))).Open(ctx, 16)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return ch
	}
	plus := open(fmt.Sprintf("topic: %q", p+"/sensors/+/temp"))
	hash := open(fmt.Sprintf("topics: [%q]", p+"/sensors/#"))
	both := open(fmt.Sprintf("topics: [%q, %q]", p+"/sensors/+/temp", p+"/sensors/#"))

	for _, topic := range []string{"/sensors/a/temp", "/sensors/b/humidity", "/other/x", "/sensors/a/temp/raw"} {
		if err := newSink(t, p+topic).Write(ctx, connectortest.Messages(1)); err != nil {
			t.Fatalf("Write to %s: %v", topic, err)
		}
	}

	if got, want := receiveTopics(t, plus, time.Second), []string{p + "/sensors/a/temp"}; !slices.Equal(got, want) {
		t.Errorf("sensors/+/temp received %v, want %v", got, want)
	}
	want := []string{p + "/sensors/a/temp", p + "/sensors/a/temp/raw", p + "/sensors/b/humidity"}
	if got := receiveTopics(t, hash, 300*time.Millisecond); !slices.Equal(got, want) {
		t.Errorf("sensors/# received %v, want %v", got, want)
	}
	// Overlapping filters: the broker may send a message once per matching filter
	// (Mosquitto 2 does); never a topic neither matches, and nothing is lost.
	got := receiveTopics(t, both, 300*time.Millisecond)
	if !slices.Equal(slices.Compact(slices.Clone(got)), want) {
		t.Errorf("sensors/+/temp and sensors/# received %v, want each of %v", got, want)
	}
	t.Logf("overlapping filters received %v", got)
}

func TestSessionKeepsMessagesAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := context20s(t)
	topic := prefix(t) + "/orders"
	use := fmt.Sprintf("topic: %q\nclient_id: %q", topic, clientID(t))
	sink := newSink(t, topic)

	first := newSource(t, use)
	ch, err := first.Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	msgs := connectortest.Messages(2)
	if err := sink.Write(ctx, msgs[:1]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	unacked := connectortest.Receive(t, ch, 1)[0]
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := unacked.Ack(ctx); !errors.Is(err, mqtt.ErrConnectionGone) {
		t.Errorf("Ack after Close = %v, want ErrConnectionGone", err)
	}
	// Published while no client of the session is connected.
	if err := sink.Write(ctx, msgs[1:]); err != nil {
		t.Fatalf("Write: %v", err)
	}

	ch, err = newSource(t, use).Open(ctx, 4)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var got []int
	for _, d := range connectortest.Receive(t, ch, 2) {
		got = append(got, connectortest.Number(t, d.Body))
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1}) {
		t.Errorf("after reopening got %v, want the unacknowledged 0 and the queued 1", got)
	}
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}

func TestInFlightLimit(t *testing.T) {
	t.Parallel()
	ctx := context20s(t)
	topic := prefix(t) + "/orders"
	ch, err := newSource(t, fmt.Sprintf("topic: %q\nclient_id: %q", topic, clientID(t))).Open(ctx, 2)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := newSink(t, topic).Write(ctx, connectortest.Messages(5)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	held := connectortest.Receive(t, ch, 2)
	connectortest.Quiet(t, ch, 300*time.Millisecond)
	if err := held[0].Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	held = append(held[1:], connectortest.Receive(t, ch, 1)...)
	connectortest.Quiet(t, ch, 200*time.Millisecond)
	seen := map[int]bool{}
	for _, d := range held {
		seen[connectortest.Number(t, d.Body)] = true
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	for range 2 {
		d := connectortest.Receive(t, ch, 1)[0]
		seen[connectortest.Number(t, d.Body)] = true
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	if len(seen) != 4 {
		t.Errorf("received %v, want 4 distinct messages after the first", seen)
	}
}

func TestReconnectAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	ctx := context20s(t)
	topic := prefix(t) + "/orders"
	proxy := connectortest.NewProxy(t, addr)
	s := settings(t, urlBlock("tcp://"+proxy.Addr()), fmt.Sprintf("topic: %q\nclient_id: %q", topic, clientID(t)))
	src, err := mqtt.Kind().NewSource(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	ch, err := src.Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sink := newSink(t, topic)
	if err := sink.Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	before := connectortest.Receive(t, ch, 1)[0]

	proxy.Cut()

	after := connectortest.Receive(t, ch, 1)[0]
	if string(after.Body) != string(before.Body) || after.Headers["duplicate"] != "true" {
		t.Errorf("after reconnecting got %q (headers %v), want %q again", after.Body, after.Headers, before.Body)
	}
	if err := before.Ack(ctx); !errors.Is(err, mqtt.ErrConnectionGone) {
		t.Errorf("Ack from the lost connection = %v, want ErrConnectionGone", err)
	}
	if err := after.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	// Subscribed again: new messages arrive.
	if err := sink.Write(ctx, connectortest.Messages(2)[1:]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if d := connectortest.Receive(t, ch, 1)[0]; connectortest.Number(t, d.Body) != 1 {
		t.Errorf("got %q, want message 1", d.Body)
	} else if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}

func TestQoS0(t *testing.T) {
	t.Parallel()
	ctx := context20s(t)
	topic := prefix(t) + "/orders"
	ch, err := newSource(t, fmt.Sprintf("topic: %q\nqos: 0", topic)).Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := newSink(t, topic).Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	if d.Headers["qos"] != "0" {
		t.Errorf("qos header %q, want 0", d.Headers["qos"])
	}
	if err := d.Nack(ctx); !errors.Is(err, mqtt.ErrNoRedelivery) {
		t.Errorf("Nack at QoS 0 = %v, want ErrNoRedelivery", err)
	}
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	servicetest.Require(t, "Mosquitto", addr)
	ctx := context20s(t)
	if err := mqtt.Kind().Check(ctx, settings(t, urlBlock(server), "")); err != nil {
		t.Errorf("Check: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	err = mqtt.Kind().Check(ctx, settings(t, urlBlock("tcp://user:s3cret@"+closed), ""))
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), closed) {
		t.Errorf("Check of a closed port = %v, want connection refused naming %s", err, closed)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestOldSubscriptionsOfTheSessionAreDropped(t *testing.T) {
	t.Parallel()
	ctx := context20s(t)
	p := prefix(t)
	id := clientID(t)
	old, err := mqtt.Kind().NewSource(settings(t, urlBlock(server), fmt.Sprintf("topic: %q\nclient_id: %q", p+"/old", id)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Open(ctx, 4); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	// The session still subscribes to p/old, and keeps this message for the client.
	if err := newSink(t, p+"/old").Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	ch, err := newSource(t, fmt.Sprintf("topic: %q\nclient_id: %q", p+"/new", id)).Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := newSink(t, p+"/new").Write(ctx, connectortest.Messages(2)[1:]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	if d.Headers["topic"] != p+"/new" {
		t.Errorf("got a message on %s, want only %s/new", d.Headers["topic"], p)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	connectortest.Quiet(t, ch, 300*time.Millisecond)
}
