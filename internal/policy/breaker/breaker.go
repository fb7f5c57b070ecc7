package breaker

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// State is the circuit's state.
type State int

// The states of a circuit.
const (
	Closed State = iota
	Open
	HalfOpen
)

// String returns "closed", "open" or "half-open"; these words appear in the status API.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Defaults applied by New to zero fields.
const (
	DefaultResetAfter     = 30 * time.Second
	DefaultHalfOpenProbes = 1
)

// Config configures a Breaker. Zero values of ResetAfter, HalfOpenProbes and Clock take
// their defaults.
type Config struct {
	Failures       int           // failures that open the circuit (>=1)
	Window         time.Duration // sliding window for counting failures; ignored when Consecutive
	Consecutive    bool          // count consecutive failures (a success resets the count)
	ResetAfter     time.Duration // how long it stays open before letting probes through; default 30s
	HalfOpenProbes int           // concurrent probe calls allowed while half-open; default 1
	MaxConcurrent  int           // bulkhead: max calls in flight in any state; 0 = unlimited
	Clock          clock.Clock   // default clock.Real{}
	// OnStateChange is called after every transition, outside any lock, with the number of
	// failures counted when it opened (0 otherwise). May be nil. It runs on the goroutine of
	// some caller of the breaker, so it should be quick, and it must not panic: the call
	// that triggered it would never receive its done func.
	OnStateChange func(from, to State, failures int)
	// OnChange, if set, is called like OnStateChange (same goroutine, same order) for
	// every transition, including those Apply makes, with more detail: whether the
	// transition came from another process (Apply) and, when it opened, how long the
	// circuit stays open. A breaker shared across processes announces from here the
	// transitions that are its own (Remote false), and only those, so that applying a
	// remote transition never echoes it back.
	OnChange func(Change)
}

// Change is a transition as OnChange sees it.
type Change struct {
	From, To State
	Failures int // failures counted when it opened; 0 otherwise and for remote transitions
	// RetryAfter is, when To is Open, how long the circuit stays open from now.
	RetryAfter time.Duration
	Remote     bool // made by Apply: another process's transition
}

// ErrOpen is what a call refused by an open (or saturated half-open) circuit fails with;
// the error returned is an *OpenError that wraps it.
var ErrOpen = errors.New("circuit open")

// ErrBulkheadFull is returned, wrapped, when MaxConcurrent calls are already in flight.
var ErrBulkheadFull = errors.New("too many concurrent calls")

// OpenError is the error of a call the circuit refused. errors.Is(err, ErrOpen) holds.
type OpenError struct {
	// RetryAfter is how long until the circuit lets probes through: the time left while
	// open, 0 while half-open with every probe slot taken.
	RetryAfter time.Duration
}

// Error says that the circuit is open and when a call may be tried again.
func (e *OpenError) Error() string {
	if e.RetryAfter <= 0 {
		return "circuit open: half-open probe in progress, retry shortly"
	}
	return fmt.Sprintf("circuit open: retry after %v", e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrOpen) hold.
func (e *OpenError) Unwrap() error { return ErrOpen }

// Breaker is a circuit breaker with a bulkhead. It is safe for concurrent use.
type Breaker struct {
	cfg Config

	mu       sync.Mutex
	state    State
	gen      uint64      // bumped on every transition; outcomes of other generations are stale
	failures []time.Time // window mode: times of counted failures, oldest first, len < Failures while closed
	consec   int         // consecutive mode: failures since the last success
	opened   int         // failures counted when the circuit last opened, for Counts while open
	openedAt time.Time
	probes   int // probes in flight in the current half-open generation
	inFlight int // all calls in flight, any generation: the bulkhead's count

	// Notifications queued under mu and delivered outside it by one goroutine at a time,
	// so that callbacks see transitions in order without ever running under the lock.
	pending    []transition
	delivering bool
}

type transition struct {
	from, to   State
	failures   int
	retryAfter time.Duration
	remote     bool
}

// New validates cfg, applies defaults and returns a closed Breaker.
func New(cfg Config) (*Breaker, error) {
	if cfg.Failures < 1 {
		return nil, fmt.Errorf("breaker: failures must be at least 1, got %d", cfg.Failures)
	}
	if !cfg.Consecutive && cfg.Window <= 0 {
		return nil, fmt.Errorf("breaker: window must be positive unless failures are consecutive, got %v", cfg.Window)
	}
	if cfg.ResetAfter < 0 {
		return nil, fmt.Errorf("breaker: reset_after must not be negative, got %v", cfg.ResetAfter)
	}
	if cfg.HalfOpenProbes < 0 {
		return nil, fmt.Errorf("breaker: half_open_probes must not be negative, got %d", cfg.HalfOpenProbes)
	}
	if cfg.MaxConcurrent < 0 {
		return nil, fmt.Errorf("breaker: max_concurrent must not be negative, got %d", cfg.MaxConcurrent)
	}
	if cfg.ResetAfter == 0 {
		cfg.ResetAfter = DefaultResetAfter
	}
	if cfg.HalfOpenProbes == 0 {
		cfg.HalfOpenProbes = DefaultHalfOpenProbes
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	b := &Breaker{cfg: cfg}
	if !cfg.Consecutive {
		// The window never holds Failures timestamps: reaching that count opens the circuit
		// and clears it. Allocating once keeps Allow/done allocation-free.
		b.failures = make([]time.Time, 0, cfg.Failures)
	}
	return b, nil
}

// Allow asks to make one call. On success the caller MUST call done exactly once with the
// outcome (true = success, false = failure counted against the circuit); calling done more
// than once is a no-op. Neutral outcomes (e.g. a 404 from upstream) are reported as success.
// When the call is refused, done is nil and err is an *OpenError or wraps ErrBulkheadFull.
func (b *Breaker) Allow() (done func(success bool), err error) {
	b.mu.Lock()
	now := b.cfg.Clock.Now()
	b.advance(now)
	switch {
	case b.state == Open:
		err = &OpenError{RetryAfter: b.openedAt.Add(b.cfg.ResetAfter).Sub(now)}
	case b.state == HalfOpen && b.probes >= b.cfg.HalfOpenProbes:
		err = &OpenError{}
	case b.cfg.MaxConcurrent > 0 && b.inFlight >= b.cfg.MaxConcurrent:
		err = fmt.Errorf("breaker: %w (limit %d)", ErrBulkheadFull, b.cfg.MaxConcurrent)
	}
	if err != nil {
		b.unlockAndNotify()
		return nil, err
	}
	probe := b.state == HalfOpen
	if probe {
		b.probes++
	}
	b.inFlight++
	gen := b.gen
	b.unlockAndNotify()

	var called atomic.Bool
	return func(success bool) {
		if called.Swap(true) {
			return
		}
		b.finish(gen, probe, success)
	}, nil
}

// finish applies the outcome of a call allowed in generation gen.
func (b *Breaker) finish(gen uint64, probe, success bool) {
	b.mu.Lock()
	b.inFlight--
	if gen != b.gen {
		// The circuit changed state since this call was allowed: its outcome says nothing
		// about the current state, and applying it could, e.g., close a circuit that just
		// re-opened. Reset and transitions also zeroed the probe count it held.
		b.unlockAndNotify()
		return
	}
	now := b.cfg.Clock.Now()
	switch b.state {
	case Closed:
		if success {
			if b.cfg.Consecutive {
				b.consec = 0
			}
			break
		}
		if n := b.recordFailure(now); n >= b.cfg.Failures {
			b.open(now, n)
		}
	case HalfOpen:
		if probe {
			b.probes--
		}
		if success {
			b.transition(Closed, 0)
		} else {
			b.open(now, 1)
		}
	}
	b.unlockAndNotify()
}

// recordFailure counts a failure at now and returns the count.
func (b *Breaker) recordFailure(now time.Time) int {
	if b.cfg.Consecutive {
		b.consec++
		return b.consec
	}
	b.prune(now)
	b.failures = append(b.failures, now)
	return len(b.failures)
}

// prune drops failures that have left the window (now-Window, now].
func (b *Breaker) prune(now time.Time) {
	cutoff := now.Add(-b.cfg.Window)
	i := 0
	for i < len(b.failures) && !b.failures[i].After(cutoff) {
		i++
	}
	if i > 0 {
		// Shift down rather than reslice so the backing array is reused forever.
		n := copy(b.failures, b.failures[i:])
		b.failures = b.failures[:n]
	}
}

// advance performs the lazy Open → HalfOpen transition once ResetAfter has passed.
func (b *Breaker) advance(now time.Time) {
	if b.state == Open && !now.Before(b.openedAt.Add(b.cfg.ResetAfter)) {
		b.transition(HalfOpen, 0)
	}
}

func (b *Breaker) open(now time.Time, failures int) {
	b.openedAt = now
	b.transition(Open, failures)
	b.opened = failures
}

// transition moves to state to, starting a new generation with empty counts, and queues
// the notification. Callers hold mu.
func (b *Breaker) transition(to State, failures int) {
	from := b.state
	b.state = to
	b.gen++
	b.failures = b.failures[:0]
	b.consec = 0
	b.opened = 0
	b.probes = 0
	if from != to && (b.cfg.OnStateChange != nil || b.cfg.OnChange != nil) {
		t := transition{from: from, to: to, failures: failures}
		if to == Open {
			t.retryAfter = b.openedAt.Add(b.cfg.ResetAfter).Sub(b.cfg.Clock.Now())
		}
		b.pending = append(b.pending, t)
	}
}

// unlockAndNotify releases mu and delivers queued notifications unless another goroutine
// is already delivering (it will pick these up too, in order).
func (b *Breaker) unlockAndNotify() {
	if len(b.pending) == 0 || b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	for len(b.pending) > 0 {
		t := b.pending[0]
		b.pending = b.pending[1:]
		b.mu.Unlock()
		b.deliver(t)
		b.mu.Lock()
	}
	b.pending = nil
	b.delivering = false
	b.mu.Unlock()
}

// deliver runs the callback; a panic in it must not leave the breaker unable to deliver,
// so the delivering flag is cleared before the panic continues.
func (b *Breaker) deliver(t transition) {
	ok := false
	defer func() {
		if !ok {
			b.mu.Lock()
			b.delivering = false
			b.mu.Unlock()
		}
	}()
	if b.cfg.OnStateChange != nil && !t.remote && t.from != t.to {
		b.cfg.OnStateChange(t.from, t.to, t.failures)
	}
	if b.cfg.OnChange != nil {
		b.cfg.OnChange(Change{From: t.from, To: t.to, Failures: t.failures, RetryAfter: t.retryAfter, Remote: t.remote})
	}
	ok = true
}

// State returns the current state, turning Open into HalfOpen once ResetAfter has passed.
func (b *Breaker) State() State {
	b.mu.Lock()
	b.advance(b.cfg.Clock.Now())
	s := b.state
	b.unlockAndNotify()
	return s
}

// Reset closes the circuit by hand and clears its counts. Calls in flight become stale:
// their outcomes are ignored, except that they free their bulkhead slots.
//
// Resetting a closed circuit is reported to OnChange too (From and To both Closed, and
// only to OnChange): a reset by hand in one process must close the circuit in the
// processes that share it even if this one had not seen it open.
func (b *Breaker) Reset() {
	b.mu.Lock()
	if b.state == Closed && b.cfg.OnChange != nil {
		b.pending = append(b.pending, transition{from: Closed, to: Closed})
	}
	b.transition(Closed, 0)
	b.unlockAndNotify()
}

// Apply puts the circuit in the state another process's breaker for the same upstream
// entered: to, and when to is Open, open for retryAfter from now. OnChange sees it with
// Remote set; OnStateChange is not called (the process that made the transition reports
// it). Applying the state the circuit is already in changes nothing but, when open, the
// time it reopens: no new generation, so calls in flight still count.
func (b *Breaker) Apply(to State, retryAfter time.Duration) {
	b.mu.Lock()
	now := b.cfg.Clock.Now()
	b.advance(now)
	if to == Open {
		openedAt := now.Add(retryAfter - b.cfg.ResetAfter)
		if b.state == Open {
			b.openedAt = openedAt
			b.unlockAndNotify()
			return
		}
		b.openedAt = openedAt
	} else if b.state == to {
		b.unlockAndNotify()
		return
	}
	n := len(b.pending)
	b.transition(to, 0)
	if len(b.pending) > n {
		b.pending[n].remote = true
	}
	b.unlockAndNotify()
}

// Counts returns the failures currently counted: while closed, those inside the window
// (or the consecutive ones); while open, the count that opened it; while half-open, 0.
func (b *Breaker) Counts() (failures int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Clock.Now()
	if b.state == Open && !now.Before(b.openedAt.Add(b.cfg.ResetAfter)) {
		// Half-open by now; not transitioning here keeps Counts a pure read.
		return 0
	}
	switch {
	case b.state == Open:
		return b.opened
	case b.cfg.Consecutive:
		return b.consec
	default:
		b.prune(now)
		return len(b.failures)
	}
}
