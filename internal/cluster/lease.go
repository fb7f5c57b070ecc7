package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// Defaults of the lease timing.
const (
	// TTLDefault is how long a lease lasts without renewal: a dead node's duties are
	// taken over within it.
	TTLDefault = 15 * time.Second
	// renewDivisor: a lease is renewed every TTL/renewDivisor unless told otherwise, so
	// two renewals may fail (a database blip) before it is lost.
	renewDivisor = 3
)

// Store is what the cluster needs of the store (store.ClusterStore).
type Store interface {
	LeaseAcquire(ctx context.Context, p store.LeaseAcquireParams) (store.Lease, bool, error)
	LeaseRelease(ctx context.Context, name, holder string) (bool, error)
	LeaseList(ctx context.Context) ([]store.Lease, error)
	NodeRegister(ctx context.Context, n store.Node) error
	NodeHeartbeat(ctx context.Context, p store.NodeHeartbeatParams) error
	NodeStop(ctx context.Context, id string, at time.Time) error
	NodeList(ctx context.Context) ([]store.Node, error)
	NodePrune(ctx context.Context, before time.Time) (int, error)
}

// LeaseOptions configure a Lease.
type LeaseOptions struct {
	Store  Store  // required
	Name   string // required: "flow-source:<flow>", "retention"
	Holder string // required: the node id
	// TTL is how long the lease lasts without renewal; TTLDefault when zero.
	TTL time.Duration
	// Renew is how often the holder renews it, and how often a node that does not hold it
	// tries to take it (and also when the holder's lease, as last read, runs out); TTL/3
	// when zero. It must be shorter than TTL.
	Renew time.Duration
	// OnChange, if set, is called with true when the lease is gained and false when it
	// is lost or, at Stop, given up; calls come one at a time, in order, from the
	// lease's goroutine, so a slow callback delays the next renewal.
	OnChange func(held bool)
	Clock    func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default()
}

// Lease is one named duty this node tries to hold. Build it with NewLease (or
// Node.Lease); Start begins trying, Stop gives it up.
//
// Held is judged with this process's clock from the moment before the store call that
// took or renewed the lease: the database's copy expires no earlier, so a node stops
// believing it holds the lease before another node can take it, even when the database
// cannot be reached to hear that it was lost.
type Lease struct {
	opts LeaseOptions

	mu     sync.Mutex
	held   bool
	until  time.Time // local deadline of the holding
	holder string    // the holder by the store's last answer; "" when free or unknown
	// theirs is when another holder's lease runs out by the store's last answer: a node
	// that does not hold the lease tries again then, not a renewal interval later, so a
	// dead holder's duty moves within the time to live of its last renewal.
	theirs time.Time

	// forget, set by Node.Lease, drops the lease from its node once stopped.
	forget func()

	stop    context.CancelFunc
	done    chan struct{}
	tried   chan struct{} // closed once the first try (and its OnChange) is over, or at Stop
	started bool
	stopped bool
}

// NewLease validates opts and returns a lease not yet tried for.
func NewLease(opts LeaseOptions) (*Lease, error) {
	if opts.Store == nil || opts.Name == "" || opts.Holder == "" {
		return nil, errors.New("cluster: lease: Store, Name and Holder are required")
	}
	if opts.TTL == 0 {
		opts.TTL = TTLDefault
	}
	if opts.Renew == 0 {
		opts.Renew = opts.TTL / renewDivisor
	}
	if opts.TTL < 0 || opts.Renew <= 0 || opts.Renew >= opts.TTL {
		return nil, fmt.Errorf("cluster: lease %s: renew interval %s must be positive and shorter than the time to live %s", opts.Name, opts.Renew, opts.TTL)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Lease{opts: opts, done: make(chan struct{}), tried: make(chan struct{})}, nil
}

// Name is the lease's name.
func (l *Lease) Name() string { return l.opts.Name }

// Held reports whether this node holds the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held && l.opts.Clock().Before(l.until)
}

// Holder is the node holding the lease by the store's last answer: this node's id while
// it holds it, another's while that one does, "" when nobody does or no answer came yet.
func (l *Lease) Holder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held && !l.opts.Clock().Before(l.until) {
		return ""
	}
	return l.holder
}

// Tried is closed once the first try for the lease is over, OnChange included (or the
// lease stopped before it): a duty that must be done before a start returns, if this
// node holds it, waits for it.
func (l *Lease) Tried() <-chan struct{} { return l.tried }

// Start begins trying for the lease, at once and then every Renew, until Stop.
func (l *Lease) Start(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return
	}
	l.started = true
	ctx, l.stop = context.WithCancel(context.WithoutCancel(ctx))
	go l.run(ctx)
}

// Stop stops trying, tells OnChange the lease is given up if it was held, and releases it
// in the store so another node takes it at once rather than when it expires. ctx bounds
// the release.
func (l *Lease) Stop(ctx context.Context) error {
	l.mu.Lock()
	if !l.started || l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	forget := l.forget
	l.mu.Unlock()
	l.stop()
	<-l.done
	l.setHeld(false, time.Time{})
	l.mu.Lock()
	l.holder = ""
	l.mu.Unlock()
	if forget != nil {
		forget()
	}
	if _, err := l.opts.Store.LeaseRelease(ctx, l.opts.Name, l.opts.Holder); err != nil {
		return fmt.Errorf("cluster: release lease %s: %w", l.opts.Name, err)
	}
	return nil
}

// run tries for the lease every Renew; while held it also wakes at the local deadline,
// so a lease whose renewals fail is given up when it runs out, not later, and while
// another node holds it, at that node's expiry, so a dead holder's lease is taken when
// it runs out, not up to a renewal interval later.
func (l *Lease) run(ctx context.Context) {
	defer close(l.done)
	var tried sync.Once
	markTried := func() { tried.Do(func() { close(l.tried) }) }
	defer markTried()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		l.try(ctx)
		markTried()
		timer.Reset(l.nextTry())
	}
}

// nextTry is how long to wait before the next try: a renewal interval, or less when the
// holding runs out sooner (ours, or another node's as last read).
func (l *Lease) nextTry() time.Duration {
	wait := l.opts.Renew
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Clock()
	if l.held {
		wait = min(wait, l.until.Sub(now))
	} else if l.theirs.After(now) {
		// Just past it: the store gives the lease to a caller whose now is at or after
		// the expiry.
		wait = min(wait, l.theirs.Sub(now)+time.Millisecond)
	}
	return max(wait, 0)
}

// try takes or renews the lease once.
func (l *Lease) try(ctx context.Context) {
	start := l.opts.Clock()
	// The call must end before the lease would: an answer later than that is stale. While
	// held, that is the holding's local deadline, so that a call the database leaves
	// hanging (a black hole, no error) cannot keep this node running the duty after
	// another node may have taken it: the call ends there, and the lease is given up.
	limit := l.opts.TTL
	l.mu.Lock()
	if l.held {
		limit = min(limit, l.until.Sub(start))
	}
	l.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, limit)
	row, held, err := l.opts.Store.LeaseAcquire(cctx, store.LeaseAcquireParams{Name: l.opts.Name, Holder: l.opts.Holder, Now: start, TTL: l.opts.TTL})
	cancel()
	if err == nil && ctx.Err() == nil {
		holder := row.Holder
		if !row.ExpiresAt.After(start) {
			holder = "" // expired and not taken: nobody holds it
		}
		l.mu.Lock()
		l.holder, l.theirs = holder, time.Time{}
		if holder != "" && !held {
			l.theirs = row.ExpiresAt
		}
		l.mu.Unlock()
	}
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		// Unknown: keep what we had until its local deadline (checked below and by Held).
		l.opts.Logger.Warn("cluster: lease renewal failed", "lease", l.opts.Name, "error", err)
		l.mu.Lock()
		expired := l.held && !l.opts.Clock().Before(l.until)
		l.mu.Unlock()
		if expired {
			l.setHeld(false, time.Time{})
		}
	case held:
		l.setHeld(true, start.Add(l.opts.TTL))
	default:
		l.setHeld(false, time.Time{})
	}
}

// setHeld records the holding and calls OnChange on a change.
func (l *Lease) setHeld(held bool, until time.Time) {
	l.mu.Lock()
	was := l.held
	l.held, l.until = held, until
	l.mu.Unlock()
	if was != held {
		if held {
			l.opts.Logger.Info("cluster: lease gained", "lease", l.opts.Name, "node", l.opts.Holder)
		} else {
			l.opts.Logger.Info("cluster: lease lost or given up", "lease", l.opts.Name, "node", l.opts.Holder)
		}
		if l.opts.OnChange != nil {
			l.opts.OnChange(held)
		}
	}
}
