package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// NodeRetentionDefault is how long a node that stopped heartbeating stays listed before
// a node's start or hourly sweep deletes its row: long enough to see which node died
// overnight, short enough that restarts under new ids do not pile up.
const NodeRetentionDefault = 24 * time.Hour

// pruneEvery is how often a running node sweeps out nodes gone longer than the retention.
const pruneEvery = time.Hour

// Options configure a Node.
type Options struct {
	Store Store // required
	// ID names the node in the store and in leases; NewID() when empty. A fixed id (a
	// pod name) makes a restarted node replace its own row.
	ID            string
	Address       string // where its API answers, as others should call it
	Version       string // the binary's version
	ConfigVersion string // see SetConfigVersion
	// TTL is the leases' time to live, and how long a node may miss heartbeats before
	// it is shown as down; TTLDefault when zero.
	TTL time.Duration
	// Renew is how often the node heartbeats and its leases renew; TTL/3 when zero.
	Renew time.Duration
	// Retention is how long a node gone silent stays listed; NodeRetentionDefault when zero.
	Retention time.Duration
	// SharedState says, per kind of state, whether it is shared through Redis or kept
	// per node ("circuits": "per-node"); GET /cluster shows it.
	SharedState map[string]string
	// Solo says the store admits one node (SQLite): Start frees every lease held by
	// another node id, which can only be this process's earlier life (killed before it
	// released them), so a restart does not wait out their time to live.
	Solo   bool
	Clock  func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
}

// Node is this process as a member of the cluster. Start registers it and heartbeats;
// Stop gives up its leases and marks it stopped. A Node is started once.
type Node struct {
	opts Options

	mu            sync.Mutex
	configVersion string
	leases        []*Lease
	beatNow       chan struct{}
	stop          context.CancelFunc
	done          chan struct{}
	started       bool
}

// NewID makes a node id: the host name and a random suffix, so that two processes on
// one host differ and a log line's node can be found by its host.
func NewID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "junction"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// New validates opts and returns a node not yet registered.
func New(opts Options) (*Node, error) {
	if opts.Store == nil {
		return nil, errors.New("cluster: Store is required")
	}
	if opts.ID == "" {
		opts.ID = NewID()
	}
	if opts.TTL == 0 {
		opts.TTL = TTLDefault
	}
	if opts.Renew == 0 {
		opts.Renew = opts.TTL / renewDivisor
	}
	if opts.TTL < 0 || opts.Renew <= 0 || opts.Renew >= opts.TTL {
		return nil, fmt.Errorf("cluster: renew interval %s must be positive and shorter than the lease time to live %s", opts.Renew, opts.TTL)
	}
	if opts.Retention == 0 {
		opts.Retention = NodeRetentionDefault
	}
	if opts.Retention < opts.TTL {
		return nil, fmt.Errorf("cluster: node retention %s must be at least the lease time to live %s", opts.Retention, opts.TTL)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Node{opts: opts, configVersion: opts.ConfigVersion, beatNow: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

// ID is the node's id.
func (n *Node) ID() string { return n.opts.ID }

// TTL is the leases' time to live.
func (n *Node) TTL() time.Duration { return n.opts.TTL }

// Start registers the node, sweeps out nodes gone longer than the retention, and
// heartbeats every Renew until Stop. It fails when the node cannot be registered.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return nil
	}
	if err := n.register(ctx); err != nil {
		return err
	}
	n.prune(ctx)
	if n.opts.Solo {
		n.freeStale(ctx)
	}
	n.started = true
	ctx, n.stop = context.WithCancel(context.WithoutCancel(ctx))
	go n.heartbeat(ctx)
	return nil
}

// register writes the node's row as started now; n.mu is held.
func (n *Node) register(ctx context.Context) error {
	now := n.opts.Clock()
	err := n.opts.Store.NodeRegister(ctx, store.Node{ID: n.opts.ID, Address: n.opts.Address, Version: n.opts.Version,
		ConfigVersion: n.configVersion, StartedAt: now, HeartbeatAt: now})
	if err != nil {
		return fmt.Errorf("cluster: register node %s: %w", n.opts.ID, err)
	}
	return nil
}

// freeStale releases the leases held by other node ids (see Options.Solo).
func (n *Node) freeStale(ctx context.Context) {
	leases, err := n.opts.Store.LeaseList(ctx)
	if err != nil {
		n.opts.Logger.Warn("cluster: reading the leases of an earlier run failed; they are taken when they expire", "error", err)
		return
	}
	for _, l := range leases {
		if l.Holder == n.opts.ID {
			continue
		}
		if _, err := n.opts.Store.LeaseRelease(ctx, l.Name, l.Holder); err != nil {
			n.opts.Logger.Warn("cluster: freeing a lease of an earlier run failed; it is taken when it expires", "lease", l.Name, "error", err)
		}
	}
}

func (n *Node) prune(ctx context.Context) {
	if k, err := n.opts.Store.NodePrune(ctx, n.opts.Clock().Add(-n.opts.Retention)); err != nil {
		n.opts.Logger.Warn("cluster: sweeping out old nodes failed", "error", err)
	} else if k > 0 {
		n.opts.Logger.Info("cluster: nodes silent longer than the retention removed", "nodes", k, "retention", n.opts.Retention)
	}
}

// heartbeat writes the node's sign of life every Renew, and at once after
// SetConfigVersion.
func (n *Node) heartbeat(ctx context.Context) {
	defer close(n.done)
	ticker := time.NewTicker(n.opts.Renew)
	defer ticker.Stop()
	lastPrune := n.opts.Clock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-n.beatNow:
		}
		n.mu.Lock()
		version := n.configVersion
		n.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, n.opts.TTL)
		err := n.opts.Store.NodeHeartbeat(cctx, store.NodeHeartbeatParams{ID: n.opts.ID, At: n.opts.Clock(), ConfigVersion: version})
		if errors.Is(err, store.ErrNotFound) {
			// Swept out while this node could not heartbeat (a long database outage).
			n.mu.Lock()
			err = n.register(cctx)
			n.mu.Unlock()
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			n.opts.Logger.Warn("cluster: heartbeat failed", "node", n.opts.ID, "error", err)
		}
		if now := n.opts.Clock(); now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			n.prune(ctx)
		}
	}
}

// SetConfigVersion records the configuration the node now runs (after a reload) and
// heartbeats at once so GET /cluster shows it.
func (n *Node) SetConfigVersion(v string) {
	n.mu.Lock()
	n.configVersion = v
	n.mu.Unlock()
	select {
	case n.beatNow <- struct{}{}:
	default:
	}
}

// ConfigVersion is the configuration version the node runs.
func (n *Node) ConfigVersion() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.configVersion
}

// Lease makes a lease held by this node with the node's timing and starts trying for
// it at once. The node's Stop gives it up, unless the lease's own Stop did first (a flow
// stopped, a runtime replaced on reload): the node then forgets it.
func (n *Node) Lease(ctx context.Context, name string, onChange func(held bool)) (*Lease, error) {
	l, err := NewLease(LeaseOptions{Store: n.opts.Store, Name: name, Holder: n.opts.ID, TTL: n.opts.TTL, Renew: n.opts.Renew,
		OnChange: onChange, Clock: n.opts.Clock, Logger: n.opts.Logger})
	if err != nil {
		return nil, err
	}
	l.forget = func() { n.forget(l) }
	n.mu.Lock()
	n.leases = append(n.leases, l)
	n.mu.Unlock()
	l.Start(ctx)
	return l, nil
}

// forget drops a stopped lease from the node's list.
func (n *Node) forget(l *Lease) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leases = slices.DeleteFunc(n.leases, func(x *Lease) bool { return x == l })
}

// Stop gives up the node's leases (so others take them at once), stops heartbeating and
// marks the node stopped. ctx bounds the store calls.
func (n *Node) Stop(ctx context.Context) error {
	n.mu.Lock()
	leases := n.leases
	n.leases = nil
	started := n.started
	n.started = false
	n.mu.Unlock()
	var errs []error
	for _, l := range leases {
		errs = append(errs, l.Stop(ctx))
	}
	if !started {
		return errors.Join(errs...)
	}
	n.stop()
	<-n.done
	if err := n.opts.Store.NodeStop(ctx, n.opts.ID, n.opts.Clock()); err != nil {
		errs = append(errs, fmt.Errorf("cluster: mark node %s stopped: %w", n.opts.ID, err))
	}
	return errors.Join(errs...)
}
