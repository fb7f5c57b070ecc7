package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/store"
)

// Flows is what the flow API needs of the running flows.
type Flows interface {
	List(ctx context.Context) []flow.Status
	Status(ctx context.Context, name string) (flow.Status, error) // flow.ErrNotFound
	StartFlow(name string) error
	StopFlow(ctx context.Context, name string) error
	Logs(name string, limit int) ([]flow.LogEntry, error)
	Replay(ctx context.Context, deadLetterID string) error
	// Inbound hands a POST to /in/{path} to the flow receiving it; ok is false
	// when none does. It returns once the flow is done with the message.
	Inbound(ctx context.Context, path string, m connector.Message) (ok bool, err error)
}

// Problem kinds of the flow API.
const (
	KindFlowStopped  Kind = "flow-stopped"  // 409: replay or inbound message while the flow is stopped
	KindReplayFailed Kind = "replay-failed" // 409: the replayed message failed again; it stays
)

// flowStopTimeout bounds how long POST /flows/{name}/stop waits for messages in flight.
const flowStopTimeout = 30 * time.Second

func (s *Server) flowRoutes() {
	s.handle("GET /flows", store.RoleUser, s.listFlows)
	s.handle("GET /flows/{name}", store.RoleUser, s.getFlow)
	s.handle("GET /flows/{name}/logs", store.RoleUser, s.flowLogs)
	s.handle("POST /flows/{name}/start", store.RoleAdmin, s.startFlow)
	s.handle("POST /flows/{name}/stop", store.RoleAdmin, s.stopFlow)
	s.handle("POST /in/{path...}", store.RoleUser, s.flowInbound)
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]any{"data": s.flows.List(r.Context())})
}

func (s *Server) getFlow(w http.ResponseWriter, r *http.Request) {
	st, err := s.flows.Status(r.Context(), r.PathValue("name"))
	if err != nil {
		s.flowFailed(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, st)
}

func (s *Server) flowLogs(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			WriteProblem(w, r, invalid("invalid query parameters", FieldError{Field: "limit", Detail: "expected a whole number from 1 to 500"}))
			return
		}
		limit = n
	}
	logs, err := s.flows.Logs(r.PathValue("name"), limit)
	if err != nil {
		s.flowFailed(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"data": logs})
}

func (s *Server) startFlow(w http.ResponseWriter, r *http.Request) {
	if err := s.flows.StartFlow(r.PathValue("name")); err != nil {
		s.flowFailed(w, r, err)
		return
	}
	s.getFlow(w, r)
}

func (s *Server) stopFlow(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), flowStopTimeout)
	defer cancel()
	if err := s.flows.StopFlow(ctx, r.PathValue("name")); err != nil {
		s.flowFailed(w, r, err)
		return
	}
	s.getFlow(w, r)
}

// flowInbound answers 202 once the flow delivered the message (or kept it in its
// dead-letter queue), 503 when it could not take it (the caller should send it again).
func (s *Server) flowInbound(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBodyBytes))
	if err != nil {
		WriteProblem(w, r, NewProblem(KindPayloadTooLarge, "the message is larger than the request body limit"))
		return
	}
	headers := map[string]string{"content_type": r.Header.Get("Content-Type"), "path": r.PathValue("path")}
	ok, err := s.flows.Inbound(r.Context(), r.PathValue("path"), connector.Message{Body: body, Headers: headers, Time: s.clock()})
	switch {
	case !ok:
		WriteProblem(w, r, NewProblem(KindNotFound, "no running flow receives /in/"+r.PathValue("path")))
	case err != nil:
		WriteProblem(w, r, NewProblem(KindUnavailable, "the flow could not take the message now; send it again"))
	default:
		s.writeJSON(w, r, http.StatusAccepted, map[string]any{"accepted": true})
	}
}

func (s *Server) listFlowDeadLetters(w http.ResponseWriter, r *http.Request) {
	p, errs := listQuery(r, "flow", "queue")
	if len(errs) > 0 {
		WriteProblem(w, r, invalid("invalid query parameters", errs...))
		return
	}
	q := r.URL.Query()
	dls, total, err := s.store.FlowDeadLetterList(r.Context(), store.FlowDeadLetterFilter{Flow: q.Get("flow"), Queue: q.Get("queue"), Page: p})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	data := make([]flowDeadLetterJSON, len(dls))
	for i, d := range dls {
		data[i] = toFlowDeadLetterJSON(d)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"data": data, "pagination": pageOf(p, total)})
}

func (s *Server) replayFlowDeadLetter(w http.ResponseWriter, r *http.Request) {
	if s.flows == nil {
		WriteProblem(w, r, NewProblem(KindNotFound, "no such dead letter"))
		return
	}
	if err := s.flows.Replay(r.Context(), r.PathValue("id")); err != nil {
		s.flowFailed(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"id": r.PathValue("id"), "replayed": true})
}

func (s *Server) flowFailed(w http.ResponseWriter, r *http.Request, err error) {
	var replay *flow.ReplayError
	switch {
	case errors.Is(err, flow.ErrNotFound):
		WriteProblem(w, r, NewProblem(KindNotFound, err.Error()))
	case errors.Is(err, store.ErrNotFound):
		WriteProblem(w, r, NewProblem(KindNotFound, "no such dead letter"))
	case errors.As(err, &replay):
		WriteProblem(w, r, NewProblem(KindReplayFailed, err.Error()).With("step", replay.Step.Step))
	case errors.Is(err, flow.ErrStopped):
		WriteProblem(w, r, NewProblem(KindFlowStopped, err.Error()))
	case errors.Is(err, store.ErrUnavailable):
		s.storeUnavailable(w, r, err, "the dead letter could not be read or removed because the store is unavailable; retry later")
	default:
		WriteProblem(w, r, NewProblem(KindUnavailable, err.Error()))
	}
}

// flowDeadLetterJSON is a flow's dead letter in the API. The body is shown as JSON when
// it is JSON, as a string otherwise.
type flowDeadLetterJSON struct {
	ID        string            `json:"id"`
	Flow      string            `json:"flow"`
	Queue     string            `json:"queue"`
	Step      string            `json:"step"`
	Error     string            `json:"error"`
	Message   any               `json:"message"`
	Headers   map[string]string `json:"headers,omitempty"`
	SourceID  string            `json:"source_id,omitempty"`
	Attempts  int               `json:"attempts"`
	CreatedAt time.Time         `json:"created_at"`
}

func toFlowDeadLetterJSON(d store.FlowDeadLetter) flowDeadLetterJSON {
	return flowDeadLetterJSON{
		ID: d.ID, Flow: d.Flow, Queue: d.Queue, Step: d.Step, Error: d.Error,
		Message: rawOrString(d.Body), Headers: d.Headers, SourceID: d.SourceID,
		Attempts: d.Attempts, CreatedAt: d.CreatedAt,
	}
}

func rawOrString(b []byte) any {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	return string(b)
}
