package inflight

import (
	"context"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	keyPrefix = "junction:webhook:inflight:"
	// nodesKey is a sorted set of the nodes that wrote counts, scored by when they last
	// did (Unix milliseconds): readers look only at nodes that wrote within Expiry.
	nodesKey = "junction:webhook:inflight-nodes"

	// Interval is how often a node writes its counts (when they changed) and reads the
	// others'.
	Interval = 50 * time.Millisecond
	// Expiry is how long a node's counts last without being written again: it rewrites
	// them at least every Expiry/3, so only a dead or cut-off node's expire.
	Expiry = 3 * time.Second
)

// Board is one node's view of the cluster's attempts in flight. Its methods are safe
// for concurrent use.
type Board struct {
	rdb  redis.UniversalClient
	node string
	log  *slog.Logger

	mu      sync.Mutex
	own     map[string]int
	dirty   bool
	written time.Time
	others  map[string]int
	failing bool // the last exchange with Redis failed (logged once per outage)
}

// New returns the board of node; Run must run for it to share anything.
func New(rdb redis.UniversalClient, node string, log *slog.Logger) *Board {
	return &Board{rdb: rdb, node: node, log: log, own: map[string]int{}, others: map[string]int{}}
}

// Set records this node's attempts in flight per endpoint; they are written at the
// next Interval.
func (b *Board) Set(own map[string]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !maps.Equal(own, b.own) {
		b.own, b.dirty = maps.Clone(own), true
	}
}

// AddOthers adds the other nodes' attempts in flight, as last read, to counts.
func (b *Board) AddOthers(counts map[string]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ep, n := range b.others {
		counts[ep] += n
	}
}

// Sync writes this node's counts and reads the others' once. A dispatcher that starts
// calls it before its first claim, so a node joining a busy cluster does not claim
// slots the others hold.
func (b *Board) Sync(ctx context.Context) {
	b.mu.Lock()
	b.dirty = true
	b.mu.Unlock()
	b.exchange(ctx)
}

// Run writes and reads the counts every Interval until ctx ends, then removes this
// node's, so a clean stop frees its slots at once.
func (b *Board) Run(ctx context.Context) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			b.rdb.Del(stopCtx, keyPrefix+b.node)
			return
		case <-t.C:
			b.exchange(ctx)
		}
	}
}

func (b *Board) exchange(ctx context.Context) {
	err := b.write(ctx)
	if err == nil {
		err = b.read(ctx)
	}
	b.noteOutcome(err)
}

// write replaces this node's hash when its counts changed, or refreshes its expiry.
func (b *Board) write(ctx context.Context) error {
	b.mu.Lock()
	own, dirty := b.own, b.dirty
	due := dirty || time.Since(b.written) >= Expiry/3
	b.mu.Unlock()
	if !due {
		return nil
	}
	key := keyPrefix + b.node
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		if len(own) > 0 {
			fields := make([]any, 0, 2*len(own))
			for ep, n := range own {
				fields = append(fields, ep, n)
			}
			p.HSet(ctx, key, fields...)
			p.PExpire(ctx, key, Expiry)
		}
		now := time.Now()
		p.ZAdd(ctx, nodesKey, redis.Z{Score: float64(now.UnixMilli()), Member: b.node})
		// nodes silent for long are dead: keep the set small across restarts
		p.ZRemRangeByScore(ctx, nodesKey, "-inf", strconv.FormatInt(now.Add(-100*Expiry).UnixMilli(), 10))
		return nil
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	if maps.Equal(own, b.own) {
		b.dirty = false
	}
	b.written = time.Now()
	b.mu.Unlock()
	return nil
}

// read sums the hashes of the other nodes that wrote within Expiry.
func (b *Board) read(ctx context.Context) error {
	since := strconv.FormatInt(time.Now().Add(-Expiry).UnixMilli(), 10)
	nodes, err := b.rdb.ZRangeByScore(ctx, nodesKey, &redis.ZRangeBy{Min: since, Max: "+inf"}).Result()
	if err != nil {
		return err
	}
	var gets []*redis.MapStringStringCmd
	_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range nodes {
			if n != b.node {
				gets = append(gets, p.HGetAll(ctx, keyPrefix+n))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	sum := map[string]int{}
	for _, g := range gets {
		for ep, v := range g.Val() {
			if n, err := strconv.Atoi(v); err == nil {
				sum[ep] += n
			}
		}
	}
	b.mu.Lock()
	b.others = sum
	b.mu.Unlock()
	return nil
}

// noteOutcome logs the start and end of an outage once each. While Redis cannot be
// reached the others' counts are dropped: the bound falls back to this node's own.
func (b *Board) noteOutcome(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err != nil && !b.failing:
		b.failing, b.others = true, map[string]int{}
		b.log.Warn("per-endpoint delivery concurrency is per node until Redis answers again", "error", err)
	case err != nil:
		b.others = map[string]int{}
	case b.failing:
		b.failing = false
		b.log.Info("per-endpoint delivery concurrency is cluster-wide again")
	}
}
