// Package retry decides whether a failed call to an integration may be tried again, and
// when. It turns the `retry` and `retry_delays` settings into a per-call Schedule, tells
// retryable outcomes (throttling, gateway errors, connection failures, per-attempt
// timeouts) from final ones, and runs the loop in Do on an injectable clock.
//
// Semantics:
//
//   - `retry: N times` is N retries after the first attempt: Do makes at most N+1 attempts.
//   - Exponential backoff (the default): the delay before retry n (n = 1, 2, …) is
//     Initial × Multiplier^(n-1), randomised by ±Jitter and then capped at Max. Defaults:
//     Initial 100ms, Multiplier 2, Max 30s; the Jitter field's zero value means no jitter,
//     and FromConfig sets DefaultJitter (0.25) because the configuration has no jitter
//     setting.
//   - Constant backoff: every delay is Initial (capped at Max), without jitter.
//   - `retry_delays`: the explicit schedule wins over Backoff and is used exactly — no
//     jitter and no Max cap, since the operator wrote each value on purpose. With Attempts
//     0 there is one retry per delay; with more Attempts than delays the last delay repeats.
//   - Retryable statuses default to 429, 502, 503 and 504. Transport errors are retryable
//     when the request cannot have been processed (dial failures, refused or reset
//     connections, EOF before a response) or an attempt timed out; a cancellation never is.
//     Whether the caller's own context ended is not visible in an error, so Do checks the
//     caller's context itself.
//   - Before each retry Do waits max(schedule delay, Retry-After). A wait that would end
//     after the caller's deadline (compared on the injected clock) is not started: Do
//     returns the last outcome instead. A cancelled context ends a wait at once.
//   - MethodRetryable: GET, HEAD, OPTIONS, PUT and DELETE are idempotent; any other
//     method is retried only when the request carries an idempotency key.
package retry
