package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("batch: batcher closed")

// ErrResponseCount is the error every caller of a batch gets when Send returned a number
// of responses different from the number of requests: with the positions off, no caller
// can be given a response that is surely its own.
var ErrResponseCount = errors.New("batch: wrong number of responses")

// Config configures a Batcher.
type Config[Req, Resp any] struct {
	MaxSize  int           // requests per batch, at least 1
	MaxDelay time.Duration // longest wait from a batch's first request to its Send; more than 0
	Clock    clock.Clock   // nil means clock.Real
	// Send performs one batch; it returns one response per request, in order, or an error
	// that every caller of the batch receives.
	Send func(ctx context.Context, reqs []Req) ([]Resp, error)
}

// Batcher queues single requests and sends them in batches. It is safe for concurrent
// use. Its timer goroutine starts with the first request; Close it to stop that.
type Batcher[Req, Resp any] struct {
	maxSize  int
	maxDelay time.Duration
	clock    clock.Clock
	send     func(context.Context, []Req) ([]Resp, error)

	mu      sync.Mutex
	cur     *pending[Req, Resp] // the batch being filled; nil when none
	closed  bool
	started bool // the timer goroutine was started (or will never be: closed first)
	// stopTimer ends the timer goroutine's current Sleep, which is always for cur: whoever
	// takes cur away (a size flush, the last caller leaving, Close) calls it. nil while the
	// timer is not sleeping.
	stopTimer context.CancelFunc

	kick      chan struct{} // a new batch started; buffered, so Submit never blocks on it
	quit      chan struct{} // closed by Close
	timerDone chan struct{} // closed when the timer goroutine has returned
	sends     sync.WaitGroup
}

type pending[Req, Resp any] struct {
	items    []*item[Req, Resp]
	deadline time.Time // MaxDelay after the first request, on the injected clock
}

type item[Req, Resp any] struct {
	req  Req
	resp Resp
	err  error
	done chan struct{} // closed once resp or err is set
}

// New validates cfg. It starts nothing: a Batcher that never gets a request needs no
// Close (a configuration built and then rejected leaves no goroutine behind).
func New[Req, Resp any](cfg Config[Req, Resp]) (*Batcher[Req, Resp], error) {
	switch {
	case cfg.MaxSize < 1:
		return nil, fmt.Errorf("batch: MaxSize %d, want at least 1", cfg.MaxSize)
	case cfg.MaxDelay <= 0:
		return nil, fmt.Errorf("batch: MaxDelay %v, want more than 0", cfg.MaxDelay)
	case cfg.Send == nil:
		return nil, errors.New("batch: Send is nil")
	}
	c := cfg.Clock
	if c == nil {
		c = clock.Real{}
	}
	b := &Batcher[Req, Resp]{
		maxSize:   cfg.MaxSize,
		maxDelay:  cfg.MaxDelay,
		clock:     c,
		send:      cfg.Send,
		kick:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		timerDone: make(chan struct{}),
	}
	return b, nil
}

// Submit adds r to the current batch and waits for its response. A caller whose ctx ends
// before the batch is sent is removed from it; after it is sent, the caller just stops
// waiting. Both return ctx.Err().
func (b *Batcher[Req, Resp]) Submit(ctx context.Context, r Req) (Resp, error) {
	var zero Resp
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	it := &item[Req, Resp]{req: r, done: make(chan struct{})}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return zero, ErrClosed
	}
	if !b.started {
		b.started = true
		go b.timer()
	}
	if b.cur == nil {
		b.cur = &pending[Req, Resp]{deadline: b.clock.Now().Add(b.maxDelay)}
		select {
		case b.kick <- struct{}{}:
		default: // a kick is already waiting; the timer will look at cur anyway
		}
	}
	batch := b.cur
	batch.items = append(batch.items, it)
	if len(batch.items) >= b.maxSize {
		b.flushLocked()
	}
	b.mu.Unlock()

	select {
	case <-it.done:
		return it.resp, it.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if b.cur == batch {
		// Not sent yet: leave the batch, so the upstream is not asked for a response
		// nobody waits for.
		if i := slices.Index(batch.items, it); i >= 0 {
			batch.items = slices.Delete(batch.items, i, i+1)
		}
		if len(batch.items) == 0 {
			b.cur = nil
			b.stopTimerLocked()
		}
	}
	b.mu.Unlock()
	// If the response arrived meanwhile, it is more use than the error.
	select {
	case <-it.done:
		return it.resp, it.err
	default:
		return zero, ctx.Err()
	}
}

// Close sends the pending batch, waits for every Send in flight and stops the timer
// goroutine. Later Submits return ErrClosed. Close may be called more than once.
func (b *Batcher[Req, Resp]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		if b.cur != nil {
			b.flushLocked()
		}
		b.stopTimerLocked()
		close(b.quit)
		if !b.started {
			b.started = true
			close(b.timerDone)
		}
	}
	b.mu.Unlock()
	<-b.timerDone
	b.sends.Wait()
}

// flushLocked sends cur in a goroutine of its own, so neither the caller that filled the
// batch nor the timer waits for the upstream. b.mu must be held, and b not closed unless
// Close itself is flushing (no sends start after that).
func (b *Batcher[Req, Resp]) flushLocked() {
	batch := b.cur
	b.cur = nil
	b.stopTimerLocked()
	b.sends.Go(func() { b.sendBatch(batch) })
}

func (b *Batcher[Req, Resp]) stopTimerLocked() {
	if b.stopTimer != nil {
		b.stopTimer()
		b.stopTimer = nil
	}
}

// sendBatch calls Send and hands each caller its response, or the batch's error.
func (b *Batcher[Req, Resp]) sendBatch(batch *pending[Req, Resp]) {
	reqs := make([]Req, len(batch.items))
	for i, it := range batch.items {
		reqs[i] = it.req
	}
	// No caller's context: each can leave, and the batch must still be sent for the rest.
	resps, err := b.send(context.Background(), reqs)
	switch {
	case err != nil:
		err = fmt.Errorf("batch: send %d requests: %w", len(reqs), err)
	case len(resps) != len(reqs):
		err = fmt.Errorf("%w: Send returned %d for %d requests", ErrResponseCount, len(resps), len(reqs))
	}
	for i, it := range batch.items {
		if err != nil {
			it.err = err
		} else {
			it.resp = resps[i]
		}
		close(it.done)
	}
}

// timer sends each batch whose MaxDelay has passed. It sleeps on the injected clock for
// the current batch only; whoever takes that batch away interrupts the sleep, and the
// loop then looks again.
func (b *Batcher[Req, Resp]) timer() {
	defer close(b.timerDone)
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return
		}
		batch := b.cur
		if batch == nil {
			b.mu.Unlock()
			select {
			case <-b.kick:
				continue
			case <-b.quit:
				return
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		b.stopTimer = cancel
		b.mu.Unlock()

		err := b.clock.Sleep(ctx, batch.deadline.Sub(b.clock.Now()))
		cancel()

		b.mu.Lock()
		// Only this goroutine sets stopTimer, so anything still there is this sleep's.
		b.stopTimer = nil
		if err == nil && b.cur == batch && !b.closed {
			b.flushLocked()
		}
		b.mu.Unlock()
	}
}

// pendingLen is the number of requests waiting in the current batch (for tests).
func (b *Batcher[Req, Resp]) pendingLen() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == nil {
		return 0
	}
	return len(b.cur.items)
}
