package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/report"
)

// Reports is what the report API needs (*report.Recorder).
type Reports interface {
	Report(ctx context.Context, q report.Query) (report.Report, error) // report.ErrRange, report.ErrStep
}

// Defaults of GET /reports.
const (
	reportRangeDefault = 24 * time.Hour
	reportStepDefault  = time.Hour
)

func (s *Server) reportRoutes() {
	s.handle("GET /reports", auth.RoleUser, s.getReport)
}

// getReport is GET /reports?from=&to=&integration=&operation=&step=.
func (s *Server) getReport(w http.ResponseWriter, r *http.Request) error {
	q, errs := reportQuery(r, s.clock())
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	rep, err := s.reports.Report(r.Context(), q)
	switch {
	case errors.Is(err, report.ErrRange):
		return invalid("invalid query parameters", FieldError{Field: "to", Detail: err.Error()})
	case errors.Is(err, report.ErrStep):
		return invalid("invalid query parameters", FieldError{Field: "step", Detail: err.Error()})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, rep.Document())
}

// reportQuery reads the query string: times in RFC 3339 or relative to now (-24h),
// step as a duration (15m, 1h, 1d); the defaults are the last 24 hours in hours. With
// from relative to now, from is rounded down and a relative to up to whole steps (see
// report.AlignTime), as Grafana aligns to its interval: the default reads the store's
// hour sums, where the last 24 hours to the minute read every minute of them. Times
// in RFC 3339 stay as they are.
func reportQuery(r *http.Request, now time.Time) (report.Query, []FieldError) {
	q := report.Query{From: now.Add(-reportRangeDefault), To: now, Step: reportStepDefault}
	fromRelative, toRelative := true, true
	var errs []FieldError
	values := r.URL.Query()
	for k, vs := range values {
		switch k {
		case "from", "to", "step", "integration", "operation":
			if len(vs) > 1 {
				errs = append(errs, FieldError{Field: k, Detail: "given more than once"})
			}
		default:
			errs = append(errs, FieldError{Field: k, Detail: "unknown query parameter; expected from, to, step, integration or operation"})
		}
	}
	for _, name := range []string{"from", "to"} {
		v := values.Get(name)
		if v == "" {
			continue
		}
		t, relative, err := report.ParseTime(v, now)
		if err != nil {
			errs = append(errs, FieldError{Field: name, Detail: err.Error()})
			continue
		}
		if name == "from" {
			q.From, fromRelative = t, relative
		} else {
			q.To, toRelative = t, relative
		}
	}
	if v := values.Get("step"); v != "" {
		d, err := report.ParseDuration(v)
		if err != nil {
			errs = append(errs, FieldError{Field: "step", Detail: err.Error()})
		} else {
			q.Step = d
		}
	}
	if fromRelative && q.To.After(q.From) { // a range the wrong way round stays wrong
		q.From = report.AlignTime(q.From, q.Step, false)
		if toRelative {
			q.To = report.AlignTime(q.To, q.Step, true)
		}
	}
	for _, name := range []string{"integration", "operation"} {
		v := values.Get(name)
		if msg := identifierProblem(v); v != "" && msg != "" {
			errs = append(errs, FieldError{Field: name, Detail: msg})
		}
	}
	q.Integration, q.Operation = values.Get("integration"), values.Get("operation")
	return q, errs
}
