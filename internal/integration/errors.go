package integration

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/redact"
)

// Kind classifies Junction's own failures of a call, so the server can map each to one
// stable problem type and status. Upstream answers (a 404 or 500 from GitHub) are not
// errors of Junction: they come back as a Result with the upstream's status.
type Kind string

// The failure kinds of a call.
const (
	KindUnknownIntegration Kind = "unknown-integration" // 404
	KindUnknownOperation   Kind = "unknown-operation"   // 404
	KindInvalidParams      Kind = "invalid-parameters"  // 400: missing, unknown or mistyped parameters
	KindMisconfigured      Kind = "integration-misconfigured"
	KindCircuitOpen        Kind = "circuit-open"         // 503, Retry-After
	KindBulkheadFull       Kind = "bulkhead-full"        // 503
	KindRateLimited        Kind = "rate-limited"         // 429, Retry-After
	KindTimeout            Kind = "upstream-timeout"     // 504
	KindUnreachable        Kind = "upstream-unreachable" // 502: connection failures after retries
	KindGraphQL            Kind = "graphql-errors"       // 502: the GraphQL response carried errors
	KindUpstreamInvalid    Kind = "upstream-invalid"     // 502: unreadable or oversized upstream answer
	KindNotImplemented     Kind = "not-implemented"      // 501: `method: internal` operations
)

// Error is a failed call. Field-level problems of the parameters are in Params.
type Error struct {
	Kind        Kind
	Integration string
	Operation   string
	Detail      string
	RetryAfter  time.Duration // for circuit-open and rate-limited
	Params      []ParamError  // for invalid-parameters
	GraphQL     []any         // for graphql-errors: the upstream's errors array
	Attempts    int           // attempts made before giving up
	Err         error         // the cause, if any
}

func (e *Error) Error() string {
	msg := e.Integration + ": " + e.Detail
	if e.Operation != "" {
		msg = fmt.Sprintf("%s.%s: %s", e.Integration, e.Operation, e.Detail)
	}
	if e.Err != nil && !strings.Contains(e.Detail, e.Err.Error()) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ParamError names one offending parameter.
type ParamError struct {
	Param  string `json:"field"`
	Detail string `json:"detail"`
}

// KindOf returns the Kind of a call error, or "" for other errors.
func KindOf(err error) Kind {
	if e, ok := errorOf(err); ok {
		return e.Kind
	}
	return ""
}

// errorOf finds the *Error in err's chain.
func errorOf(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	return errors.AsType[*Error](err)
}

func invalidParams(in, op string, problems []ParamError) *Error {
	sort.Slice(problems, func(i, j int) bool { return problems[i].Param < problems[j].Param })
	names := make([]string, len(problems))
	for i, p := range problems {
		names[i] = p.Param
	}
	return &Error{
		Kind: KindInvalidParams, Integration: in, Operation: op, Params: problems,
		Detail: "invalid parameters: " + strings.Join(names, ", "),
	}
}

// scrub is the safety net behind the redaction at the source (send): the text of a
// failed call, as every reply, log line, health entry and dead letter shows it, is
// cleaned of the integration's secret values. It runs on failures only. The cause stays
// reachable for errors.Is/As (a timeout is still a timeout), but wrapped so that
// printing the error prints the clean text.
func (c *client) scrub(err error) error {
	if c.st.cred == nil {
		return err
	}
	secrets := c.st.cred.Secrets()
	if len(secrets) == 0 {
		return err
	}
	s := redact.NewScrubber(secrets...)
	e, ok := err.(*Error)
	if !ok {
		return s.Error(err)
	}
	clean := *e
	clean.Detail = s.String(e.Detail)
	clean.Err = s.Error(e.Err)
	return &clean
}

// scrubBody masks the integration's secret values in an upstream's failure answer.
func (c *client) scrubBody(body []byte) []byte {
	secrets := c.st.cred.Secrets()
	if len(secrets) == 0 || len(body) == 0 {
		return body
	}
	text := string(body)
	if clean := redact.NewScrubber(secrets...).String(text); clean != text {
		return []byte(clean)
	}
	return body
}
