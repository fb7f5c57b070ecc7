// Package server is Junction's HTTP management API: health and readiness probes,
// Prometheus metrics, integration status and API token management.
//
// Routing uses the standard library ServeMux with method/path patterns. The handler
// chain, outermost first, is:
//
//	observe       metrics and one access-log line per request
//	recoverPanics a panicking handler becomes a 500 problem, never a crash
//	authenticate  every path except /healthz, /readyz and /metrics needs a bearer
//	              token; checked before routing, so unknown paths answer 401 too
//	dispatch      the mux; its own 404 and 405 answers are rewritten as problems
//	route         per-route role check (admin ⊇ user), path values checked as
//	              identifiers (see identifierProblem), then the handler
//
// Handlers return an error instead of writing one; problemFor (errors.go) is the one
// place that turns any error into an RFC 9457 application/problem+json document whose
// type is https://junction.dev/problems/<kind> (see Kind): a Problem a handler returns,
// the runtime's typed errors and sentinels, and the classes of package errkind (not
// found, conflict, unavailable) that the store's errors carry; anything else is a 500
// that shows nothing of the error and logs it with the request's id. Request bodies are
// decoded strictly (see decodeJSON and checkBody): size-limited, JSON only, I-JSON (valid
// UTF-8, no lone surrogates, no repeated member names), unknown fields, null members and
// trailing data rejected, with errors that name the offending field.
//
// The server reaches the runtime through narrow interfaces (Tokens, Gateway, Webhooks,
// Flows, a readiness check) and never the store: rules such as "a token cannot revoke
// itself" belong to the services, so they hold for every caller, not just for HTTP.
package server
