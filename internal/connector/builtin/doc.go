// Package builtin holds the connectors that connect flows to Junction itself rather than
// to an outside system: events (a source of internal events), http (a source of POSTs to
// /in/{path}), integration (a sink calling an integration operation per message),
// webhook (a sink publishing webhook events) and log (a sink writing to the log).
//
// Each declares its options once in a spec next to its constructor; docs/connectors.md
// is generated from them.
package builtin
