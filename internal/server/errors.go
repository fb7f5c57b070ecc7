package server

import (
	"errors"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/webhook"
)

// Handlers return errors; this file is the one place that turns an error into the
// problem document a client gets. problemFor walks the error's chain from the outside
// in, and the first error it knows decides: a Problem (the handler's own answer), a typed
// error of the runtime (a call failure, a validation error, a replay that failed again),
// a sentinel (flow.ErrStopped, inbound.ErrSignature, …), or a class of errkind (not
// found, conflict, unavailable) that every layer's errors carry. What it does not know is
// a 500 whose detail says nothing and whose error goes to the log.

// handlerFunc is what every route's handler is: it answers, or returns the error whose
// problem the client gets.
type handlerFunc func(http.ResponseWriter, *http.Request) error

// storeRetryAfter is the Retry-After of answers that say the store is unavailable: a
// few seconds, about the time a pool takes to reconnect after an outage ends.
const storeRetryAfter = 5 * time.Second

// Details of the problems that must not quote their error.
const (
	detailInternal    = "the server hit an unexpected error; it has been logged"
	detailUnavailable = "the store is unavailable: the database did not answer in time or could not be reached; retry later"
	detailNotFound    = "no such resource"
	detailConflict    = "the request conflicts with what is stored; retry it"
)

// sentinels are the errors known by value. Their problem's detail is the whole error's
// message, which says what the sentinel's raiser added.
var sentinels = []struct {
	err  error
	kind Kind
}{
	{auth.ErrUnauthenticated, KindUnauthorized},
	{auth.ErrRevokeSelf, KindForbidden},
	{flow.ErrNotFound, KindNotFound},
	{flow.ErrStopped, KindFlowStopped},
	{webhook.ErrPayloadTooLarge, KindPayloadTooLarge},
	{webhook.ErrUnknownSource, KindNotFound},
	{webhook.ErrSourceMisconfigure, KindUnavailable},
	{webhook.ErrManaged, KindEndpointDeclared},
	{inbound.ErrSignature, KindInvalidSignature},
}

// writeError answers with err's problem. Server faults (an unknown error, an unavailable
// store) are logged with the request's id, since their problem does not quote them. An
// error after the answer has started cannot become a problem any more; it is logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p, fault := problemFor(err)
	sw, _ := w.(*statusWriter)
	late := sw != nil && sw.wroteHeader()
	if fault || late {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", infoFrom(r.Context()).id),
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", p.Status), slog.String("err", err.Error()))
	}
	if !late {
		infoFrom(r.Context()).reason = logReason(p)
		WriteProblem(w, r, p)
	}
}

// logReason is a problem's detail (or title) for the access log, cut to a line's worth.
func logReason(p Problem) string {
	reason := p.Detail
	if reason == "" {
		reason = p.Title
	}
	if len(reason) > 300 {
		reason = strings.ToValidUTF8(reason[:300], "") + "…"
	}
	return reason
}

// problemFor returns err's problem, and whether it is a server fault to log.
func problemFor(err error) (p Problem, fault bool) {
	var hints []*described
	found := walk(err, func(e error) bool {
		if d, ok := e.(*described); ok {
			hints = append(hints, d)
			return false
		}
		var ok bool
		if p, ok = typedProblem(e); ok {
			return true
		}
		if p, ok = sentinelProblem(e, err); ok {
			return true
		}
		p, fault, ok = classProblem(e, hints)
		return ok
	})
	if !found {
		return NewProblem(KindInternal, detailInternal), true
	}
	return p, fault
}

// walk calls visit on err and the errors it wraps, outermost first and depth first (as
// errors.As does), until visit returns true; it reports whether one did.
func walk(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			return slices.ContainsFunc(u.Unwrap(), func(e error) bool { return walk(e, visit) })
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// typedProblem maps the typed errors of the server and of the runtime.
func typedProblem(e error) (Problem, bool) {
	switch e := e.(type) {
	case Problem:
		return e, true
	case *integration.Error:
		return callProblem(e)
	case *webhook.ValidationError:
		errs := make([]FieldError, 0, len(e.Fields))
		for _, f := range slices.Sorted(maps.Keys(e.Fields)) {
			errs = append(errs, FieldError{Field: f, Detail: e.Fields[f]})
		}
		return invalid(e.Error(), errs...), true
	case *auth.ValidationError:
		errs := make([]FieldError, len(e.Fields))
		for i, f := range e.Fields {
			errs[i] = FieldError{Field: f.Field, Detail: f.Detail}
		}
		return invalid("the token request is invalid; see errors", errs...), true
	case *auth.RoleError:
		return NewProblem(KindForbidden, e.Error()), true
	case *flow.ReplayError:
		return NewProblem(KindReplayFailed, e.Error()).With("step", e.Step.Step), true
	case *flow.StartError:
		return NewProblem(KindUnavailable, e.Error()), true
	}
	return Problem{}, false
}

// sentinelProblem maps e if it is one of the sentinels; whole is the error returned.
func sentinelProblem(e, whole error) (Problem, bool) {
	for _, s := range sentinels {
		if e == s.err {
			return NewProblem(s.kind, whole.Error()), true
		}
	}
	return Problem{}, false
}

// classProblem maps the classes of errkind, with the detail a handler gave for the
// class (see describe) or a fixed one: the error itself can name hosts and tables.
func classProblem(e error, hints []*described) (p Problem, fault, ok bool) {
	detail := func(def string) string {
		for _, h := range hints {
			if h.class == e {
				return h.detail
			}
		}
		return def
	}
	switch e {
	case errkind.ErrNotFound:
		return NewProblem(KindNotFound, detail(detailNotFound)), false, true
	case errkind.ErrConflict:
		return NewProblem(KindConflict, detail(detailConflict)), false, true
	case errkind.ErrUnavailable:
		// 503 with Retry-After: the same request may well succeed in a few seconds, and
		// clients that retry on 503 then do not drop what they sent.
		secs := int(storeRetryAfter / time.Second)
		return NewProblem(KindUnavailable, detail(detailUnavailable)).
			With("retry_after_seconds", secs).WithHeader("Retry-After", strconv.Itoa(secs)), true, true
	}
	return Problem{}, false, false
}

// described gives the problem of an error of a class (errkind) the detail that says
// what the handler was after ("no such dead letter"), where the class alone says little.
type described struct {
	err    error
	class  error
	detail string
}

func (d *described) Error() string { return d.err.Error() }
func (d *described) Unwrap() error { return d.err }

// describe wraps err with detail for its problem, if err is of class; otherwise it
// returns err as it is.
func describe(err, class error, detail string) error {
	if err == nil || !errors.Is(err, class) {
		return err
	}
	return &described{err: err, class: class, detail: detail}
}

// callKinds maps the runtime's failure kinds onto problem kinds.
var callKinds = map[integration.Kind]Kind{
	integration.KindUnknownIntegration: KindNotFound,
	integration.KindUnknownOperation:   KindNotFound,
	integration.KindInvalidParams:      KindInvalidRequest,
	integration.KindMisconfigured:      KindMisconfigured,
	integration.KindCircuitOpen:        KindCircuitOpen,
	integration.KindBulkheadFull:       KindBulkheadFull,
	integration.KindRateLimited:        KindRateLimited,
	integration.KindTimeout:            KindTimeout,
	integration.KindUnreachable:        KindUnreachable,
	integration.KindGraphQL:            KindGraphQL,
	integration.KindUpstreamInvalid:    KindUpstreamBad,
	integration.KindNotImplemented:     KindNotImplemented,
}

// callProblem is the problem of a failed call, with the headers the gateway answers
// with: X-Junction-Attempts always, Retry-After when waiting helps, X-Junction-Circuit
// when the circuit is open.
func callProblem(e *integration.Error) (Problem, bool) {
	kind, ok := callKinds[e.Kind]
	if !ok {
		return Problem{}, false
	}
	p := NewProblem(kind, e.Error())
	if e.Integration != "" {
		p = p.With("integration", e.Integration)
	}
	if e.Operation != "" {
		p = p.With("operation", e.Operation)
	}
	// Requests that reached the upstream: 0 when the circuit, the rate limit or a check
	// stopped the call first.
	p = p.WithHeader("X-Junction-Attempts", strconv.Itoa(e.Attempts))
	if e.Attempts > 0 {
		p = p.With("attempts", e.Attempts)
	}
	if e.RetryAfter > 0 || kind == KindRateLimited || kind == KindCircuitOpen {
		secs := max(int(math.Ceil(e.RetryAfter.Seconds())), 1)
		p = p.WithHeader("Retry-After", strconv.Itoa(secs)).With("retry_after_seconds", secs)
	}
	switch {
	case len(e.Params) > 0:
		errs := make([]FieldError, len(e.Params))
		for i, pe := range e.Params {
			errs[i] = FieldError{Field: pe.Param, Detail: pe.Detail}
		}
		p.Errors = errs
	case len(e.GraphQL) > 0:
		p = p.With("graphql_errors", e.GraphQL)
	}
	if kind == KindCircuitOpen {
		p = p.WithHeader("X-Junction-Circuit", "open")
	}
	return p, true
}
