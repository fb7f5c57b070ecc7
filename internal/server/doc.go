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
// Every error response is an RFC 9457 application/problem+json document whose type is
// https://junction.dev/problems/<kind> (see Kind). Request bodies are decoded strictly
// (see decodeJSON and checkBody): size-limited, JSON only, I-JSON (valid UTF-8, no lone
// surrogates, no repeated member names), unknown fields, null members and trailing data
// rejected, with errors that name the offending field.
//
// Token self-revocation: DELETE /tokens/{id} with the token being used for the request
// is refused with 403. Junction mints a bootstrap admin token only while the token table
// is empty, so an admin that revoked its own last admin token would lock everyone out of
// the API; revoke a token from another admin token instead.
package server
