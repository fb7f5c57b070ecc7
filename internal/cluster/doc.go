// Package cluster lets several `junction serve` processes (nodes) share one database.
// Each Node registers itself in the store and heartbeats, so GET /cluster can list the
// nodes, which are alive, which leases each holds and which configuration each runs. A
// Lease is a named duty that must run once per cluster (a flow's schedule or postgres
// source, "flow-source:FLOW"; the retention purges, "retention"): one node at a time
// holds it in the store, renews it while it lives, and another node takes it over
// within the lease's time to live (TTLDefault, 15 s) of the holder's last renewal. On a
// store one process uses (SQLite, Options.Solo) the node frees, at start, the leases its
// previous life left. There is no coordinator of Junction's own:
// the store's conditional write decides (store.ClusterStore).
package cluster
