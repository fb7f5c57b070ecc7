// Package inflight shares, through Redis, how many webhook delivery attempts each node
// of a cluster has running per endpoint, so that per_endpoint_concurrency bounds an
// endpoint's attempts across the cluster rather than on each node.
//
// Each node writes its own counts to a hash of its own (junction:webhook:inflight:NODE)
// that expires unless rewritten, so a killed node's attempts stop counting within
// Expiry; it reads the other nodes' hashes in the background. A dispatcher adds the
// others' counts to its own before it claims, so reading them costs a claim nothing.
// The bound is therefore kept to within about two Intervals: two nodes that claim in
// the same instant can both take an endpoint's last slot, and an attempt that ended
// elsewhere frees its slot here an Interval later. Without Redis the bound is per node
// (GET /cluster says which).
package inflight
