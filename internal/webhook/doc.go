// Package webhook is Junction's webhook platform: customers' endpoints, publishing
// events with fan-out to every subscribed endpoint, a durable delivery queue in the store
// with signed (Standard Webhooks) attempts on the one retry schedule (policy/retry), a per-endpoint circuit
// breaker, a dead-letter queue with retention and replay, a retention of events and
// their finished deliveries (Options.EventRetention), and the receiving side
// (verified inbound webhooks, see Ingest; what arrived and what was refused, see
// received.go). Endpoints are made through the API or
// declared in the configuration (`webhook NAME { … }`, see declared.go): those are owned
// by it, synced on every start and reload, and read-only in the API.
//
// Delivery is at least once: a delivery is stored before the event is acknowledged and
// leased while it is attempted, so a crash only delays it. Receivers deduplicate with
// the webhook-id header, which is the delivery id on every attempt. Deliveries to one
// endpoint are not ordered.
package webhook
