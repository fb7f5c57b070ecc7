package wsclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is the answer of a Caller after Close.
var ErrClosed = errors.New("websocket connection closed")

// ConnectionError is a call that failed for its connection's sake, before a reply
// could arrive: the handshake failed, or the connection was lost. Nothing says whether
// the upstream saw the request.
type ConnectionError struct{ Err error }

func (e *ConnectionError) Error() string { return e.Err.Error() }
func (e *ConnectionError) Unwrap() error { return e.Err }

// Caller sends requests on one connection it keeps and returns their replies. The
// connection is made at the first call and made again by the call after it failed;
// concurrent calls share it, and one handshake. A Caller is safe for concurrent use.
type Caller struct {
	o    Options
	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the handshakes and watchers of connections

	mu      sync.Mutex
	cur     *conn
	pending *dialRound // the handshake in progress, or nil
	n       int        // connections made so far
	closed  bool
}

// dialRound is one handshake that concurrent calls wait for together.
type dialRound struct {
	done chan struct{}
	c    *conn
	err  error
}

// NewCaller returns a Caller; it connects at its first call.
func NewCaller(o Options) *Caller {
	o.defaults()
	life, stop := context.WithCancel(context.Background())
	return &Caller{o: o, life: life, stop: stop}
}

// Call sends req and returns the message that answers it, waiting until ctx ends. A
// request without a Reply returns nil once written. Failures of the connection are
// *ConnectionError; ctx's end is ctx.Err().
func (k *Caller) Call(ctx context.Context, req *Request) ([]byte, error) {
	c, err := k.connection(ctx)
	if err != nil {
		return nil, err
	}
	w, err := c.send(req)
	if err != nil {
		return nil, &ConnectionError{Err: fmt.Errorf("send: %w", err)}
	}
	if w == nil {
		return nil, nil
	}
	select {
	case reply := <-w.reply:
		return reply, nil
	case <-ctx.Done():
		c.forget(w)
		return nil, ctx.Err()
	case <-c.ctx.Done():
		c.forget(w)
		select {
		case reply := <-w.reply: // answered just before the connection ended
			return reply, nil
		default:
		}
		return nil, &ConnectionError{Err: fmt.Errorf("connection lost before the reply: %w", c.reason())}
	}
}

// connection returns the live connection, making one when there is none.
func (k *Caller) connection(ctx context.Context) (*conn, error) {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil, ErrClosed
	}
	if k.cur != nil && k.cur.ctx.Err() == nil {
		c := k.cur
		k.mu.Unlock()
		return c, nil
	}
	round := k.pending
	if round == nil {
		round = &dialRound{done: make(chan struct{})}
		k.pending = round
		k.n++
		n := k.n
		k.wg.Go(func() { k.dial(round, n) })
	}
	k.mu.Unlock()
	select {
	case <-round.done:
		if round.err != nil {
			return nil, round.err
		}
		return round.c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial makes connection n for round. It runs on the Caller's life, not on the context
// of the call that started it: the other calls waiting for it must not fail because
// that one gave up.
func (k *Caller) dial(round *dialRound, n int) {
	c, err := dial(k.life, &k.o, n, nil)
	k.mu.Lock()
	k.pending = nil
	switch {
	case err != nil:
		round.err = &ConnectionError{Err: fmt.Errorf("connect: %w", err)}
	case k.closed:
		round.err = ErrClosed
	default:
		k.cur, round.c = c, c
		k.wg.Go(func() { k.watch(c) })
	}
	k.mu.Unlock()
	if round.err == ErrClosed {
		c.close()
	} else {
		k.o.Status(err)
	}
	close(round.done)
}

// watch waits for connection c to end and says why, unless the Caller was closed.
func (k *Caller) watch(c *conn) {
	err := c.wait()
	if k.life.Err() != nil {
		return
	}
	k.o.Logger.Warn("websocket connection lost; the next call connects again", "integration", k.o.Name, "connection", c.n, "error", err)
	k.o.Status(fmt.Errorf("connection lost: %w", err))
}

// Close ends the connection and fails the calls waiting on it.
func (k *Caller) Close() {
	k.mu.Lock()
	k.closed = true
	c := k.cur
	k.mu.Unlock()
	k.stop()
	if c != nil {
		c.close()
	}
	k.wg.Wait()
}
