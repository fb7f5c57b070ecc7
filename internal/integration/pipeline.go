package integration

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/junctionhq/junction/internal/wsclient"
)

// The pipeline of one logical call is compiled once per integration and operation, when
// the runtime is built: an ordered list of stages, each wrapping the rest of the
// pipeline (failsafe-go's With(fallback, retry, breaker) composition). A stage that a
// configuration does not use is left out of the list, so a call pays only for its
// policies, and no stage reads the configuration model while calls run.
//
// The order, outermost first (the README's "Policies" section documents it):
//
//	observe      deadline, health and metrics of the whole call           stage_observe.go
//	idempotency  the key every attempt of the logical call carries         stage_idempotency.go
//	fallback     answers a failure of everything below it                  stage_fallback.go
//	cache        a fresh hit answers; a miss is shared, a success stored   stage_cache.go
//	contract     GraphQL errors fail the call; `returns` is checked        stage_contract.go
//	retry        repeats the attempt below it with back-off                stage_retry.go
//	rate limit   per attempt: wait for a slot or refuse                    stage_ratelimit.go
//	breaker      per attempt: open circuit or full bulkhead refuses        stage_breaker.go
//	timeout      per attempt: the attempt's own deadline                   stage_timeout.go
//	auth         per attempt: credentials, send, 401 refresh (the end)     stage_auth.go
//	socket       instead of auth for a websocket integration: send the    stage_socket.go
//	             message, await the reply that matches it (the end)
//
// Read top-down this is the README's list: credentials (resolved at build time, applied
// per attempt), idempotency key, cache lookup, per attempt rate limit, breaker and the
// request with its timeout, retry, response check, then cache store or fallback on the
// way back out. Each stage's file says why it sits where it does.

// handler runs the rest of the pipeline for one exchange.
type handler func(ctx context.Context, x *exchange) (*Result, error)

// stage is one policy of the pipeline: wrap returns a handler that does the stage's part
// around next, the rest of the pipeline. wrap runs once, when the pipeline is compiled.
type stage interface {
	wrap(next handler) handler
}

// compose builds the pipeline from its stages, outermost first, leaving out nil ones
// (stages the configuration does not ask for); the last stage is the one that sends (it
// is given a nil next).
func compose(stages ...stage) handler {
	var h handler
	for i := len(stages) - 1; i >= 0; i-- {
		if stages[i] != nil {
			h = stages[i].wrap(h)
		}
	}
	return h
}

// exchange is one logical call on its way through the stages: the request, ready to send
// but for credentials, and what the stages learnt about it.
type exchange struct {
	op     *operation
	method string
	url    *url.URL
	header http.Header
	body   []byte

	reply      *wsclient.Match // what answers a websocket operation's message; nil for HTTP calls
	callerKey  string          // the caller's idempotency key, "" when none
	idempotent bool            // carries an idempotency key (set by the idempotency stage)
	cacheKey   string          // set by the cache stage when the call is cacheable
	sent       int             // requests that left for the upstream (counted by the auth stage)
	attempt    int             // the retry stage's current attempt, from 1 (0 without a retry stage)
	// presignFor is how long a presigned URL stays valid (internal operations only).
	presignFor time.Duration
}

// Result is the answer to a call: the upstream's status, headers and body, and what the
// policies did.
type Result struct {
	Status   int
	Header   http.Header
	Body     []byte
	Attempts int    // upstream requests made for this caller (0 for cache hits and shared calls)
	Cache    string // hit, miss, stale (served as fallback) or bypass (not cacheable)
	Circuit  string // closed, open or half-open after the call
	Fallback string // "", "cache" or "default"
	// ContractMismatches lists how the response differs from the declared `returns`.
	ContractMismatches []string
}

// The cache outcomes of a call (header X-Junction-Cache).
const (
	CacheHit    = "hit"
	CacheMiss   = "miss"
	CacheStale  = "stale"
	CacheBypass = "bypass"
)
