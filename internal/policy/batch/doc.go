// Package batch coalesces concurrent single calls into calls of a batch operation, for
// `batching { max_batch_size, max_delay }`: callers Submit one request each and wait, and
// the Batcher sends their requests together and hands each caller its own response.
//
// Semantics:
//
//   - A batch starts with its first request and is sent when it holds MaxSize requests or
//     when MaxDelay has passed on the injected clock since that first request, whichever
//     comes first. Batches are sent concurrently; a slow Send does not hold up the next.
//   - Send returns one response per request, in the order of the requests; response i
//     goes to the caller of request i. A Send error, or a number of responses different
//     from the number of requests, is an error for every caller of that batch.
//   - Send runs on a context no caller can cancel (one caller giving up must not fail the
//     others' batch); Send bounds its own duration, e.g. with the integration's timeout.
//   - A caller whose context ends before its batch is sent is taken out of the batch and
//     gets ctx.Err(); the batch keeps the deadline its first request set. After the batch
//     is sent, such a caller just stops waiting (the request was made; its response is
//     dropped).
//   - Close sends the pending batch at once, waits for every Send in flight and stops the
//     timer goroutine; Submit after Close returns ErrClosed.
package batch
