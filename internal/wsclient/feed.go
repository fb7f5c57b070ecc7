package wsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/junctionhq/junction/internal/policy/retry"
)

// FeedOptions are a feed's: how to connect, what to send on every new connection, and
// the back-off between connection attempts.
type FeedOptions struct {
	Options
	// Subscribe makes the subscription sent on every new connection, so a reconnected
	// feed receives what it did before; nil: nothing is sent. It is called once per
	// connection (each gets a fresh request id). A subscription that awaits a reply
	// waits for it before the connection counts as made; a refusal fails the connection.
	Subscribe func() (*Request, error)
	// Reconnect is the back-off between attempts. Its Attempts is not used: a feed
	// reconnects until its context ends. A connection that stayed up for the longest
	// delay (Max) starts the back-off afresh.
	Reconnect retry.Policy
}

// RefusedError is the upstream's refusal of a subscription: the value at the reply's
// error path.
type RefusedError struct {
	Refusal string
}

func (e *RefusedError) Error() string { return "the upstream refused the subscription: " + e.Refusal }

// Feed connects, subscribes, and calls receive with every message received, in order,
// one at a time, until ctx ends. While receive runs nothing more is read from the
// connection: that is the feed's back-pressure. When the connection fails (closed,
// unreadable, a heartbeat unanswered, the subscription refused or unanswered), Feed
// connects and subscribes again after the back-off. A message receive was given stays
// given; one the upstream sent while no connection was open is the upstream's to
// replay, if it does. Feed returns nil when ctx ends, and an error only when the
// subscription cannot be made at all (Subscribe failed). receive gets the connection's
// context and should return its error once that is done.
func Feed(ctx context.Context, o FeedOptions, receive func(context.Context, Message) error) error {
	o.defaults()
	log := o.Logger.With("integration", o.Name)
	policy := o.Reconnect
	policy.Attempts = math.MaxInt
	if policy.Max <= 0 {
		policy.Max = retry.DefaultMax
	}
	sched := policy.Schedule()
	for n := 1; ; n++ {
		started := o.Clock.Now()
		err := connectOnce(ctx, &o, n, receive, log)
		if ctx.Err() != nil {
			return nil
		}
		if _, permanent := errors.AsType[*subscribeError](err); permanent {
			return err
		}
		o.Status(err)
		if o.Clock.Now().Sub(started) >= policy.Max {
			sched = policy.Schedule()
		}
		delay, _ := sched.Next()
		level := log.Warn
		if _, refused := errors.AsType[*RefusedError](err); refused {
			level = log.Error
		}
		level("websocket feed connection failed; reconnecting", "connection", n, "error", err, "in", delay)
		if o.Clock.Sleep(ctx, delay) != nil {
			return nil
		}
	}
}

// subscribeError is a subscription that could not be made (its message could not be
// built): no connection would help.
type subscribeError struct{ err error }

func (e *subscribeError) Error() string { return "subscribe: " + e.err.Error() }
func (e *subscribeError) Unwrap() error { return e.err }

// connectOnce makes connection n, subscribes and serves it until it ends, and says why.
func connectOnce(ctx context.Context, o *FeedOptions, n int, receive func(context.Context, Message) error, log *slog.Logger) error {
	var req *Request
	if o.Subscribe != nil {
		var err error
		if req, err = o.Subscribe(); err != nil {
			return &subscribeError{err}
		}
	}
	c, err := dial(ctx, &o.Options, n, receive)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := subscribe(c, req); err != nil {
		c.fail(err)
		return c.wait()
	}
	o.Status(nil)
	log.Info("websocket feed connected", "connection", n, "subscribed", req != nil)
	return c.wait()
}

// subscribe sends req on c and, when it awaits a reply, checks it.
func subscribe(c *conn, req *Request) error {
	if req == nil {
		return nil
	}
	w, err := c.send(req)
	if err != nil || w == nil {
		return err
	}
	reply, ok := c.await(w, c.opts.Timeout)
	switch {
	case !ok && c.ctx.Err() != nil:
		return c.reason()
	case !ok:
		return fmt.Errorf("no reply to the subscription within %v", c.opts.Timeout)
	}
	if refusal, refused := req.Reply.Refusal(reply); refused {
		return &RefusedError{Refusal: refusal}
	}
	return nil
}
