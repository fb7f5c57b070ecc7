// Package builtin holds the connectors that connect flows to Junction itself rather than
// to an outside system:
//
//   - events (source): internal events — inbound webhooks, POST /events, circuit events.
//     Options: events (patterns such as "order.*"; default every event). The message is
//     the event's data; header event_type. Events are not stored for flows: one that
//     arrives while the flow is stopped is not seen by it.
//   - http (source): POST /in/{path}. Options: path. The request is answered 202 only
//     after the message was delivered or safely in the dead-letter queue; 503 when the
//     flow handed it back, so the caller sends it again — the caller's retry is what makes it
//     at-least-once.
//   - integration (sink): calls an integration operation per message, which is also how
//     flows write to HTTP APIs and S3-compatible storage. Options: integration,
//     operation, params ({name: "$.path" or literal}), body ("$" sends the message as the
//     raw body of a body_type: binary operation, e.g. an S3 put).
//   - webhook (sink): publishes the message as a webhook event to Junction's own
//     fan-out. Options: event_type (required), id ("$.path" of an event id, so a
//     redelivered message does not make a second event).
//   - log (sink): writes each message to Junction's log. Options: level (info).
package builtin
