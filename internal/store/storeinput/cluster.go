package storeinput

import (
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// NormalizeLeaseAcquire checks a lease request; Now comes back as it is stored.
func NormalizeLeaseAcquire(p store.LeaseAcquireParams) (store.LeaseAcquireParams, error) {
	switch {
	case p.Name == "" || !Key(p.Name):
		return p, errors.New("invalid lease name")
	case p.Holder == "" || !Key(p.Holder):
		return p, errors.New("invalid holder")
	case p.TTL < time.Microsecond: // under a microsecond, the stored resolution, it would expire as it is taken
		return p, fmt.Errorf("time to live %s too short", p.TTL)
	}
	if err := store.CheckTime(p.Now); err != nil {
		return p, fmt.Errorf("now: %w", err)
	}
	if err := store.CheckTime(p.Now.Add(p.TTL)); err != nil {
		return p, fmt.Errorf("expiry: %w", err)
	}
	p.Now = store.NormalizeTime(p.Now)
	return p, nil
}

// NormalizeNode checks a node to register and returns it as it is stored and read back.
func NormalizeNode(n store.Node) (store.Node, error) {
	switch {
	case n.ID == "" || !Key(n.ID):
		return n, errors.New("invalid node id")
	case !Key(n.Address) || !Key(n.Version) || !Key(n.ConfigVersion):
		return n, errors.New("invalid address, version or configuration version")
	}
	for _, t := range []struct {
		name string
		at   *time.Time
	}{{"started at", &n.StartedAt}, {"heartbeat at", &n.HeartbeatAt}} {
		if err := store.CheckTime(*t.at); err != nil {
			return n, fmt.Errorf("%s: %w", t.name, err)
		}
		*t.at = store.NormalizeTime(*t.at)
	}
	n.StoppedAt = nil
	return n, nil
}

// NormalizeNodeHeartbeat checks a heartbeat and returns it as it is stored.
func NormalizeNodeHeartbeat(p store.NodeHeartbeatParams) (store.NodeHeartbeatParams, error) {
	if p.ID == "" || !Key(p.ID) || !Key(p.ConfigVersion) {
		return p, errors.New("invalid node id or configuration version")
	}
	if err := store.CheckTime(p.At); err != nil {
		return p, fmt.Errorf("at: %w", err)
	}
	p.At = store.NormalizeTime(p.At)
	return p, nil
}
