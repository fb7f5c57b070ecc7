package cluster

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// The states of a node in Status.
const (
	NodeUp      = "up"      // heartbeating
	NodeDown    = "down"    // no heartbeat for longer than the lease time to live: dead or cut off
	NodeStopped = "stopped" // stopped cleanly
)

// Status is the cluster as GET /cluster shows it.
type Status struct {
	Nodes []NodeStatus `json:"nodes"`
	// SharedState says, per kind of state, whether the nodes share it through Redis
	// ("redis") or each keeps its own ("per-node").
	SharedState map[string]string `json:"shared_state"`
	// LeaseTTL is how long a lease outlives its holder's last renewal, in seconds.
	LeaseTTL float64 `json:"lease_ttl_seconds"`
}

// NodeStatus is one node in Status.
type NodeStatus struct {
	ID            string     `json:"id"`
	Address       string     `json:"address"`
	Version       string     `json:"version"`
	State         string     `json:"state"` // up, down or stopped
	Self          bool       `json:"self"`  // the node that answered
	StartedAt     time.Time  `json:"started_at"`
	LastHeartbeat time.Time  `json:"last_heartbeat"`
	StoppedAt     *time.Time `json:"stopped_at,omitempty"`
	Leases        []string   `json:"leases"` // the unexpired leases it holds, by name
	ConfigVersion string     `json:"config_version"`
	// ConfigDiffers: the node is up and runs another configuration than most up nodes
	// (or, with no majority, than some other up node).
	ConfigDiffers bool `json:"config_differs"`
}

// Status reads the nodes and leases from the store.
func (n *Node) Status(ctx context.Context) (Status, error) {
	nodes, err := n.opts.Store.NodeList(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("cluster: status: %w", err)
	}
	leases, err := n.opts.Store.LeaseList(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("cluster: status: %w", err)
	}
	st := status(nodes, leases, n.opts.Clock(), n.opts.TTL, n.opts.ID)
	st.SharedState = maps.Clone(n.opts.SharedState)
	if st.SharedState == nil {
		st.SharedState = map[string]string{}
	}
	return st, nil
}

// status puts the nodes and leases together as seen at now: a node silent for longer
// than ttl is down, a lease past its expiry is held by nobody.
func status(nodes []store.Node, leases []store.Lease, now time.Time, ttl time.Duration, self string) Status {
	held := map[string][]string{}
	for _, l := range leases {
		if l.ExpiresAt.After(now) {
			held[l.Holder] = append(held[l.Holder], l.Name)
		}
	}
	out := Status{Nodes: make([]NodeStatus, 0, len(nodes)), LeaseTTL: ttl.Seconds()}
	versions := map[string]int{} // configuration version → up nodes running it
	for _, nd := range nodes {
		ns := NodeStatus{ID: nd.ID, Address: nd.Address, Version: nd.Version, Self: nd.ID == self,
			StartedAt: nd.StartedAt, LastHeartbeat: nd.HeartbeatAt, StoppedAt: nd.StoppedAt,
			Leases: held[nd.ID], ConfigVersion: nd.ConfigVersion}
		switch {
		case nd.StoppedAt != nil:
			ns.State = NodeStopped
		case now.Sub(nd.HeartbeatAt) > ttl:
			ns.State = NodeDown
		default:
			ns.State = NodeUp
			versions[nd.ConfigVersion]++
		}
		if ns.Leases == nil {
			ns.Leases = []string{}
		}
		out.Nodes = append(out.Nodes, ns)
	}
	if len(versions) < 2 {
		return out
	}
	// The version most up nodes run, if one is run by more than any other.
	majority, best, tie := "", 0, false
	for v, c := range versions {
		switch {
		case c > best:
			majority, best, tie = v, c, false
		case c == best:
			tie = true
		}
	}
	for i := range out.Nodes {
		ns := &out.Nodes[i]
		ns.ConfigDiffers = ns.State == NodeUp && (tie || ns.ConfigVersion != majority)
	}
	return out
}
