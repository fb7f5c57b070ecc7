package amqp

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// ErrReturned means RabbitMQ could not route a mandatory message to any queue.
var ErrReturned = errors.New("returned unroutable")

type sink struct {
	o *options

	// mu serialises Writes: they share one channel in confirm mode, and a returned
	// message must be matched to the Write that published it.
	mu      sync.Mutex
	conn    *amqp091.Connection
	ch      *amqp091.Channel
	returns chan amqp091.Return
	closes  chan *amqp091.Error // the channel's
	closed  bool
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

// Write publishes every message, then waits for RabbitMQ to confirm each one.
func (k *sink) Write(ctx context.Context, msgs []connector.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return errors.New("rabbitmq sink: closed")
	}
	if err := k.open(ctx); err != nil {
		return err
	}
	if err := k.publish(ctx, msgs); err != nil {
		// A fresh channel for the next Write, so confirms and returns of this batch that
		// are still on their way cannot be taken for the next one's.
		k.dropChannel()
		return fmt.Errorf("rabbitmq at %s: %w", k.o.where, err)
	}
	return nil
}

func (k *sink) publish(ctx context.Context, msgs []connector.Message) error {
	confirms := make([]*amqp091.DeferredConfirmation, 0, len(msgs))
	for i, m := range msgs {
		dc, err := k.ch.PublishWithDeferredConfirmWithContext(ctx, k.o.exchange, k.o.sinkKey(m), k.o.mandatory, false, publishing(k.o, m))
		if err != nil {
			return fmt.Errorf("publish message %d of %d: %w", i+1, len(msgs), err)
		}
		confirms = append(confirms, dc)
	}
	var returned []amqp091.Return
	returns := k.returns
	for i, dc := range confirms {
	wait:
		for {
			select {
			case r, ok := <-returns:
				if !ok {
					returns = nil
					continue
				}
				returned = append(returned, r)
			case <-dc.Done():
				break wait
			case <-ctx.Done():
				return fmt.Errorf("waiting for confirms (%d of %d confirmed): %w", i, len(msgs), ctx.Err())
			}
		}
		if !dc.Acked() {
			return fmt.Errorf("message %d of %d not confirmed: %w", i+1, len(msgs), k.closeReason())
		}
	}
	// RabbitMQ sends a basic.return before the confirm of the same message, so every
	// return of this batch is queued by now.
	for returns != nil {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			returned = append(returned, r)
		default:
			returns = nil
		}
	}
	if len(returned) > 0 {
		r := returned[0]
		return fmt.Errorf("%d of %d messages %w: %s (%d) for exchange %q, routing key %q",
			len(returned), len(msgs), ErrReturned, r.ReplyText, r.ReplyCode, r.Exchange, r.RoutingKey)
	}
	return nil
}

// closeReason says why confirms stopped: the channel's close error, or a nack.
func (k *sink) closeReason() error {
	select {
	case e := <-k.closes:
		if e != nil {
			return fmt.Errorf("channel closed: %w", e)
		}
		return errors.New("channel closed")
	default:
	}
	if k.ch.IsClosed() {
		return errors.New("channel closed")
	}
	return errors.New("RabbitMQ answered with a nack")
}

// open makes sure there is a connection and a channel in confirm mode, declaring the
// topology whenever it connects.
func (k *sink) open(ctx context.Context) error {
	if k.conn != nil && k.conn.IsClosed() {
		k.dropChannel()
		k.conn = nil
	}
	if k.ch != nil && k.ch.IsClosed() {
		k.dropChannel()
	}
	if k.ch != nil {
		return nil
	}
	fresh := k.conn == nil
	if fresh {
		conn, err := dial(ctx, k.o)
		if err != nil {
			return err
		}
		k.conn = conn
	}
	ch, err := k.conn.Channel()
	if err != nil {
		return k.fail("open a channel", err)
	}
	if fresh {
		if err := declare(ch, k.o); err != nil {
			_ = ch.Close()
			return k.fail("declare", err)
		}
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return k.fail("enable publisher confirms", err)
	}
	k.ch = ch
	k.closes = ch.NotifyClose(make(chan *amqp091.Error, 1))
	// Buffered so the library's reader need not wait for Write to look.
	k.returns = ch.NotifyReturn(make(chan amqp091.Return, 64))
	return nil
}

// fail closes the connection after a failed set-up, so the next Write starts afresh.
func (k *sink) fail(what string, err error) error {
	_ = k.conn.Close()
	k.conn, k.ch = nil, nil
	return fmt.Errorf("rabbitmq at %s: %s: %w", k.o.where, what, err)
}

func (k *sink) dropChannel() {
	if k.ch != nil {
		_ = k.ch.Close()
	}
	k.ch, k.returns, k.closes = nil, nil, nil
}

// Close closes the connection; it waits for a Write under way.
func (k *sink) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	k.dropChannel()
	if k.conn == nil {
		return nil
	}
	err := k.conn.Close()
	k.conn = nil
	if errors.Is(err, amqp091.ErrClosed) {
		return nil
	}
	return err
}
