// Package handler runs the configuration's event handlers, `on "user.created" do
// integration|webhook|emit|workflow "target" [async]`.
//
// Durability: when the webhook service stores an event (webhook.Service.Publish, every
// path: POST /events, flows' webhook sinks, event routes, emitted events), it asks this
// package's Set for the executions of the handlers the event matches and writes them in
// the event's own transaction (store.HandlerExecution). The Runner, a
// lifecycle.Component of the runtime, claims due executions with a lease, runs them,
// and records the outcome; a failure is retried on the webhook delivery schedule (the
// one retry policy, policy/retry) and after the last attempt the execution is dead:
// kept, listed by GET /handlers/executions?status=dead, retried by hand. A process
// killed mid-run leaves its executions to be claimed again once the lease lapses, so a
// handler runs at least once per event; what it does is keyed by the execution id (the
// integration's idempotency key, the emitted event's id, the webhook delivery's id) so
// a second run is recognised downstream.
//
// `do workflow` (and a workflow's `trigger event "…"`) starts a run of the workflow with
// the event's data as input; the execution is done once the run is stored (its ID is
// derived from the execution's, so it starts once). `async` changes nothing: every handler runs from
// its durable record, after the event is stored and acknowledged (see the README).
//
// Emitted events carry how deep in a chain they are (a context value read by Set); an
// event more than MaxDepth emits deep gets dead executions saying so, so handlers that
// emit each other in a loop stop.
package handler
