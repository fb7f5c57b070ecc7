// Package retry is the one retry of the runtime: one Policy (how many retries, how long
// to wait before each), the defaults of each use in one place (CallDefaults,
// DeliveryDefaults, FlowDefaults, JobDefaults), one loop (Do) on an injectable clock, and the
// classification of retryable outcomes. The configuration writes a retry the same way
// wherever it appears (config.Retry); Policy.With lays it over a use's defaults.
//
// Semantics:
//
//   - `retry: N times` is N retries after the first attempt: Do makes at most N+1 attempts.
//   - Exponential backoff (the default): the delay before retry n (n = 1, 2, …) is
//     Initial × Multiplier^(n-1), randomised by ±Jitter and then capped at Max. Every use
//     sets DefaultJitter (0.25); a Policy built by hand with Jitter 0 has exact delays,
//     and its zero Initial, Multiplier and Max mean 100ms, 2 and 30s.
//   - Constant backoff: every delay is Initial (capped at Max), without jitter.
//   - Linear backoff: the delay before retry n is n × Initial (Initial, 2×Initial,
//     3×Initial, …), capped at Max, without jitter: it grows by the first delay each time.
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
