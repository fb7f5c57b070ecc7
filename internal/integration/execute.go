package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/breaker"
	"github.com/junctionhq/junction/internal/policy/cache"
	"github.com/junctionhq/junction/internal/policy/ratelimit"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/redact"
)

// The pipeline of one logical call, in this order (the README documents it):
//
//  1. credentials are resolved (at start-up) and applied to every attempt
//  2. idempotency key: the caller's, else one generated for the whole logical call
//  3. cache lookup (GET with a TTL, or with `fallback: cache`): a fresh hit answers;
//     concurrent misses of one key make a single upstream call
//  4. per attempt: rate limit (wait while the deadline allows, else 429), circuit breaker
//     (open → no call), then the upstream request with the attempt's own timeout; a 401
//     refreshes OAuth2 credentials once
//  5. retry on retryable outcomes with back-off and Retry-After, POST/PATCH only with an
//     idempotency key
//  6. response check: GraphQL errors fail the call; the `returns` contract is checked
//  7. a success is cached; a failure (circuit open, unreachable, timeout, 5xx) is answered
//     by the fallback, if one is configured
//
// Rate limit and breaker are consulted on every attempt, because every attempt is a
// request the upstream sees and a failure it may be suffering from.

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

// retryableStatuses are retried by default (B5).
var retryableStatuses = []int{429, 502, 503, 504}

func (c *client) call(ctx context.Context, op *config.Operation, params map[string]any, co CallOptions) (*Result, error) {
	if c.misconfigured != "" {
		return nil, &Error{Kind: KindMisconfigured, Integration: c.cfg.Name, Operation: op.Name, Detail: "integration is misconfigured: " + c.misconfigured}
	}
	if op.Method == config.MethodInternal {
		return nil, &Error{Kind: KindNotImplemented, Integration: c.cfg.Name, Operation: op.Name, Detail: "method: internal operations are computed by Junction and none is implemented yet"}
	}
	req, err := c.prepare(op, params, co.Body)
	if err != nil {
		return nil, err
	}
	if c.batcher != nil && c.batcher.handles(op) {
		return c.batcher.submit(ctx, req)
	}
	return c.execute(ctx, req, co.IdempotencyKey)
}

func (c *client) forward(ctx context.Context, fr ForwardRequest) (*Result, error) {
	if c.misconfigured != "" {
		return nil, &Error{Kind: KindMisconfigured, Integration: c.cfg.Name, Operation: "proxy", Detail: "integration is misconfigured: " + c.misconfigured}
	}
	if !slices.Contains(ForwardMethods, fr.Method) {
		return nil, &Error{Kind: KindInvalidParams, Integration: c.cfg.Name, Operation: "proxy", Detail: fmt.Sprintf("method %s is not forwarded; allowed: %s", fr.Method, strings.Join(ForwardMethods, ", "))}
	}
	u, err := c.forwardURL(fr)
	if err != nil {
		return nil, &Error{Kind: KindInvalidParams, Integration: c.cfg.Name, Operation: "proxy", Detail: err.Error()}
	}
	// The caller adds headers; it never replaces the integration's own (static headers
	// here, credentials when each attempt is sent).
	header := make(http.Header, len(fr.Header)+len(c.staticHeaders))
	for k, vs := range fr.Header {
		header[k] = slices.Clone(vs)
	}
	for k, vs := range c.staticHeaders {
		header[k] = slices.Clone(vs)
	}
	req := &request{operation: "proxy", method: fr.Method, url: u, header: header, body: fr.Body, successCode: successCodes(nil)}
	return c.execute(ctx, req, "")
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", redact.URL(s)) // a base URL may hold a key
	}
	return u, nil
}

// execute runs the pipeline and records the outcome in health and metrics.
func (c *client) execute(ctx context.Context, req *request, idempotencyKey string) (*Result, error) {
	start := c.rt.opts.Clock.Now()
	ctx, cancel := deadline(ctx)
	defer cancel()
	res, err := c.pipeline(ctx, req, idempotencyKey)
	if err != nil {
		err = c.scrub(err)
	}
	elapsed := c.rt.opts.Clock.Now().Sub(start)
	c.observe(req, res, err, start, elapsed)
	if res != nil {
		res.Circuit = c.circuitState()
	}
	return res, err
}

func (c *client) pipeline(ctx context.Context, req *request, idempotencyKey string) (*Result, error) {
	hasKey := c.idempotencyKey(req, idempotencyKey)
	ttl, cacheable := c.cachePolicy(req)
	if !cacheable {
		res, err := c.upstream(ctx, req, hasKey)
		if res != nil {
			res.Cache = CacheBypass
		}
		return c.orFallback(ctx, req, "", res, err)
	}

	key := c.cacheKey(req)
	cached := c.rt.cache
	if entry, lookup, err := cached.Get(ctx, key); err != nil {
		c.rt.opts.Logger.Warn("cache lookup failed; calling upstream", "integration", c.cfg.Name, "error", err)
	} else if lookup == cache.Fresh {
		c.rt.opts.Metrics.cache.WithLabelValues(c.cfg.Name, req.operation, CacheHit).Inc()
		return &Result{Status: entry.Status, Header: entry.Header, Body: entry.Body, Cache: CacheHit}, nil
	}
	c.rt.opts.Metrics.cache.WithLabelValues(c.cfg.Name, req.operation, CacheMiss).Inc()

	// own is set when this caller's function is the one that ran. The function may finish
	// after this caller gave up (its deadline passed), hence the atomic.
	var own atomic.Pointer[Result]
	entry, _, err := c.rt.group.Do(ctx, key, func(ctx context.Context) (cache.Entry, error) {
		res, err := c.upstream(ctx, req, hasKey)
		own.Store(res)
		if err != nil {
			return cache.Entry{}, err
		}
		e := cache.Entry{Status: res.Status, Header: cacheHeaders(res.Header), Body: res.Body, StoredAt: c.rt.opts.Clock.Now()}
		if req.successCode(res.Status) {
			if err := cached.Set(ctx, key, e, ttl, c.keepStale()); err != nil {
				c.rt.opts.Logger.Warn("cache store failed", "integration", c.cfg.Name, "error", err)
			}
		}
		return e, nil
	})
	if err != nil && KindOf(err) == "" && ctx.Err() != nil {
		// This caller's deadline passed while the shared call was still running.
		err = &Error{Kind: KindTimeout, Integration: c.cfg.Name, Operation: req.operation, Detail: "the call's deadline passed", Err: err}
	}
	res := own.Load()
	if err != nil {
		res = nil
	}
	if res == nil && err == nil {
		// Another caller's request answered for this one too.
		res = &Result{Status: entry.Status, Header: entry.Header, Body: entry.Body}
	}
	if res != nil {
		res.Cache = CacheMiss
	}
	return c.orFallback(ctx, req, key, res, err)
}

// idempotencyKey sets the integration's idempotency header (B10): the caller's key wins,
// else one is generated once for the logical call, so every retry carries the same key.
// Keys are generated only for POST and PATCH, the methods that are not idempotent by
// themselves; a GET needs none (and a random header would defeat its cache).
func (c *client) idempotencyKey(req *request, callerKey string) bool {
	idem := c.cfg.Idempotency
	if idem == nil {
		return false
	}
	key := callerKey
	if key == "" {
		key = req.header.Get(idem.Header)
	}
	if key == "" && idem.Generate && (req.method == http.MethodPost || req.method == http.MethodPatch) {
		key = newKey()
	}
	if key == "" {
		return false
	}
	req.header.Set(idem.Header, key)
	return true
}

// newKey is a random UUID (version 4).
func newKey() string { return uuid.NewString() }

// cachePolicy says whether a request is cached (B8: only GET-like calls) and for how long
// it is fresh. With `fallback: cache` a GET is stored even without a TTL, as the copy to
// fall back on.
func (c *client) cachePolicy(req *request) (time.Duration, bool) {
	if req.method != http.MethodGet && req.method != http.MethodHead {
		return 0, false
	}
	ttl := c.cfg.DefaultCacheTTL
	if req.op != nil && req.op.Cache > 0 {
		ttl = req.op.Cache
	}
	fallbackCache := c.cfg.Fallback != nil && c.cfg.Fallback.Kind == config.FallbackCache
	return ttl, ttl > 0 || fallbackCache
}

func (c *client) keepStale() time.Duration {
	if c.cfg.Fallback != nil && c.cfg.Fallback.Kind == config.FallbackCache {
		return KeepStaleDefault
	}
	return 0
}

// cacheKey covers everything that reaches the upstream except credentials (they are
// applied per attempt, after this): integration, operation, method, URL with query,
// headers and body.
func (c *client) cacheKey(req *request) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", req.method, req.url.String(), req.operation)
	names := make([]string, 0, len(req.header))
	for k := range req.header {
		if c.cfg.Idempotency != nil && http.CanonicalHeaderKey(c.cfg.Idempotency.Header) == k {
			continue // one key per logical call: never part of what is being asked
		}
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(h, "%s: %s\n", k, strings.Join(req.header[k], ", "))
	}
	h.Write(req.body)
	return c.cfg.Name + ":" + req.operation + ":" + hex.EncodeToString(h.Sum(nil))
}

// cacheHeaders keeps the headers worth replaying from a cached response.
func cacheHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range []string{"Content-Type", "ETag", "Last-Modified"} {
		if v := h.Values(k); len(v) > 0 {
			out[k] = slices.Clone(v)
		}
	}
	return out
}

// orFallback answers a failed call with the configured fallback (B9).
func (c *client) orFallback(ctx context.Context, req *request, key string, res *Result, err error) (*Result, error) {
	fb := c.cfg.Fallback
	if fb == nil || !fallbackApplies(res, err) {
		return res, err
	}
	attempts := 0
	var e *Error
	switch {
	case res != nil:
		attempts = res.Attempts
	case errors.As(err, &e):
		attempts = e.Attempts
	}
	switch fb.Kind {
	case config.FallbackCache:
		if key == "" {
			return res, err
		}
		entry, lookup, cerr := c.rt.cache.Get(ctx, key)
		if cerr != nil || lookup == cache.Miss {
			return res, err
		}
		c.rt.opts.Metrics.cache.WithLabelValues(c.cfg.Name, req.operation, CacheStale).Inc()
		return &Result{Status: entry.Status, Header: entry.Header, Body: entry.Body, Attempts: attempts, Cache: CacheStale, Fallback: "cache"}, nil
	case config.FallbackDefault:
		body, merr := json.Marshal(fb.Default)
		if merr != nil {
			return res, err
		}
		cacheState := CacheBypass
		if key != "" {
			cacheState = CacheMiss
		}
		return &Result{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body, Attempts: attempts, Cache: cacheState, Fallback: "default"}, nil
	}
	return res, err
}

// fallbackApplies: the circuit is open, the upstream could not be reached or answered
// in time, or it kept failing with a server error. Caller mistakes (4xx, invalid
// parameters) and Junction's own rate limit are not covered.
func fallbackApplies(res *Result, err error) bool {
	switch KindOf(err) {
	case KindCircuitOpen, KindBulkheadFull, KindUnreachable, KindTimeout, KindUpstreamInvalid:
		return true
	}
	return err == nil && res != nil && res.Status >= 500
}

// upstream makes the attempts of one logical call.
func (c *client) upstream(ctx context.Context, req *request, hasKey bool) (*Result, error) {
	policy := c.retry
	if !retry.MethodRetryable(req.method, hasKey) {
		policy = retry.Policy{} // no retries at all (an explicit retry_delays list included)
	}
	classify := func(res *Result, err error) (bool, time.Duration) {
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Kind != KindTimeout && e.Kind != KindUnreachable {
				return false, 0 // circuit open, rate limited, credentials: retrying changes nothing
			}
			return ctx.Err() == nil && retry.Retryable(retry.Outcome{Err: errors.Unwrap(err)}, retryableStatuses), 0
		}
		if !retry.Retryable(retry.Outcome{Status: res.Status}, retryableStatuses) {
			return false, 0
		}
		after, _ := retry.ParseRetryAfter(res.Header.Get("Retry-After"), c.rt.opts.Clock.Now())
		return true, after
	}
	// attempts counts the requests sent, not the tries: a try stopped by the rate limit or
	// an open circuit sent nothing, and X-Junction-Attempts says what the upstream saw.
	attempts := 0
	res, _, err := retry.Do(ctx, c.rt.opts.Clock, policy, classify, func(ctx context.Context, _ int) (*Result, error) {
		return c.attempt(ctx, req, &attempts)
	})
	if attempts > 1 {
		c.rt.opts.Metrics.retries.WithLabelValues(c.cfg.Name, req.operation).Add(float64(attempts - 1))
	}
	var e *Error
	if errors.As(err, &e) {
		e.Attempts = attempts
		return nil, err
	}
	if err != nil {
		// The caller's deadline passed between attempts (while backing off).
		return nil, &Error{Kind: KindTimeout, Integration: c.cfg.Name, Operation: req.operation, Detail: "the call's deadline passed", Err: err, Attempts: attempts}
	}
	res.Attempts = attempts
	if res.Status >= 400 {
		// Some APIs quote the credential they refused; an answer that goes back to any
		// caller must not.
		res.Body = c.scrubBody(res.Body)
	}
	if req.op != nil && req.successCode(res.Status) {
		if req.op.GraphQL != nil {
			if errs, ok := graphqlErrors(res.Body); ok {
				return nil, &Error{Kind: KindGraphQL, Integration: c.cfg.Name, Operation: req.operation, Detail: "the GraphQL response has errors", GraphQL: errs, Attempts: attempts}
			}
		}
		if res.ContractMismatches = checkContract(req.op.Returns, res.Body); len(res.ContractMismatches) > 0 {
			c.rt.opts.Metrics.contract.WithLabelValues(c.cfg.Name, req.operation).Inc()
			c.rt.opts.Logger.Warn("response does not match the declared returns", "integration", c.cfg.Name, "operation", req.operation, "mismatches", res.ContractMismatches)
		}
	}
	return res, nil
}

// attempt makes one upstream request through the rate limit and the circuit breaker,
// counting it in *sent once both let it go.
func (c *client) attempt(ctx context.Context, req *request, sent *int) (*Result, error) {
	fail := func(kind Kind, detail string, cause error, retryAfter time.Duration) (*Result, error) {
		return nil, &Error{Kind: kind, Integration: c.cfg.Name, Operation: req.operation, Detail: detail, Err: cause, RetryAfter: retryAfter}
	}
	timeout := c.attemptTimeout(req)
	if c.limiter != nil {
		if err := c.waitForRateLimit(ctx, timeout); err != nil {
			var limited *ratelimit.LimitedError
			if errors.As(err, &limited) {
				c.rt.opts.Metrics.rateLimited.WithLabelValues(c.cfg.Name).Inc()
				return fail(KindRateLimited, "rate limit reached", nil, limited.RetryAfter)
			}
			return fail(KindTimeout, "waiting for the rate limit", err, 0)
		}
	}
	done := func(bool) {}
	if c.breaker != nil {
		d, err := c.breaker.Allow()
		if err != nil {
			var open *breaker.OpenError
			if errors.As(err, &open) {
				return fail(KindCircuitOpen, "circuit is open", nil, open.RetryAfter)
			}
			return fail(KindBulkheadFull, "too many concurrent calls (max_concurrent)", nil, 0)
		}
		done = d
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// One attempt counts once, even when a 401 makes it send again with fresh credentials.
	counted := false
	count := func() {
		if !counted {
			counted = true
			*sent++
		}
	}
	res, hreq, err := c.send(actx, req, count)
	if err == nil && res.Status == http.StatusUnauthorized && c.cred.Rejected(actx, hreq) {
		res, _, err = c.send(actx, req, count) // fresh credentials, once
	}
	done(err == nil && res.Status < 500)
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			return fail(KindTimeout, fmt.Sprintf("no answer within %v", timeout), err, 0)
		}
		if ctx.Err() != nil {
			return fail(KindTimeout, "the call's deadline passed", err, 0)
		}
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return fail(KindUnreachable, "upstream unreachable", err, 0)
	}
	if c.limiter != nil {
		if _, err := ratelimit.ObserveHeaders(ctx, c.limiter, c.rt.opts.Clock, res.Status, res.Header, c.cfg.RateLimit.Header); err != nil {
			c.rt.opts.Logger.Warn("rate limit update failed", "integration", c.cfg.Name, "error", err)
		}
	}
	return res, nil
}

// attemptTimeout is the operation's timeout, else the integration's, else the default.
func (c *client) attemptTimeout(req *request) time.Duration {
	switch {
	case req.op != nil && req.op.Timeout > 0:
		return req.op.Timeout
	case c.cfg.Timeout > 0:
		return c.cfg.Timeout
	}
	return TimeoutDefault
}

// waitForRateLimit admits the attempt, waiting at most the rate limit's max_wait
// (default: the attempt's timeout) and only while the deadline allows; a call that
// waited and then went is counted.
func (c *client) waitForRateLimit(ctx context.Context, timeout time.Duration) error {
	wait, err := c.limiter.Take(ctx)
	if err != nil || wait == 0 {
		return err
	}
	maxWait := c.cfg.RateLimit.MaxWait
	if maxWait <= 0 {
		maxWait = timeout
	}
	if err := ratelimit.Wait(ctx, c.limiter, c.rt.opts.Clock, maxWait); err != nil {
		return err
	}
	c.rt.opts.Metrics.rateLimitWaits.WithLabelValues(c.cfg.Name).Inc()
	return nil
}

// send makes one HTTP request with credentials and reads the bounded response; sending
// calls sending just before the request leaves.
func (c *client) send(ctx context.Context, req *request, sending func()) (*Result, *http.Request, error) {
	hreq, err := http.NewRequestWithContext(ctx, req.method, req.url.String(), bytes.NewReader(req.body))
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalidParams, Integration: c.cfg.Name, Operation: req.operation, Detail: err.Error()}
	}
	hreq.Header = req.header.Clone()
	if len(req.body) == 0 {
		hreq.Body, hreq.GetBody, hreq.ContentLength = http.NoBody, nil, 0
	}
	if err := c.cred.Apply(ctx, hreq, req.body); err != nil {
		return nil, hreq, &Error{Kind: KindUnreachable, Integration: c.cfg.Name, Operation: req.operation, Detail: "could not obtain credentials", Err: err}
	}
	sending()
	resp, err := c.rt.opts.HTTPClient.Do(hreq)
	if err != nil {
		// The client's error quotes the URL, with an api_key in its query.
		return nil, hreq, redact.Error(err)
	}
	defer resp.Body.Close()
	limit := c.rt.opts.MaxResponseBytes
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, hreq, redact.Error(err)
	}
	if int64(len(body)) > limit {
		return nil, hreq, &Error{Kind: KindUpstreamInvalid, Integration: c.cfg.Name, Operation: req.operation, Detail: fmt.Sprintf("response larger than %d bytes", limit)}
	}
	return &Result{Status: resp.StatusCode, Header: resp.Header, Body: body}, hreq, nil
}

// observe records a finished call in health and metrics.
func (c *client) observe(req *request, res *Result, err error, start time.Time, elapsed time.Duration) {
	m := c.rt.opts.Metrics
	var outcome string
	ok := true
	switch kind := KindOf(err); {
	case kind == KindInvalidParams || kind == KindRateLimited:
		m.calls.WithLabelValues(c.cfg.Name, req.operation, string(kind)).Inc()
		return // the caller's or Junction's own limit, not the upstream's health
	case err != nil:
		outcome, ok = string(kind), false
		if kind == "" {
			outcome = "error"
		}
	case res.Fallback != "":
		outcome, ok = "fallback_"+res.Fallback, false
	case res.Cache == CacheHit:
		outcome = "cache_hit"
	case req.successCode(res.Status):
		outcome = "success"
	default:
		outcome, ok = "upstream_error", res.Status < 500
	}
	m.calls.WithLabelValues(c.cfg.Name, req.operation, outcome).Inc()
	m.duration.WithLabelValues(c.cfg.Name, req.operation).Observe(elapsed.Seconds())
	errText := ""
	switch {
	case err != nil:
		errText = errorText(err)
	case !ok:
		errText = fmt.Sprintf("upstream answered %d", res.Status)
		if res.Fallback != "" {
			errText = "upstream failed; answered from fallback " + res.Fallback
		}
	}
	var mismatches []string
	if res != nil {
		mismatches = res.ContractMismatches
	}
	c.stats.record(start, elapsed, ok, errText, mismatches)
}
