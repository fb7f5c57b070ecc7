package amqp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Errors of settling a delivery.
var (
	ErrSettled = errors.New("delivery already settled")
	// ErrVisibilityExpired means the delivery was not settled within visibility_timeout,
	// so the connector handed it back to RabbitMQ, which delivers it again.
	ErrVisibilityExpired = errors.New("visibility timeout passed; the message was requeued")
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

// Open connects, declares the topology and starts consuming; connection problems at
// this point are returned, later ones make the source reconnect.
func (s *source) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil, errors.New("rabbitmq source: already open")
	}
	prefetch := s.o.prefetchFor(inFlight)
	sess, err := s.connect(ctx, prefetch)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s.opened, s.cancel, s.done, s.closeReq = true, cancel, make(chan struct{}), make(chan struct{})
	out := make(chan connector.Delivery)
	go s.run(ctx, sess, prefetch, out)
	return out, nil
}

// Close stops consuming and closes the connection; RabbitMQ requeues what was not
// acknowledged.
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

// run hands out deliveries, and reconnects (after poll_interval) whenever the
// connection or the consumer ends, until ctx is done.
//
// When ctx ends, the consumer is cancelled (RabbitMQ sends nothing more) and the channel
// closed, but the connection stays open until Close: a flow that is stopping still
// acknowledges the messages it holds, instead of having them all delivered again.
func (s *source) run(ctx context.Context, sess *session, prefetch int, out chan<- connector.Delivery) {
	defer close(s.done)
	stopped := func() {
		close(out)
		<-s.closeReq
	}
	for {
		s.consume(ctx, sess, out)
		if ctx.Err() != nil {
			sess.cancelConsumer()
			stopped()
			sess.close()
			return
		}
		reason := sess.close()
		s.o.logger.Warn("rabbitmq connection lost; reconnecting", "at", s.o.where, "reason", reason, "in", s.o.reconnectDelay)
		for sess = nil; sess == nil; {
			if !sleep(ctx, s.o.reconnectDelay) {
				stopped()
				return
			}
			var err error
			if sess, err = s.connect(ctx, prefetch); err != nil {
				s.o.logger.Warn("rabbitmq reconnect failed", "error", err, "in", s.o.reconnectDelay)
			}
		}
		s.o.logger.Info("rabbitmq source reconnected", "at", s.o.where)
	}
}

func (s *source) consume(ctx context.Context, sess *session, out chan<- connector.Delivery) {
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-sess.deliveries:
			if !ok {
				return
			}
			select {
			case out <- sess.delivery(d):
			case <-ctx.Done():
				// Not handed out: closing the connection returns it to the queue.
				return
			}
		}
	}
}

func (s *source) connect(ctx context.Context, prefetch int) (*session, error) {
	conn, err := dial(ctx, s.o)
	if err != nil {
		return nil, err
	}
	sess := &session{o: s.o, conn: conn, closes: conn.NotifyClose(make(chan *amqp091.Error, 1))}
	fail := func(what string, err error) (*session, error) {
		_ = conn.Close()
		return nil, fmt.Errorf("rabbitmq at %s: %s: %w", s.o.where, what, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail("open a channel", err)
	}
	sess.chCloses = ch.NotifyClose(make(chan *amqp091.Error, 1))
	if err := declare(ch, s.o); err != nil {
		return fail("declare", err)
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return fail("set prefetch", err)
	}
	sess.ch, sess.tag = ch, "junction-"+strconv.FormatInt(time.Now().UnixNano(), 36)
	sess.deliveries, err = ch.Consume(s.o.queue.name, sess.tag, false, false, false, false, nil)
	if err != nil {
		return fail("consume from queue "+strconv.Quote(s.o.queue.name), err)
	}
	return sess, nil
}

// session is one connection with its consumer. Deliveries belong to the channel they
// came on: once it is gone, settling them fails and RabbitMQ has requeued them.
type session struct {
	o          *options
	conn       *amqp091.Connection
	closes     chan *amqp091.Error // the connection's
	chCloses   chan *amqp091.Error // the channel's
	deliveries <-chan amqp091.Delivery
	ch         *amqp091.Channel
	tag        string // the consumer's

	// Visibility timers, stopped when the session ends so none fires on a dead channel.
	mu      sync.Mutex
	pending map[*pending]struct{}
	closed  bool
	timers  sync.WaitGroup // one count per armed timer, until stopped or run
}

// pending is a delivery handed out and not yet settled.
type pending struct {
	d     amqp091.Delivery
	state atomic.Int32 // stateOpen, stateSettled or stateExpired
	timer *time.Timer
}

const (
	stateOpen int32 = iota
	stateSettled
	stateExpired
)

func (sess *session) delivery(d amqp091.Delivery) connector.Delivery {
	p := &pending{d: d}
	id := "amqp:" + strconv.FormatUint(d.DeliveryTag, 10)
	if sess.o.visibility > 0 {
		sess.arm(p, id)
	}
	t := d.Timestamp
	if t.IsZero() {
		t = sess.o.now()
	}
	return connector.Delivery{
		Message: connector.Message{Body: d.Body, Headers: headersOf(d), Time: t},
		ID:      id,
		Ack: func(context.Context) error {
			return sess.settle(p, id, func() error { return p.d.Ack(false) })
		},
		Nack: func(context.Context) error {
			return sess.settle(p, id, func() error { return p.d.Nack(false, true) })
		},
	}
}

func (sess *session) arm(p *pending, id string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.closed {
		return
	}
	if sess.pending == nil {
		sess.pending = map[*pending]struct{}{}
	}
	sess.pending[p] = struct{}{}
	sess.timers.Add(1)
	p.timer = time.AfterFunc(sess.o.visibility, func() {
		defer sess.timers.Done()
		if !p.state.CompareAndSwap(stateOpen, stateExpired) {
			return
		}
		sess.forget(p)
		sess.o.logger.Warn("rabbitmq delivery not settled within visibility_timeout; requeued",
			"delivery", id, "visibility_timeout", sess.o.visibility)
		if err := p.d.Nack(false, true); err != nil {
			sess.o.logger.Warn("rabbitmq requeue after visibility_timeout failed", "delivery", id, "error", err)
		}
	})
}

func (sess *session) settle(p *pending, id string, do func() error) error {
	if !p.state.CompareAndSwap(stateOpen, stateSettled) {
		if p.state.Load() == stateExpired {
			return fmt.Errorf("settle %s: %w", id, ErrVisibilityExpired)
		}
		return fmt.Errorf("settle %s: %w", id, ErrSettled)
	}
	if p.timer != nil {
		sess.mu.Lock()
		if _, ok := sess.pending[p]; ok && p.timer.Stop() {
			sess.timers.Done()
		}
		delete(sess.pending, p)
		sess.mu.Unlock()
	}
	if err := do(); err != nil {
		return fmt.Errorf("settle %s (the connection it came on is gone, so RabbitMQ delivers it again): %w", id, err)
	}
	return nil
}

func (sess *session) forget(p *pending) {
	sess.mu.Lock()
	delete(sess.pending, p)
	sess.mu.Unlock()
}

// cancelConsumer asks RabbitMQ to send no more deliveries; those already sent and not
// handed out stay unacknowledged and are requeued when the channel closes.
func (sess *session) cancelConsumer() {
	_ = sess.ch.Cancel(sess.tag, false)
}

// close ends the session, returning why the connection had closed (if it had).
func (sess *session) close() error {
	sess.mu.Lock()
	sess.closed = true
	for p := range sess.pending {
		if p.timer.Stop() {
			sess.timers.Done()
		}
	}
	sess.pending = nil
	sess.mu.Unlock()
	sess.timers.Wait()

	reason := errors.New("the server cancelled the consumer (queue deleted?)")
	for _, c := range []chan *amqp091.Error{sess.chCloses, sess.closes} {
		select {
		case e := <-c:
			if e != nil {
				reason = e
			}
		default:
		}
	}
	_ = sess.conn.Close()
	return reason
}

// sleep waits d, reporting false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
