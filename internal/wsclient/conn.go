package wsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/transform"
)

// Defaults of Options.
const (
	// TimeoutDefault bounds a handshake, a write, and the wait for a subscription's reply.
	TimeoutDefault = 30 * time.Second
	// ReadLimitDefault bounds one message; a larger one fails the connection.
	ReadLimitDefault = 10 << 20
	// HeartbeatIntervalDefault and HeartbeatTimeoutDefault are a heartbeat's when the
	// configuration names none: a ping every 30 s, answered within 10 s.
	HeartbeatIntervalDefault = 30 * time.Second
	HeartbeatTimeoutDefault  = 10 * time.Second
)

// ErrHeartbeat is why a connection whose heartbeat went unanswered was closed.
var ErrHeartbeat = errors.New("heartbeat not answered in time")

// Dialer makes one connection: the handshake with the upstream's URL, headers,
// credentials and TLS.
type Dialer func(ctx context.Context) (*websocket.Conn, error)

// Options say how to reach the upstream and check its connections.
type Options struct {
	Name      string // the integration, for logs and errors
	Dial      Dialer // required
	Heartbeat Heartbeat
	Timeout   time.Duration // default TimeoutDefault
	ReadLimit int64         // default ReadLimitDefault
	Clock     clock.Clock   // default clock.Real{}
	Logger    *slog.Logger  // default: discard
	// Status hears of every connection made (err nil; for a feed, once subscribed), every
	// attempt that failed and every connection lost, for the integration's health.
	Status func(err error)
}

// Heartbeat checks a connection every Interval: a ping frame, or Message's request,
// must be answered within Timeout (by the pong, by the request's reply, or, for a
// request without one, by any message). A connection that receives messages meanwhile
// is alive, and one whose reader is held back by its receiver is not checked: nothing
// is read from it, answers included.
type Heartbeat struct {
	Interval time.Duration // 0: no heartbeat
	Timeout  time.Duration // default HeartbeatTimeoutDefault
	Message  func() *Request
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = TimeoutDefault
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = ReadLimitDefault
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Heartbeat.Interval > 0 && o.Heartbeat.Timeout <= 0 {
		o.Heartbeat.Timeout = HeartbeatTimeoutDefault
	}
	if o.Status == nil {
		o.Status = func(error) {}
	}
}

// Message is one message received.
type Message struct {
	Data       []byte
	Binary     bool      // a binary message; text otherwise
	Time       time.Time // when it was read
	Connection int       // which connection of the feed it came on, from 1
	Seq        uint64    // its place among the messages of that connection, from 1
}

// conn is one live connection: a reader that answers waiters and hands every other
// message to deliver, and a heartbeat. It ends when its context does, when reading
// fails or when the heartbeat goes unanswered; err says why.
type conn struct {
	ws      *websocket.Conn
	opts    *Options
	n       int
	deliver func(context.Context, Message) error // nil: messages nobody awaits are ignored

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	waiters map[*waiter]struct{}
	err     error

	reads atomic.Uint64 // messages read so far
	busy  atomic.Bool   // the reader is handing a message on, not reading
}

// waiter is a request awaiting its reply.
type waiter struct {
	m     *Match
	reply chan []byte // buffered 1; receives the reply once
}

// dial makes connection number n and starts serving it; parent ends it.
func dial(parent context.Context, opts *Options, n int, deliver func(context.Context, Message) error) (*conn, error) {
	dctx, cancel := context.WithTimeout(parent, opts.Timeout)
	ws, err := opts.Dial(dctx)
	cancel()
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(opts.ReadLimit)
	c := &conn{ws: ws, opts: opts, n: n, deliver: deliver, waiters: map[*waiter]struct{}{}}
	c.ctx, c.cancel = context.WithCancel(parent)
	c.wg.Go(c.read)
	if opts.Heartbeat.Interval > 0 {
		c.wg.Go(c.heartbeat)
	}
	return c, nil
}

// fail ends the connection for err (the first reason given wins).
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.cancel()
	_ = c.ws.CloseNow()
}

// close ends the connection as a client leaving, and waits for its goroutines.
func (c *conn) close() {
	c.mu.Lock()
	if c.err == nil {
		c.err = context.Canceled
	}
	c.mu.Unlock()
	c.cancel()
	_ = c.ws.CloseNow()
	c.wg.Wait()
}

// wait returns once the connection has ended, and why.
func (c *conn) wait() error {
	<-c.ctx.Done()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return c.ctx.Err()
	}
	return c.err
}

// reason is why the connection ended, once it has.
func (c *conn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return context.Canceled
}

func (c *conn) read() {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			c.fail(readError(err))
			return
		}
		seq := c.reads.Add(1)
		if c.answer(data) {
			continue
		}
		if c.deliver == nil {
			c.opts.Logger.Debug("websocket message answers no request; ignored", "integration", c.opts.Name, "bytes", len(data))
			continue
		}
		c.busy.Store(true)
		err = c.deliver(c.ctx, Message{Data: data, Binary: typ == websocket.MessageBinary, Time: c.opts.Clock.Now(), Connection: c.n, Seq: seq})
		c.busy.Store(false)
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// readError says why reading failed in words for the log and the health.
func readError(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Errorf("closed by the upstream (%d %s)", int(ce.Code), ce.Reason)
	}
	return err
}

// answer hands data to the waiter it answers, if any.
func (c *conn) answer(data []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) == 0 {
		return false
	}
	doc, err := transform.Decode(data)
	if err != nil {
		return false
	}
	for w := range c.waiters {
		if w.m.matches(doc) {
			delete(c.waiters, w)
			w.reply <- data
			return true
		}
	}
	return false
}

// send writes req and, when it awaits a reply, returns the waiter that will get it.
// The write has its own deadline rather than the caller's: a write cut short closes
// the connection, which must not happen because one caller gave up.
func (c *conn) send(req *Request) (*waiter, error) {
	var w *waiter
	if req.Reply != nil {
		w = &waiter{m: req.Reply, reply: make(chan []byte, 1)}
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return nil, c.err
		}
		c.waiters[w] = struct{}{}
		c.mu.Unlock()
	}
	wctx, cancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, req.Message); err != nil {
		c.forget(w)
		c.fail(fmt.Errorf("write: %w", err))
		return nil, c.reason()
	}
	return w, nil
}

// forget drops a waiter whose caller gave up.
func (c *conn) forget(w *waiter) {
	if w == nil {
		return
	}
	c.mu.Lock()
	delete(c.waiters, w)
	c.mu.Unlock()
}

// await waits for w's reply until timeout of the clock passes while the connection
// reads: time in which the reader was held back by its receiver does not count, since
// the reply may be waiting unread. ok is false on a timeout or when the connection
// ended.
func (c *conn) await(w *waiter, timeout time.Duration) (reply []byte, ok bool) {
	answered := make(chan struct{})
	var data []byte
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case data = <-w.reply:
			close(answered)
		case <-stop:
		}
	}()
	if c.waitFor(answered, timeout, false) {
		return data, true
	}
	c.forget(w)
	return nil, false
}

// waitFor waits until answered is closed, and reports whether it was. It gives up
// after timeout of the clock, unless the reader was held back meanwhile or (with
// anyMessage) read something: then the connection is alive and it waits again.
func (c *conn) waitFor(answered <-chan struct{}, timeout time.Duration, anyMessage bool) bool {
	for {
		reads := c.reads.Load()
		wctx, wake := context.WithCancel(c.ctx)
		go func() {
			select {
			case <-answered:
				wake()
			case <-wctx.Done():
			}
		}()
		timedOut := c.opts.Clock.Sleep(wctx, timeout) == nil
		wake()
		select {
		case <-answered:
			return true
		default:
		}
		if !timedOut || c.ctx.Err() != nil {
			return false
		}
		if anyMessage && c.reads.Load() != reads {
			return true
		}
		if !c.busy.Load() && c.reads.Load() == reads {
			return false
		}
	}
}

// heartbeat checks the connection every interval, and fails it when a check goes
// unanswered.
func (c *conn) heartbeat() {
	hb := c.opts.Heartbeat
	for {
		if c.opts.Clock.Sleep(c.ctx, hb.Interval) != nil {
			return
		}
		if c.busy.Load() {
			continue // held back by the receiver: nothing is read, answers included
		}
		var alive bool
		if hb.Message != nil {
			alive = c.heartbeatMessage(hb.Message(), hb.Timeout)
		} else {
			alive = c.ping(hb.Timeout)
		}
		if c.ctx.Err() != nil {
			return
		}
		if !alive {
			c.opts.Logger.Warn("websocket heartbeat not answered; reconnecting", "integration", c.opts.Name, "connection", c.n, "timeout", hb.Timeout)
			c.fail(fmt.Errorf("%w (%v)", ErrHeartbeat, hb.Timeout))
			return
		}
	}
}

// ping sends a ping frame and waits for its pong (read by the reader).
func (c *conn) ping(timeout time.Duration) bool {
	pctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	answered := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c.ws.Ping(pctx) == nil {
			close(answered)
		}
	}()
	defer func() { cancel(); <-done }()
	return c.waitFor(answered, timeout, true)
}

// heartbeatMessage sends an application-level heartbeat and waits for its reply, or
// for any message when it awaits none.
func (c *conn) heartbeatMessage(req *Request, timeout time.Duration) bool {
	w, err := c.send(req)
	if err != nil {
		return false
	}
	if w == nil {
		return c.waitFor(nil, timeout, true)
	}
	_, ok := c.await(w, timeout)
	return ok
}
