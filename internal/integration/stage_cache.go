package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/cache"
)

// cacheStage answers GET-like calls from the response cache (B8) and makes concurrent
// misses of one key share a single upstream call. It sits inside the idempotency stage,
// whose header it leaves out of the key, and outside the response check and the retry:
// what it stores is the checked answer of a whole logical call, and a hit costs no
// attempt, no rate-limit slot and no breaker permit. The fallback, outside it, reads the
// copy it keeps past the TTL (keepStale).
type cacheStage struct {
	c                 *client
	op                *operation
	ttl               time.Duration // 0 with `fallback: cache`: stored only as the copy to fall back on
	keepStale         time.Duration
	idempotencyHeader string // canonical; never part of the key
}

// newCacheStage: only for GET-like calls (B8) with a TTL, or with `fallback: cache`,
// which stores GETs as the copy to fall back on. The proxy's requests bring their own
// method, so its stage checks each one.
func newCacheStage(c *client, in *config.Integration, op *operation) stage {
	fallbackCache := in.Fallback != nil && in.Fallback.Kind == config.FallbackCache
	if (op.cacheTTL <= 0 && !fallbackCache) || (op.method != "" && !cacheableMethod(op.method)) {
		return nil
	}
	s := &cacheStage{c: c, op: op, ttl: op.cacheTTL}
	if in.Idempotency != nil {
		s.idempotencyHeader = http.CanonicalHeaderKey(in.Idempotency.Header)
	}
	if fallbackCache {
		s.keepStale = KeepStaleDefault
	}
	return s
}

// cacheableMethod: only GET-like calls are cached.
func cacheableMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

func (s *cacheStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		if !cacheableMethod(x.method) {
			return next(ctx, x) // a proxied POST, PUT, …
		}
		e := s.c.env
		key := s.key(x)
		x.cacheKey = key
		if entry, lookup, err := e.cache.Get(ctx, key); err != nil {
			e.logger.Warn("cache lookup failed; calling upstream", "integration", s.c.name, "error", err)
		} else if lookup == cache.Fresh {
			s.op.metrics.cache(CacheHit).Inc()
			eventCacheHit.add(ctx)
			return &Result{Status: entry.Status, Header: entry.Header, Body: entry.Body, Cache: CacheHit}, nil
		}
		s.op.metrics.cache(CacheMiss).Inc()
		eventCacheMiss.add(ctx)
		res, err := s.miss(ctx, x, next)
		if res != nil {
			res.Cache = CacheMiss
		}
		return res, err
	}
}

// miss calls the rest of the pipeline once for every concurrent caller of x's key, and
// stores a success.
func (s *cacheStage) miss(ctx context.Context, x *exchange, next handler) (*Result, error) {
	e := s.c.env
	// The shared call may outlive this caller (its deadline passed): it works on its own
	// copy of the exchange, and own is set once it has an answer.
	var own atomic.Pointer[Result]
	shared := *x
	entry, _, err := e.group.Do(ctx, x.cacheKey, func(ctx context.Context) (cache.Entry, error) {
		res, err := next(ctx, &shared)
		own.Store(res)
		if err != nil {
			return cache.Entry{}, err
		}
		ce := cache.Entry{Status: res.Status, Header: cacheHeaders(res.Header), Body: res.Body, StoredAt: e.clock.Now()}
		if s.op.success(res.Status) {
			if err := e.cache.Set(ctx, shared.cacheKey, ce, s.ttl, s.keepStale); err != nil {
				e.logger.Warn("cache store failed", "integration", s.c.name, "error", err)
			}
		}
		return ce, nil
	})
	switch {
	case err != nil && KindOf(err) == "" && ctx.Err() != nil:
		// This caller's deadline passed while the shared call was still running.
		return nil, &Error{Kind: KindTimeout, Integration: s.c.name, Operation: s.op.name, Detail: "the call's deadline passed", Err: err}
	case err != nil:
		return nil, err
	}
	if res := own.Load(); res != nil {
		x.sent = shared.sent // this caller's request went out: the usage reports count it
		return res, nil
	}
	// Another caller's request answered for this one too.
	return &Result{Status: entry.Status, Header: entry.Header, Body: entry.Body}, nil
}

// key covers everything that reaches the upstream except credentials (they are applied
// per attempt, after this): integration (and the version of its settings), operation,
// method, URL with query, headers and body.
func (s *cacheStage) key(x *exchange) string {
	var nameBuf [16]string
	names := nameBuf[:0]
	for k := range x.header {
		if k != s.idempotencyHeader { // one key per logical call: never part of what is asked
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var buf [1024]byte
	b := append(buf[:0], s.c.version...)
	b = append(append(append(append(append(append(b, '\n'), x.method...), '\n'), x.url.String()...), '\n'), s.op.name...)
	b = append(b, '\n')
	for _, k := range names {
		b = append(b, k...)
		for i, v := range x.header[k] {
			if i == 0 {
				b = append(b, ": "...)
			} else {
				b = append(b, ", "...)
			}
			b = append(b, v...)
		}
		b = append(b, '\n')
	}
	sum := sha256.Sum256(append(b, x.body...)) // GET bodies are small, when there is one
	var digest [2 * sha256.Size]byte
	hex.Encode(digest[:], sum[:])
	var key strings.Builder
	key.Grow(len(s.c.name) + len(s.op.name) + 2 + len(digest))
	key.WriteString(s.c.name)
	key.WriteByte(':')
	key.WriteString(s.op.name)
	key.WriteByte(':')
	key.Write(digest[:])
	return key.String()
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
