package server

import (
	"context"
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/handler"
)

// Handlers is what the server needs of the event handlers (runtime.HandlersView).
type Handlers interface {
	List(ctx context.Context) ([]handler.Info, error)
	ListExecutions(ctx context.Context, f handler.Filter) ([]handler.Execution, int, error)
	Retry(ctx context.Context, id string) (handler.Execution, error)
}

func (s *Server) handlerRoutes() {
	s.handle("GET /handlers", auth.RoleUser, s.listHandlers)
	s.handle("GET /handlers/executions", auth.RoleUser, s.listExecutions)
	s.handle("POST /handlers/executions/{id}/retry", auth.RoleUser, notFoundSays("no such handler execution", s.retryExecution))
}

type handlerJSON struct {
	Name       string         `json:"name"`
	DeclaredAt string         `json:"declared_at"`
	Event      string         `json:"event"`
	Action     string         `json:"action"`
	Target     string         `json:"target"`
	Async      bool           `json:"async"`
	Runs       bool           `json:"runs"`
	Executions map[string]int `json:"executions"`
}

func (s *Server) listHandlers(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.handlers.List(r.Context())
	if err != nil {
		return err
	}
	data := make([]handlerJSON, 0, len(hs))
	for _, h := range hs {
		counts := map[string]int{}
		for st, n := range h.Counts {
			counts[string(st)] = n
		}
		data = append(data, handlerJSON{Name: h.Name, DeclaredAt: h.At, Event: h.Event, Action: h.Action,
			Target: h.Target, Async: h.Async, Runs: h.Runs, Executions: counts})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// executionJSON is one execution. Its error was redacted when it was recorded.
type executionJSON struct {
	ID        string     `json:"id"`
	Handler   string     `json:"handler"`
	EventID   string     `json:"event_id"`
	EventType string     `json:"event_type"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	MaxAtt    int        `json:"max_attempts"`
	Depth     int        `json:"depth"`
	NextRunAt *time.Time `json:"next_run_at"`
	LastError *string    `json:"last_error"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func toExecutionJSON(x handler.Execution) executionJSON {
	j := executionJSON{ID: x.ID, Handler: x.Handler, EventID: x.EventID, EventType: x.EventType, Status: string(x.Status),
		Attempts: x.Attempts, MaxAtt: x.MaxAttempts, Depth: x.Depth, NextRunAt: x.NextRunAt, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
	if x.LastError != "" {
		j.LastError = &x.LastError
	}
	return j
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) error {
	p, errs := listQuery(r, "status", "event")
	f := handler.Filter{Page: p, EventType: r.URL.Query().Get("event")}
	if v := r.URL.Query().Get("status"); v != "" {
		switch st := handler.Status(v); st {
		case handler.StatusPending, handler.StatusFailed, handler.StatusDone, handler.StatusDead:
			f.Status = st
		default:
			errs = append(errs, FieldError{Field: "status", Detail: "expected pending, failed, done or dead"})
		}
	}
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	xs, total, err := s.handlers.ListExecutions(r.Context(), f)
	if err != nil {
		return err
	}
	data := make([]executionJSON, len(xs))
	for i, x := range xs {
		data[i] = toExecutionJSON(x)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data, "pagination": pageOf(p, total)})
}

func (s *Server) retryExecution(w http.ResponseWriter, r *http.Request) error {
	x, err := s.handlers.Retry(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, toExecutionJSON(x))
}
