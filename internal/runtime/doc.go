// Package runtime builds Junction's live objects from one validated configuration and
// runs them: integration clients (the gateway), the webhook service with its delivery
// workers and inbound sources, event routes, and flows, joined by a bridge that lets
// flows publish events, call integrations and receive HTTP. Build makes a Runtime
// without side effects; Start and Stop run and end its long-running parts, which all
// have the one lifecycle.Component shape.
//
// A Host holds the running runtime and is what the HTTP server serves. A reload builds
// a whole new runtime beside the running one (a configuration it cannot build changes
// nothing), stops the old one's workers, swaps the two atomically, starts the new one,
// and retires the old one's integrations once the calls in flight on them have ended.
// Integrations whose settings did not change keep their state (breaker, statistics,
// cache, rate-limit counters) across the swap.
package runtime
