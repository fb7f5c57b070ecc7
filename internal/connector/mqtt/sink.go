package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

type sink struct {
	o *options

	mu     sync.Mutex // guards client; paho's Publish itself is safe to call concurrently
	client paho.Client
	closed bool
}

var _ connector.Sink = (*sink)(nil)

// newSink checks the options; it connects on the first Write, so a broker that is down
// fails writes (which the flow retries) rather than the flow's start.
func newSink(s connector.Settings) (*sink, error) {
	o, err := readOptions(s, option.Sink)
	if err != nil {
		return nil, err
	}
	return &sink{o: o}, nil
}

// Write publishes every message, then waits until the broker has acknowledged each
// (at QoS 0: until each is written to the connection).
func (k *sink) Write(ctx context.Context, msgs []connector.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	c, err := k.connected(ctx)
	if err != nil {
		return err
	}
	timeout := publishTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tokens := make([]paho.Token, len(msgs))
	for i, m := range msgs {
		tokens[i] = c.Publish(k.o.topic, k.o.qos, k.o.retain, m.Body)
	}
	for i, t := range tokens {
		select {
		case <-t.Done():
			if err := t.Error(); err != nil {
				return fmt.Errorf("mqtt at %s: publish message %d of %d to %q: %w", k.o.where, i+1, len(msgs), k.o.topic, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("mqtt at %s: waiting for acknowledgements (%d of %d): %w", k.o.where, i, len(msgs), ctx.Err())
		case <-timer.C:
			return fmt.Errorf("mqtt at %s: %d of %d messages not acknowledged within %s", k.o.where, len(msgs)-i, len(msgs), timeout)
		}
	}
	return nil
}

// connected returns the client, connecting it the first time. Later drops are paho's to
// repair (auto-reconnect); publishes meanwhile wait for it or fail.
func (k *sink) connected(ctx context.Context) (paho.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("mqtt sink: closed")
	}
	if k.client != nil {
		return k.client, nil
	}
	prefix := "junction"
	if !k.o.genID {
		prefix = k.o.clientID
	}
	// A client id of its own: sharing the source's would make the broker disconnect one
	// of them, and a sink needs no session.
	c := paho.NewClient(k.o.clientOptions(prefix+"-pub-"+randomHex(), true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(reconnectMax))
	if err := await(ctx, c.Connect(), connectTimeout); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect to mqtt at %s: %w", k.o.where, err)
	}
	k.client = c
	return c, nil
}

// Close disconnects, giving publishes under way a moment to finish.
func (k *sink) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.client != nil {
		k.client.Disconnect(disconnectQuiet)
		k.client = nil
	}
	return nil
}
