package nats_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/connector/nats"
	"github.com/junctionhq/junction/internal/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	addr   = "127.0.0.1:4222"
	server = "nats://" + addr
)

func random(t *testing.T) string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// stream is a stream name and subject prefix no other test uses; the stream is deleted
// when the test ends.
type stream struct {
	name, prefix string
}

func newStream(t *testing.T) stream {
	t.Helper()
	servicetest.Require(t, "NATS", addr)
	r := random(t)
	st := stream{name: "JUNCTION_TEST_" + strings.ToUpper(r), prefix: "junction-test." + r}
	t.Cleanup(func() {
		err := admin(t).DeleteStream(context.Background(), st.name)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", st.name, err)
		}
	})
	return st
}

// block is the connector block for the stream, creating it with prefix.>.
func (st stream) block() string {
	return fmt.Sprintf("url: %q\nstream: %q\nsubjects: [%q]", server, st.name, st.prefix+".>")
}

func (st stream) subject() string { return st.prefix + ".orders" }

// admin is a plain JetStream client for looking behind the connector's back.
func admin(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(server)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func settings(t *testing.T, block, use string) connector.Settings {
	t.Helper()
	return connectortest.Settings(t, "nats", "events", block, use)
}

func newSource(t *testing.T, s connector.Settings) connector.Source {
	t.Helper()
	src, err := nats.Kind().NewSource(s)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func newSink(t *testing.T, s connector.Settings) connector.Sink {
	t.Helper()
	sink, err := nats.Kind().NewSink(s)
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	return sink
}

func (st stream) source(t *testing.T, use string) connector.Source {
	t.Helper()
	return newSource(t, settings(t, st.block(), use))
}

func (st stream) sink(t *testing.T, use string) connector.Sink {
	t.Helper()
	return newSink(t, settings(t, st.block(), fmt.Sprintf("subject: %q\n", st.subject())+use))
}

func context20s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// TestConformance runs the suite every connector passes against the local NATS server.
// On a loaded machine the client can give up on a pull whose heartbeat came late, and a
// stopping source drops what JetStream had already sent to its pull request: such
// messages come again only after ack_wait (default 30 s, longer than a check may take),
// so ack_wait is short here.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Kind: nats.Kind(), Messages: 500, Batch: 50, Parallel: true,
		Place: func(t *testing.T) (connector.Settings, connector.Settings) {
			st := newStream(t)
			return settings(t, st.block(), "durable: reader\nack_wait: 2s"),
				settings(t, st.block(), fmt.Sprintf("subject: %q", st.subject()))
		},
	})
}

func TestDurableResumes(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	if err := st.sink(t, "").Write(ctx, connectortest.Messages(4)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	use := "durable: reader\nack_wait: 1s"
	first := st.source(t, use)
	ch, err := first.Open(ctx, 8)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got := connectortest.Receive(t, ch, 4)
	acked := map[int]bool{}
	for _, d := range got[:2] {
		acked[connectortest.Number(t, d.Body)] = true
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// The same durable, reopened: the two unacknowledged come again (after ack_wait),
	// the acknowledged never.
	ch, err = st.source(t, use).Open(ctx, 8)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var again []int
	for _, d := range connectortest.Receive(t, ch, 2) {
		n := connectortest.Number(t, d.Body)
		if acked[n] {
			t.Errorf("acknowledged message %d delivered again", n)
		}
		if d.Headers["num_delivered"] != "2" {
			t.Errorf("message %d: num_delivered %q, want 2", n, d.Headers["num_delivered"])
		}
		again = append(again, n)
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	connectortest.Quiet(t, ch, 1100*time.Millisecond) // longer than ack_wait
	slices.Sort(again)
	if len(again) != 2 || acked[again[0]] || acked[again[1]] {
		t.Errorf("redelivered %v, acknowledged before %v", again, acked)
	}
}

func TestStreamCreatedAndExtended(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	js := admin(t)
	if _, err := js.Stream(ctx, st.name); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream exists before the test: %v", err)
	}
	if err := st.sink(t, "").Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	s, err := js.Stream(ctx, st.name)
	if err != nil {
		t.Fatalf("stream not created: %v", err)
	}
	cfg := s.CachedInfo().Config
	if !slices.Equal(cfg.Subjects, []string{st.prefix + ".>"}) || cfg.Storage != jetstream.FileStorage {
		t.Errorf("stream subjects %v storage %v, want [%s.>] on file", cfg.Subjects, cfg.Storage, st.prefix)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}

	// Another connector adds its subjects to the existing stream, keeping the others;
	// one already covered by a wildcard is not added again.
	other := "junction-test-other." + random(t)
	block := fmt.Sprintf("url: %q\nstream: %q\nsubjects: [%q, %q]", server, st.name, other, st.prefix+".orders")
	if err := newSink(t, settings(t, block, fmt.Sprintf("subject: %q", other))).Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write to the added subject: %v", err)
	}
	s, err = js.Stream(ctx, st.name)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Subjects; !slices.Equal(got, []string{st.prefix + ".>", other}) {
		t.Errorf("stream subjects %v, want [%s.> %s]", got, st.prefix, other)
	}
}

func TestMissingStream(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	block := fmt.Sprintf("url: %q\nstream: %q", server, st.name)
	_, err := newSource(t, settings(t, block, "durable: reader")).Open(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open without the stream = %v, want it to say the stream does not exist", err)
	}
	err = newSink(t, settings(t, fmt.Sprintf("url: %q", server), fmt.Sprintf("subject: %q", st.subject()))).Write(ctx, connectortest.Messages(1))
	if err == nil || !strings.Contains(err.Error(), "no stream stores subject") {
		t.Errorf("Write to a subject no stream stores = %v, want it to say so", err)
	}
}

func TestDedupe(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	msg := connector.Message{Body: []byte(`{"n":1}`), Headers: map[string]string{"message_id": "order-1"}}
	sink := st.sink(t, "")
	for range 2 {
		if err := sink.Write(ctx, []connector.Message{msg}); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	count := func() uint64 {
		s, err := admin(t).Stream(ctx, st.name)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs
	}
	if n := count(); n != 1 {
		t.Errorf("a message written twice with one id is stored %d times, want 1", n)
	}
	if err := st.sink(t, "dedupe: false").Write(ctx, []connector.Message{msg}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n := count(); n != 2 {
		t.Errorf("with dedupe false the stream holds %d, want 2", n)
	}
}

func TestHeadersAndSettleOnce(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	ch, err := st.source(t, "durable: reader").Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	msg := connector.Message{Body: []byte(`{"n":1}`), Headers: map[string]string{
		"tenant": "acme", "id": "m-1", "subject": "ignored", "Nats-Expected-Stream": "nope", "bad:name": "x",
	}}
	if err := st.sink(t, "").Write(ctx, []connector.Message{msg}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	want := map[string]string{
		"subject": st.subject(), "stream": st.name, "stream_seq": "1", "num_delivered": "1",
		"tenant": "acme", "id": "m-1", "message_id": "m-1",
	}
	for k, v := range want {
		if d.Headers[k] != v {
			t.Errorf("header %s = %q, want %q (all: %v)", k, d.Headers[k], v, d.Headers)
		}
	}
	if _, ok := d.Headers["bad:name"]; ok {
		t.Errorf("a header name NATS cannot carry arrived: %v", d.Headers)
	}
	if d.ID != "nats:"+st.name+":1" {
		t.Errorf("ID = %q", d.ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := d.Nack(ctx); !errors.Is(err, nats.ErrSettled) {
		t.Errorf("Nack after Ack = %v, want ErrSettled", err)
	}
}

func TestInFlightLimit(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	ch, err := st.source(t, "durable: reader").Open(ctx, 2)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := st.sink(t, "").Write(ctx, connectortest.Messages(5)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	held := connectortest.Receive(t, ch, 2)
	connectortest.Quiet(t, ch, 300*time.Millisecond)
	c, err := admin(t).Consumer(ctx, st.name, "reader")
	if err != nil {
		t.Fatal(err)
	}
	if info := c.CachedInfo(); info.Config.MaxAckPending != 2 || info.NumAckPending != 2 {
		t.Errorf("consumer max_ack_pending %d, pending %d; want 2 and 2", info.Config.MaxAckPending, info.NumAckPending)
	}
	for _, d := range held {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := connectortest.Receive(t, ch, 1)[0].Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	sink := st.sink(t, "")
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
	s, err := admin(t).Stream(ctx, st.name)
	if err != nil || s.CachedInfo().State.Msgs != 400 {
		t.Errorf("stream holds %v messages (%v), want 400", s.CachedInfo().State.Msgs, err)
	}
}

func TestReconnect(t *testing.T) {
	t.Parallel()
	st := newStream(t)
	ctx := context20s(t)
	proxy := connectortest.NewProxy(t, addr)
	block := fmt.Sprintf("url: %q\nstream: %q\nsubjects: [%q]", "nats://"+proxy.Addr(), st.name, st.prefix+".>")
	ch, err := newSource(t, settings(t, block, "durable: reader")).Open(ctx, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sink := newSink(t, settings(t, block, fmt.Sprintf("subject: %q", st.subject())))
	if err := sink.Write(ctx, connectortest.Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := connectortest.Receive(t, ch, 1)[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}

	proxy.Cut()

	// The client reconnects by itself; a Write during the reconnect may fail (the flow
	// retries it), a later one succeeds, and the pull consumer delivers it.
	var werr error
	for deadline := time.Now().Add(connectortest.Timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if werr = sink.Write(ctx, connectortest.Messages(2)[1:]); werr == nil {
			break
		}
	}
	if werr != nil {
		t.Fatalf("Write after the connection was cut: %v", werr)
	}
	d := connectortest.Receive(t, ch, 1)[0]
	if connectortest.Number(t, d.Body) != 1 {
		t.Errorf("got %q, want message 1", d.Body)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	servicetest.Require(t, "NATS", addr)
	ctx := context20s(t)
	if err := nats.Kind().Check(ctx, settings(t, fmt.Sprintf("url: %q", server), "")); err != nil {
		t.Errorf("Check: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	err = nats.Kind().Check(ctx, settings(t, fmt.Sprintf("url: \"nats://user:s3cret@%s\"", closed), ""))
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), closed) {
		t.Errorf("Check of a closed port = %v, want connection refused naming %s", err, closed)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}
