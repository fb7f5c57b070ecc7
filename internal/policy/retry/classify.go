package retry

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultStatuses are the response statuses retried when no list is configured: the
// upstream asked us to slow down (429) or a gateway in front of it failed (502, 503, 504).
// 500 is not among them because it usually means the request itself broke something and
// repeating it would do the same.
var DefaultStatuses = []int{
	http.StatusTooManyRequests,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// Outcome is the result of one attempt, for classification.
type Outcome struct {
	Err    error       // set for transport errors (no response)
	Status int         // the response status, when there was a response
	Header http.Header // the response headers, for Retry-After; may be nil
}

// RetryAfter returns the wait the response's Retry-After header asks for, or 0.
func (o Outcome) RetryAfter(now time.Time) time.Duration {
	if o.Header == nil {
		return 0
	}
	d, _ := ParseRetryAfter(o.Header.Get("Retry-After"), now)
	return d
}

// Retryable reports whether an attempt with outcome o may be repeated. statuses lists the
// retryable response statuses; nil means DefaultStatuses (an empty, non-nil list retries
// no status). Transport errors are judged by what they say about the request: see
// retryableError.
//
// Retryable cannot tell the caller's deadline from a per-attempt timeout (both are
// context.DeadlineExceeded), so it treats the error as a per-attempt timeout; Do stops on
// its own when the caller's context is done.
func Retryable(o Outcome, statuses []int) bool {
	if o.Err != nil {
		return retryableError(o.Err)
	}
	if o.Status == 0 {
		return false
	}
	if statuses == nil {
		statuses = DefaultStatuses
	}
	return slices.Contains(statuses, o.Status)
}

// retryableError reports whether a transport error leaves the request safe and worth
// repeating: it never reached the upstream, the connection broke before a response, or
// the attempt ran out of time.
func retryableError(err error) bool {
	// A cancellation is a decision, not a failure; the http client wraps it in *url.Error,
	// which errors.Is sees through.
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// A name that does not exist will not exist a moment later either.
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
		return !dnsErr.IsNotFound
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	for _, errno := range []syscall.Errno{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	// Nothing was sent when a dial fails, whatever the reason.
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "dial" {
		return true
	}
	// The server closed the connection before answering (net/http reports a bare EOF).
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// MethodRetryable reports whether a request with this method may be sent again: the
// idempotent methods always, any other method (POST, PATCH, …) only when it carries an
// idempotency key, which lets the upstream recognise the repeat.
func MethodRetryable(method string, hasIdempotencyKey bool) bool {
	switch strings.ToUpper(method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	default:
		return hasIdempotencyKey
	}
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date (RFC 9110
// §10.2.3). A date in the past, or negative seconds, is a wait of 0; ok is false when v
// is neither form.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case secs <= 0:
			return 0, true
		case secs > int64(math.MaxInt64/time.Second):
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	} else if errors.Is(err, strconv.ErrRange) {
		if strings.HasPrefix(v, "-") {
			return 0, true
		}
		return time.Duration(math.MaxInt64), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
