package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

type source struct {
	o *options

	mu       sync.Mutex
	opened   bool
	cancel   context.CancelFunc
	closeReq chan struct{} // closed by Close: the flow has settled what it holds
	closing  sync.Once
	done     chan struct{} // closed when run has returned
}

var _ connector.Source = (*source)(nil)

func newSource(s connector.Settings) (*source, error) {
	o, err := readOptions(s, option.Source)
	if err != nil {
		return nil, err
	}
	return &source{o: o}, nil
}

// Open connects, makes sure of the stream and the durable consumer, and starts pulling.
func (s *source) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil, errors.New("nats source: already open")
	}
	inFlight = max(inFlight, 1)
	nc, js, err := connect(ctx, s.o)
	if err != nil {
		return nil, err
	}
	it, err := s.consume(ctx, js, inFlight)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats at %s: %w", s.o.where, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.opened, s.cancel, s.done, s.closeReq = true, cancel, make(chan struct{}), make(chan struct{})
	out := make(chan connector.Delivery)
	go s.run(ctx, nc, it, out)
	return out, nil
}

func (s *source) consume(ctx context.Context, js jetstream.JetStream, inFlight int) (jetstream.MessagesContext, error) {
	if err := ensureStream(ctx, js, s.o); err != nil {
		return nil, err
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       s.o.durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.o.ackWait,
		DeliverPolicy: s.o.deliver,
		FilterSubject: s.o.filter,
		MaxDeliver:    s.o.maxDeliver,
		// JetStream itself stops sending when the flow holds inFlight unsettled.
		MaxAckPending: inFlight,
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = -1
	}
	rctx, cancel := withTimeout(ctx, requestTimeout)
	defer cancel()
	cons, err := js.CreateOrUpdateConsumer(rctx, s.o.stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("durable consumer %q on stream %q: %w", s.o.durable, s.o.stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(inFlight))
	if err != nil {
		return nil, fmt.Errorf("pull from consumer %q: %w", s.o.durable, err)
	}
	return it, nil
}

// Close stops pulling and closes the connection.
func (s *source) Close() error {
	s.mu.Lock()
	cancel, done, closeReq := s.cancel, s.done, s.closeReq
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	s.closing.Do(func() { close(closeReq) })
	cancel()
	<-done
	return nil
}

// run hands out messages until ctx is done, or the consumer can no longer deliver (it
// was deleted, say): then the channel closes and the flow opens the source again.
// Connection losses are the client's to repair; the pull consumer resumes after them.
// When it stops, the connection stays open until Close, so the flow can still
// acknowledge the messages it holds.
func (s *source) run(ctx context.Context, nc *natsgo.Conn, it jetstream.MessagesContext, out chan<- connector.Delivery) {
	defer close(s.done)
	defer func() {
		it.Stop()
		close(out)
		<-s.closeReq
		nc.Close()
	}()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() == nil {
				s.o.logger.Warn("nats source stopped", "stream", s.o.stream, "durable", s.o.durable, "error", err)
			}
			return
		}
		select {
		case out <- s.delivery(msg):
		case <-ctx.Done():
			// Not handed out: have JetStream deliver it again now, not after ack_wait.
			_ = msg.Nak()
			return
		}
	}
}

// Header names the source sets itself; the sink does not send them as NATS headers.
var reserved = map[string]bool{"subject": true, "stream": true, "stream_seq": true, "num_delivered": true}

func (s *source) delivery(msg jetstream.Msg) connector.Delivery {
	h := make(map[string]string, len(msg.Headers())+5)
	for k, v := range msg.Headers() {
		if len(v) > 0 {
			h[k] = v[0]
		}
	}
	if id := msg.Headers().Get(natsgo.MsgIdHdr); id != "" && h["message_id"] == "" {
		h["message_id"] = id
	}
	h["subject"] = msg.Subject()
	id := "nats:" + s.o.stream
	t := time.Now()
	if md, err := msg.Metadata(); err == nil {
		h["stream"] = md.Stream
		h["stream_seq"] = strconv.FormatUint(md.Sequence.Stream, 10)
		h["num_delivered"] = strconv.FormatUint(md.NumDelivered, 10)
		id = "nats:" + md.Stream + ":" + h["stream_seq"]
		t = md.Timestamp
	}
	var settled atomic.Bool
	settle := func(verb string, do func() error) error {
		if !settled.CompareAndSwap(false, true) {
			return fmt.Errorf("%s %s: %w", verb, id, ErrSettled)
		}
		if err := do(); err != nil {
			return fmt.Errorf("%s %s: %w", verb, id, err)
		}
		return nil
	}
	return connector.Delivery{
		Message: connector.Message{Body: msg.Data(), Headers: h, Time: t},
		ID:      id,
		Ack:     func(context.Context) error { return settle("ack", msg.Ack) },
		Nack:    func(context.Context) error { return settle("nak", msg.Nak) },
	}
}

// natsHeaders turns message headers into NATS headers, leaving out what NATS would
// misread: the source's own headers, JetStream's Nats-* control headers (a copied
// Nats-Expected-Stream would change what the publish means) and names or values that
// cannot be written on a header line.
func natsHeaders(h map[string]string) natsgo.Header {
	var out natsgo.Header
	for k, v := range h {
		if reserved[k] || k == "" || strings.HasPrefix(strings.ToLower(k), "nats-") ||
			strings.ContainsAny(k, ": \t\r\n") || strings.ContainsAny(v, "\r\n") {
			continue
		}
		if out == nil {
			out = natsgo.Header{}
		}
		out[k] = []string{v}
	}
	return out
}
