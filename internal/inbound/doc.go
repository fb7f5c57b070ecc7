// Package inbound verifies webhooks that third parties send to Junction (configuration
// `source NAME { verify: …, secret: … }`, received at POST /ingest/NAME), and names each
// delivery so duplicates can be dropped.
//
// A Verifier checks one request: its headers and the exact body bytes as received (the
// caller reads and bounds the body first; any re-encoding breaks every scheme). Verify
// returns the provider's delivery id, or an error. Every way a request can fail —
// missing header, malformed header, timestamp outside the tolerance, no matching
// signature, no delivery id — wraps ErrSignature and says which, for the log; the
// sender need only learn that the request was refused. An error that does not wrap ErrSignature is the
// Verifier's own misconfiguration (no secret, unknown scheme, bad header name), which
// is a server-side problem.
//
// The body is parsed (Stripe's event id) only after its signature has been checked, so
// unauthenticated input never reaches the JSON decoder. Secrets never appear in errors,
// and neither do the expected signatures.
//
// # Secrets
//
// Secrets holds one or more secrets; a request verifies if it matches any of them, so a
// source can rotate without losing deliveries. For standard_webhooks each is the
// "whsec_<base64>" secret the provider shows, and the HMAC key is its base64-decoded
// part. For github, stripe and hmac each is the secret exactly as the provider shows it
// ("whsec_…" for Stripe included), and the HMAC key is its bytes, unchanged.
//
// # Schemes
//
// standard_webhooks (https://www.standardwebhooks.com; Svix and others):
//
//	webhook-id: <id>
//	webhook-timestamp: <unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> …
//
// checked by internal/webhook/signing.Verify (see that package for the details). The
// timestamp must be within Tolerance of the clock, in either direction. Delivery id:
// webhook-id.
//
// github (https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries):
//
//	X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
//
// compared in constant time. GitHub signs no timestamp, so nothing limits replays but
// the dedupe on the delivery id: X-GitHub-Delivery, which is required.
//
// stripe (https://docs.stripe.com/webhooks#verify-manually):
//
//	Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=…][,v0=…]
//
// Entries are split on "," and each on its first "="; exactly one t is required (digits
// only), every v1 is tried (Stripe sends two during a secret roll), v0 and unknown keys
// are ignored. The timestamp must be within Tolerance of the clock in either direction
// (Stripe's own libraries check only the past side; a timestamp in the future is as
// suspect). Delivery id: the event's "id" member in the JSON body (evt_…), which must be
// a non-empty string.
//
// hmac (a provider's own body signature):
//
//	<Header>: <digest>[, <digest>…]
//
// where each digest is "<algorithm>=<hex>" ("sha256=…"; the prefix is matched without
// regard to case), bare hex, or base64 (standard or URL alphabet, padded or not) of
// HMAC-<algorithm>(secret, body); entries are separated by ",", which no form contains,
// and any matching entry verifies. Algorithm is sha256 (the default) or sha512. Nothing
// limits replays but the dedupe on the delivery id: the value of IDHeader when set and
// present, otherwise the lower-case hex SHA-256 of the body (so an identical redelivery
// is still recognised).
//
// Delivery ids longer than 255 bytes or containing control characters are refused, as
// they would be stored and logged.
package inbound
