// Package breaker is the circuit breaker and bulkhead applied to every call of an
// integration: it stops calling an upstream that keeps failing, lets a few probes through
// after a pause to find out whether it recovered, and caps how many calls are in flight.
// It is hand-written because Junction's semantics (a true sliding failure window, a probe
// limit, a bulkhead in every state, generation-checked outcomes) match no library.
//
// Exact semantics:
//
//   - Closed: every call is allowed (subject to the bulkhead). A failure is recorded with
//     its time. With a Window, a failure counts while it is less than Window old: one
//     exactly Window old has left the window (the window is the half-open span
//     (now-Window, now]). With Consecutive, the Window is ignored and a success resets the
//     count to zero; with a Window, successes do not erase failures. When the count reaches
//     Failures the circuit opens.
//   - Open: Allow returns an *OpenError (errors.Is(err, ErrOpen)) whose RetryAfter is the
//     time left until the circuit turns half-open; nothing is called.
//   - Half-open: reached lazily, by the first Allow or State call made at least ResetAfter
//     after opening. At most HalfOpenProbes calls are in flight; more callers get an
//     *OpenError with RetryAfter 0. A probe success closes the circuit and clears the
//     counts; a probe failure opens it again for a fresh ResetAfter.
//   - Generations: every transition (and Reset) starts a new generation. An outcome is
//     applied only if it belongs to the current generation, so a slow call that started
//     before the circuit changed state cannot close, open or count against the new state.
//     A stale outcome still frees its bulkhead slot.
//   - Bulkhead: with MaxConcurrent > 0, a call that would make more than MaxConcurrent
//     calls in flight (in any state, probes included) fails at once with ErrBulkheadFull.
//     The circuit's own refusal (open, or every probe slot taken) takes precedence, since
//     it says more about when to come back.
//   - OnStateChange runs after each transition, never under the breaker's lock, and in
//     the order the transitions happened (one goroutine delivers queued notifications), so
//     the callback may itself call the breaker.
package breaker
