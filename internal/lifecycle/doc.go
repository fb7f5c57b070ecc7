// Package lifecycle is the one shape of every long-running part of Junction's runtime
// (integration clients with background batchers, webhook delivery workers, inbound
// sources, flows, event routes, and what later capabilities add): built without side
// effects, then Start, then Stop. The runtime starts its components in order and stops
// them in reverse, so a reload can build a whole new runtime beside the running one and
// swap them.
package lifecycle
