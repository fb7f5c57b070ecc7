package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/cache"
)

// fallbackStage answers a failed call with the configured fallback (B9). It wraps the
// cache, the response check and the retry, so it sees the call's final outcome (after
// every retry, with an open circuit or a rate limit already decided) and can serve the
// copy the cache stage keeps past its TTL; a fresh cache hit never reaches it as a
// failure.
type fallbackStage struct {
	c    *client
	op   *operation
	kind config.FallbackKind
	body []byte // the JSON answer of `fallback: default(…)`
}

// newFallbackStage: only with a `fallback`.
func newFallbackStage(c *client, in *config.Integration, op *operation) stage {
	fb := in.Fallback
	if fb == nil {
		return nil
	}
	s := &fallbackStage{c: c, op: op, kind: fb.Kind}
	if fb.Kind == config.FallbackDefault {
		var err error
		if s.body, err = json.Marshal(fb.Default); err != nil {
			c.env.logger.Warn("fallback default is not JSON; failures are not replaced", "integration", c.name, "error", err)
			return nil
		}
	}
	return s
}

func (s *fallbackStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		res, err := next(ctx, x)
		if !fallbackApplies(res, err) {
			return res, err
		}
		attempts := 0
		switch e, isErr := errorOf(err); {
		case res != nil:
			attempts = res.Attempts
		case isErr:
			attempts = e.Attempts
		}
		switch s.kind {
		case config.FallbackCache:
			if x.cacheKey == "" {
				return res, err
			}
			entry, lookup, cerr := s.c.env.cache.Get(ctx, x.cacheKey)
			if cerr != nil || lookup == cache.Miss {
				return res, err
			}
			s.op.metrics.cache(CacheStale).Inc()
			return &Result{Status: entry.Status, Header: entry.Header, Body: entry.Body, Attempts: attempts, Cache: CacheStale, Fallback: "cache"}, nil
		case config.FallbackDefault:
			cacheState := CacheBypass
			if x.cacheKey != "" {
				cacheState = CacheMiss
			}
			return &Result{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: slices.Clone(s.body), Attempts: attempts, Cache: cacheState, Fallback: "default"}, nil
		}
		return res, err
	}
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
