package mqtt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

type source struct {
	o *options

	mu       sync.Mutex
	opened   bool
	cancel   context.CancelFunc
	closeReq chan struct{} // closed by Close: the flow has settled what it holds
	closeOne sync.Once
	shutOne  sync.Once
	done     chan struct{} // closed when run has returned

	out    chan connector.Delivery
	slots  chan struct{} // one per unsettled delivery: the flow's in-flight limit
	stop   chan struct{} // closed when the source stops handing out
	nacked chan struct{} // a Nack asks run to reconnect

	// Paho calls the handler in a goroutine of its own per message and does not wait
	// for them: these let Close wait for every handler before closing out.
	hmu      sync.Mutex
	closing  bool
	handlers sync.WaitGroup
}

var _ connector.Source = (*source)(nil)

func newSource(s connector.Settings) (*source, error) {
	o, err := readOptions(s, option.Source)
	if err != nil {
		return nil, err
	}
	return &source{o: o}, nil
}

// Open connects and subscribes; a failure then is returned, a lost connection later
// makes the source reconnect.
func (s *source) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil, errors.New("mqtt source: already open")
	}
	s.out = make(chan connector.Delivery)
	s.slots = make(chan struct{}, max(inFlight, 1))
	s.stop = make(chan struct{})
	s.nacked = make(chan struct{}, 1)
	l, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s.opened, s.cancel, s.done, s.closeReq = true, cancel, make(chan struct{}), make(chan struct{})
	go s.run(ctx, l)
	return s.out, nil
}

// Close disconnects; the broker keeps what was not acknowledged in the session (unless
// the session is clean, or the client id was generated and so the session is removed).
func (s *source) Close() error {
	s.mu.Lock()
	cancel, done, closeReq := s.cancel, s.done, s.closeReq
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	s.closeOne.Do(func() { close(closeReq) })
	cancel()
	<-done
	return nil
}

// run owns the connection: it replaces it when it is lost or when a Nack asks for
// redelivery, until ctx is done.
func (s *source) run(ctx context.Context, l *link) {
	defer close(s.done)
	defer s.shutdown()
	// Every way out below has retired the last link first.
	defer s.dropGeneratedSession()
	delay := reconnectMin
	for {
		select {
		case <-ctx.Done():
			// Hand out nothing more, but keep the connection until Close: the flow still
			// acknowledges the messages it holds on it.
			s.shutdown()
			<-s.closeReq
			l.retire()
			return
		case <-l.lost:
			l.retire()
			s.o.logger.Warn("mqtt connection lost; reconnecting", "at", s.o.where, "error", l.lostErr, "in", delay)
			if !sleep(ctx, delay) {
				return
			}
		case <-s.nacked:
			if !l.nackRequested.Load() {
				continue // asked of a connection already replaced
			}
			// Hand out nothing more on this connection, let the flow settle what it has,
			// then reconnect: the broker sends the unacknowledged messages again.
			idle := l.drain()
			timer := time.NewTimer(nackDrainTimeout)
			select {
			case <-idle:
			case <-l.lost:
			case <-timer.C:
				s.o.logger.Warn("mqtt: deliveries still unsettled after a Nack; reconnecting anyway (they will be delivered again)",
					"waited", nackDrainTimeout)
			case <-ctx.Done():
			}
			timer.Stop()
			l.retire()
			if ctx.Err() != nil {
				return
			}
		}
		for {
			nl, err := s.connect(ctx)
			if err == nil {
				l, delay = nl, reconnectMin
				break
			}
			if ctx.Err() != nil {
				return
			}
			delay = min(delay*2, reconnectMax)
			s.o.logger.Warn("mqtt reconnect failed", "error", err, "in", delay)
			if !sleep(ctx, delay) {
				return
			}
		}
	}
}

// shutdown stops the handlers and closes the deliveries channel once none can send.
func (s *source) shutdown() {
	s.shutOne.Do(func() {
		s.hmu.Lock()
		s.closing = true
		s.hmu.Unlock()
		close(s.stop)
		s.handlers.Wait()
		close(s.out)
	})
}

// dropGeneratedSession removes the broker's session of a generated client id, which no
// later run would ever resume: connecting with a clean session discards it.
func (s *source) dropGeneratedSession() {
	if !s.o.genID || s.o.clean {
		return
	}
	c := paho.NewClient(s.o.clientOptions(s.o.clientID, true).SetAutoReconnect(false))
	if err := await(context.Background(), c.Connect(), dropSessionTimeout); err != nil {
		s.o.logger.Warn("mqtt: could not remove the session of a generated client id", "client_id", s.o.clientID, "error", err)
		c.Disconnect(0)
		return
	}
	c.Disconnect(disconnectQuiet)
}

func (s *source) connect(ctx context.Context) (*link, error) {
	l := &link{lost: make(chan struct{}), down: make(chan struct{})}
	co := s.o.clientOptions(s.o.clientID, s.o.clean).
		SetAutoReconnect(false). // run reconnects, with a new link, so deliveries know their connection
		SetOrderMatters(false).  // each message in its own goroutine, which may wait for a slot
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { s.handle(l, m) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { l.markLost(err) })
	l.client = paho.NewClient(co)
	if err := await(ctx, l.client.Connect(), connectTimeout); err != nil {
		l.client.Disconnect(0)
		return nil, fmt.Errorf("connect to mqtt at %s: %w", s.o.where, err)
	}
	subs := make(map[string]byte, len(s.o.filters))
	for _, f := range s.o.filters {
		subs[f] = s.o.qos
	}
	// No per-filter callback: every message goes to the default handler once, however
	// many filters match it (paho would call each matching filter's callback).
	tok := l.client.SubscribeMultiple(subs, nil)
	err := await(ctx, tok, connectTimeout)
	if err == nil {
		for f, q := range tok.(*paho.SubscribeToken).Result() {
			if q == 0x80 {
				err = fmt.Errorf("the broker refused the subscription to %q", f)
			}
		}
	}
	if err != nil {
		l.retire()
		return nil, fmt.Errorf("subscribe at %s: %w", s.o.where, err)
	}
	return l, nil
}

// handle runs in paho's goroutine for one message: it waits for a free slot, then for
// the flow to take the delivery. Leaving without acknowledging is always safe: the
// broker sends the message again after the next reconnect.
func (s *source) handle(l *link, m paho.Message) {
	s.hmu.Lock()
	if s.closing {
		s.hmu.Unlock()
		return
	}
	s.handlers.Add(1)
	s.hmu.Unlock()
	defer s.handlers.Done()

	if !slices.ContainsFunc(s.o.filters, func(f string) bool { return matches(f, m.Topic()) }) {
		// A subscription the persistent session kept from an earlier configuration: the
		// flow does not want it, and leaving it unacknowledged would take up one of the
		// broker's in-flight slots for good.
		s.o.logger.Debug("mqtt: dropping a message outside the configured topics", "topic", m.Topic())
		m.Ack()
		return
	}

	select {
	case s.slots <- struct{}{}:
	case <-l.gone():
		return
	case <-s.stop:
		return
	}
	p := &pending{l: l, m: m}
	if !l.take() {
		<-s.slots
		return
	}
	d := s.delivery(p)
	select {
	case s.out <- d:
	case <-l.gone():
		s.abandon(p)
	case <-s.stop:
		s.abandon(p)
	}
}

// link is one connection of the source. Its deliveries are acknowledged on it, or not
// at all: paho drops an acknowledgement for a connection that has gone.
type link struct {
	client paho.Client

	lost     chan struct{} // closed when paho reports the connection lost
	lostOnce sync.Once
	lostErr  error
	down     chan struct{} // closed before the client disconnects
	downOnce sync.Once

	nackRequested atomic.Bool // a delivery of this link was handed back

	mu        sync.Mutex
	draining  bool          // hands out nothing more
	goneCh    chan struct{} // closed when draining starts
	unsettled int
	idle      chan struct{} // closed when draining and nothing is unsettled
}

func (l *link) markLost(err error) {
	l.lostOnce.Do(func() {
		l.lostErr = err
		close(l.lost)
	})
}

// gone is closed once the link hands out nothing more.
func (l *link) gone() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.goneCh == nil {
		l.goneCh = make(chan struct{})
		if l.draining {
			close(l.goneCh)
		}
	}
	return l.goneCh
}

// drain stops handing out, returning a channel closed once every delivery handed out
// is settled.
func (l *link) drain() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.draining {
		l.draining = true
		if l.goneCh != nil {
			close(l.goneCh)
		}
		l.idle = make(chan struct{})
		if l.unsettled == 0 {
			close(l.idle)
			l.idle = nil
		}
	}
	if l.idle == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return l.idle
}

// take counts a delivery about to be handed out, unless the link is draining.
func (l *link) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.draining {
		return false
	}
	l.unsettled++
	return true
}

func (l *link) settled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unsettled--
	if l.unsettled == 0 && l.idle != nil {
		close(l.idle)
		l.idle = nil // closed once; drain's caller holds its own copy
	}
}

func (l *link) isDown() bool {
	select {
	case <-l.down:
		return true
	default:
		return false
	}
}

// retire stops the link for good: later acknowledgements fail instead of vanishing.
func (l *link) retire() {
	l.drain()
	l.downOnce.Do(func() { close(l.down) })
	l.client.Disconnect(disconnectQuiet)
}

// pending is a delivery handed out and not yet settled.
type pending struct {
	l       *link
	m       paho.Message
	settled atomic.Bool
}

func (s *source) delivery(p *pending) connector.Delivery {
	m := p.m
	h := map[string]string{
		"topic":      m.Topic(),
		"qos":        strconv.Itoa(int(m.Qos())),
		"retained":   strconv.FormatBool(m.Retained()),
		"message_id": strconv.Itoa(int(m.MessageID())),
	}
	if m.Duplicate() {
		h["duplicate"] = "true"
	}
	id := "mqtt:" + m.Topic() + ":" + strconv.Itoa(int(m.MessageID()))
	return connector.Delivery{
		Message: connector.Message{Body: m.Payload(), Headers: h, Time: s.o.now()},
		ID:      id,
		Ack:     func(context.Context) error { return s.ack(p, id) },
		Nack:    func(context.Context) error { return s.nack(p, id) },
	}
}

func (s *source) release(p *pending) {
	p.l.settled()
	<-s.slots
}

// abandon takes back a delivery the flow never received.
func (s *source) abandon(p *pending) {
	if p.settled.CompareAndSwap(false, true) {
		s.release(p)
	}
}

func (s *source) ack(p *pending, id string) error {
	if !p.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("ack %s: %w", id, ErrSettled)
	}
	defer s.release(p)
	if p.m.Qos() == 0 {
		return nil
	}
	if p.l.isDown() {
		return fmt.Errorf("ack %s: %w", id, ErrConnectionGone)
	}
	p.m.Ack()
	return nil
}

func (s *source) nack(p *pending, id string) error {
	if !p.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("nack %s: %w", id, ErrSettled)
	}
	defer s.release(p)
	if p.m.Qos() == 0 || s.o.clean {
		return fmt.Errorf("nack %s: %w", id, ErrNoRedelivery)
	}
	if p.l.isDown() {
		return nil // its connection is gone: the broker sends it again anyway
	}
	p.l.nackRequested.Store(true)
	select {
	case s.nacked <- struct{}{}:
	default: // a reconnect is already asked for
	}
	return nil
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
