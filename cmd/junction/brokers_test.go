package main

import (
	"context"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jetStream publishes to and reads from a NATS JetStream stream the test owns.
type jetStream struct {
	t      *testing.T
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
}

func newJetStream(t *testing.T, stream string) *jetStream {
	t.Helper()
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatalf("NATS: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = js.DeleteStream(context.Background(), stream)
		nc.Close()
	})
	return &jetStream{t: t, nc: nc, js: js, stream: stream}
}

// publish waits for the stream's acknowledgement; the stream must exist (Junction
// creates it when its connector opens), so it retries briefly.
func (j *jetStream) publish(subject, body string) {
	j.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := j.js.Publish(ctx, subject, []byte(body))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("publish to %s: %v", subject, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// receive reads n messages on subject from the start of the stream, then checks for a
// moment that no more arrive.
func (j *jetStream) receive(n int, subject string) []string {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cons jetstream.Consumer
	var err error
	for {
		cons, err = j.js.OrderedConsumer(ctx, j.stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			j.t.Fatalf("consumer on %s: %v", j.stream, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out []string
	for len(out) < n {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			j.t.Fatalf("fetch: %v", err)
		}
		for m := range batch.Messages() {
			out = append(out, string(m.Data()))
		}
		if ctx.Err() != nil {
			j.t.Fatalf("received %d of %d messages on %s", len(out), n, subject)
		}
	}
	extra, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond))
	if err == nil {
		for m := range extra.Messages() {
			out = append(out, string(m.Data()))
		}
	}
	return out
}

// mqttPublisher publishes at QoS 1 and waits for each PUBACK.
type mqttPublisher struct {
	t *testing.T
	c mqtt.Client
}

func newMQTTPublisher(t *testing.T) *mqttPublisher {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://127.0.0.1:1883").SetClientID(uniqueName("test-pub"))
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &mqttPublisher{t: t, c: c}
}

func (p *mqttPublisher) publish(topic, body string) {
	p.t.Helper()
	tok := p.c.Publish(topic, 1, false, body)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		p.t.Fatalf("MQTT publish %s: %v", topic, tok.Error())
	}
}
