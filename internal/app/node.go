package app

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"time"

	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
)

// RetentionLease is the lease of the node that purges what is past its retention.
const RetentionLease = "retention"

// startNode registers this process among the nodes sharing the store and starts its
// heartbeat. The address it advertises is --advertise-addr, else the bound one.
func startNode(ctx context.Context, opts Options, st store.Store, redis bool, bound net.Addr, version string) (*cluster.Node, error) {
	addr := opts.AdvertiseAddr
	if addr == "" {
		addr = bound.String()
	}
	node, err := cluster.New(cluster.Options{
		Store: st, ID: opts.NodeID, Address: addr, Version: opts.Version, ConfigVersion: version,
		TTL: opts.LeaseTTL, Renew: opts.LeaseRenew, SharedState: sharedState(redis), Logger: opts.Logger,
		// SQLite serves one process: leases left by its previous life are its own.
		Solo: backend.SQLite(opts.DatabaseURL),
	})
	if err != nil {
		return nil, err
	}
	if err := node.Start(ctx); err != nil {
		return nil, err
	}
	return node, nil
}

// sharedState says which state the nodes share through Redis and which each keeps on
// its own. Integration circuits, rate limits, response caches and per-endpoint delivery
// concurrency (webhook/inflight) use Redis when it is set; the webhook breaker lives in
// the database with its endpoint.
// The events flow source reads the events from the database, Redis or not: one node (the
// holder of the flow's source lease) reads them from a cursor kept per flow.
func sharedState(redis bool) map[string]string {
	shared := "per-node"
	if redis {
		shared = "redis"
	}
	return map[string]string{
		"circuits":             shared,
		"webhook_breaker":      "database", // the endpoint's circuit columns (migration 00004)
		"delivery_concurrency": shared,
		"rate_limits":          shared,
		"cache":                shared,
		"events_source":        "database", // the events log and per-flow cursors (migration 00017)
	}
}

// configVersion names the configuration files' contents: the first 12 hex digits of a
// SHA-256 over each file's length and bytes, in the order given. Nodes started from the
// same files report the same version wherever the files are; "" when there are none,
// and "unreadable" when one cannot be read (the loader has said why).
func configVersion(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	h := sha256.New()
	for _, p := range paths {
		src, err := config.ReadFile(p)
		if err != nil {
			return "unreadable"
		}
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(src)))
		h.Write(n[:])
		h.Write(src)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
