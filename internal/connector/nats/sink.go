package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

type sink struct {
	o *options

	mu     sync.Mutex // guards the connection; publishing on it is safe concurrently
	nc     *natsgo.Conn
	js     jetstream.JetStream
	closed bool
}

var _ connector.Sink = (*sink)(nil)

// newSink checks the options; it connects on the first Write, so a server that is down
// fails writes (which the flow retries) rather than the flow's start.
func newSink(s connector.Settings) (*sink, error) {
	o, err := readOptions(s, option.Sink)
	if err != nil {
		return nil, err
	}
	return &sink{o: o}, nil
}

// Write publishes every message asynchronously, then waits for the stream's
// acknowledgement of each.
func (k *sink) Write(ctx context.Context, msgs []connector.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	js, err := k.connected(ctx)
	if err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for i, m := range msgs {
		var opts []jetstream.PublishOpt
		if k.o.dedupe {
			if id := messageID(m); id != "" {
				opts = append(opts, jetstream.WithMsgID(id))
			}
		}
		f, err := js.PublishMsgAsync(&natsgo.Msg{Subject: k.o.subject, Data: m.Body, Header: natsHeaders(m.Headers)}, opts...)
		if err != nil {
			return k.fail(fmt.Errorf("publish message %d of %d: %w", i+1, len(msgs), err))
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return k.fail(fmt.Errorf("message %d of %d: %w", i+1, len(msgs), err))
		case <-ctx.Done():
			return k.fail(fmt.Errorf("waiting for acknowledgements (%d of %d): %w", i, len(msgs), ctx.Err()))
		}
	}
	return nil
}

func (k *sink) fail(err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		return fmt.Errorf("nats at %s: no stream stores subject %q (set stream and subjects to have one created): %w", k.o.where, k.o.subject, err)
	}
	return fmt.Errorf("nats at %s: %w", k.o.where, err)
}

// messageID is what JetStream deduplicates by: the message's id, else its message_id.
func messageID(m connector.Message) string {
	if id := m.Headers["id"]; id != "" {
		return id
	}
	return m.Headers["message_id"]
}

func (k *sink) connected(ctx context.Context) (jetstream.JetStream, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("nats sink: closed")
	}
	if k.js != nil {
		return k.js, nil
	}
	nc, js, err := connect(ctx, k.o)
	if err != nil {
		return nil, err
	}
	if err := ensureStream(ctx, js, k.o); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats at %s: %w", k.o.where, err)
	}
	k.nc, k.js = nc, js
	return js, nil
}

// Close closes the connection. A Write still waiting for acknowledgements then fails
// when its context ends or the publish times out (30s); what it sent may be stored.
func (k *sink) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.nc != nil {
		k.nc.Close()
		k.nc, k.js = nil, nil
	}
	return nil
}
