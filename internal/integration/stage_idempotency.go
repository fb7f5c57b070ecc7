package integration

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/config"
)

// idempotencyStage sets the integration's idempotency header (B10): the caller's key
// wins, else one already in the request, else one generated once for the logical call.
// It sits outside the cache and the retry, so that every attempt carries the same key,
// and the retry knows that a POST may be repeated. Keys are generated only for POST and
// PATCH, the methods that are not idempotent by themselves; a GET needs none (and a
// random header would defeat its cache, whose key leaves the header out anyway).
type idempotencyStage struct {
	header   string // canonical
	generate bool
}

// newIdempotencyStage: only with an `idempotency` block.
func newIdempotencyStage(in *config.Integration) stage {
	if in.Idempotency == nil {
		return nil
	}
	return &idempotencyStage{header: http.CanonicalHeaderKey(in.Idempotency.Header), generate: in.Idempotency.Generate}
}

func (s *idempotencyStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		key := x.callerKey
		if key == "" {
			key = x.header.Get(s.header)
		}
		if key == "" && s.generate && (x.method == http.MethodPost || x.method == http.MethodPatch) {
			key = newKey()
		}
		if key != "" {
			x.header[s.header] = []string{key}
			x.idempotent = true
		}
		return next(ctx, x)
	}
}

// newKey is a random UUID (version 4).
func newKey() string { return uuid.NewString() }
