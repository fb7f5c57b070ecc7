package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/workflow"
)

// Workflows is what the workflow API needs of the workflow engine (runtime.WorkflowsView).
type Workflows interface {
	Workflows(ctx context.Context) ([]workflow.Info, error)
	StartRun(ctx context.Context, name string, input json.RawMessage, o workflow.StartOptions) (workflow.Run, bool, error)
	Wait(ctx context.Context, id string) (workflow.Run, []workflow.Step, error)
	Get(ctx context.Context, id string) (workflow.Run, []workflow.Step, error)
	List(ctx context.Context, f workflow.Filter) ([]workflow.Run, int, error)
	Cancel(ctx context.Context, id string) (workflow.Run, error)
	Retry(ctx context.Context, id string) (workflow.Run, error)
}

// MaxWorkflowWait bounds ?wait= on POST /workflows/{name}/runs: under the server's
// write timeout, as X-Junction-Timeout is.
const MaxWorkflowWait = 55 * time.Second

func (s *Server) workflowRoutes() {
	s.handle("GET /workflows", auth.RoleUser, s.listWorkflows)
	s.handle("POST /workflows/{name}/runs", auth.RoleUser, s.startWorkflowRun)
	// GET /workflows/{name}/runs and GET /workflows/runs/{id} overlap for ServeMux
	// (/workflows/runs/runs); one pattern serves both, runs/{id} first.
	s.handle("GET /workflows/{first}/{second}", auth.RoleUser, s.getWorkflowRunOrRuns)
	s.handle("POST /workflows/runs/{id}/cancel", auth.RoleUser, s.cancelWorkflowRun)
	s.handle("POST /workflows/runs/{id}/retry", auth.RoleUser, s.retryWorkflowRun)
}

// workflowRunJSON is a run in the API.
type workflowRunJSON struct {
	ID         string          `json:"id"`
	Workflow   string          `json:"workflow"`
	Status     string          `json:"status"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	FailedStep string          `json:"failed_step,omitempty"`
	StoppedAt  string          `json:"stopped_at,omitempty"`
	ParentID   string          `json:"parent_id,omitempty"`
	Trigger    string          `json:"trigger"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	Deadline   *time.Time      `json:"deadline,omitempty"`
	NextAt     *time.Time      `json:"next_check_at,omitempty"`
	Steps      []stepJSON      `json:"steps,omitempty"`
}

type stepJSON struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	Input      json.RawMessage `json:"input,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	Waiting    json.RawMessage `json:"waiting_for,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	DurationMS *float64        `json:"duration_ms,omitempty"`
}

func toWorkflowRunJSON(r workflow.Run, steps []workflow.Step) workflowRunJSON {
	out := workflowRunJSON{
		ID: r.ID, Workflow: r.Workflow, Status: string(r.Status), Input: r.Input, Output: r.Output, Error: r.Error,
		ParentID: r.ParentID, Trigger: r.Trigger, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Deadline: r.Deadline,
	}
	if r.Status == workflow.Stopped {
		out.StoppedAt = r.FailedStep
	} else {
		out.FailedStep = r.FailedStep
	}
	if !r.Status.Final() {
		out.NextAt = r.NextAt
	}
	for _, st := range steps {
		j := stepJSON{ID: st.StepID, Status: string(st.Status), Attempts: st.Attempts, Input: st.Input, Output: st.Output,
			Error: st.Error, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt}
		if st.Status == workflow.StepWaiting {
			j.Waiting = st.State
		}
		if st.StartedAt != nil && st.FinishedAt != nil {
			ms := float64(st.FinishedAt.Sub(*st.StartedAt).Microseconds()) / 1000
			j.DurationMS = &ms
		}
		out.Steps = append(out.Steps, j)
	}
	return out
}

func noSuchWorkflow(err error, name string) error {
	return describe(err, errkind.ErrNotFound, fmt.Sprintf("no workflow named %q is declared", name))
}

func noSuchRun(err error) error {
	return describe(describe(err, errkind.ErrNotFound, "no such workflow run"), errkind.ErrConflict, "the run is not in a state that allows this")
}

func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	wfs, err := s.workflows.Workflows(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": wfs})
}

// startWorkflowRun stores a run (202 with its ID); with ?wait=DURATION it answers with
// the result when the run ends in time (200; a failed run too: the run is the answer),
// else 202 with the run as it stands.
func (s *Server) startWorkflowRun(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var wait time.Duration
	for k := range q {
		if k != "wait" {
			return invalid("invalid query parameters", FieldError{Field: k, Detail: "unknown query parameter"})
		}
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxWorkflowWait {
			return invalid("invalid query parameters", FieldError{Field: "wait", Detail: fmt.Sprintf("expected a duration from 0s to %s, such as 30s", MaxWorkflowWait)})
		}
		wait = d
	}
	input := json.RawMessage(`{}`)
	if r.ContentLength != 0 {
		var body map[string]json.RawMessage
		if err := decodeJSON(w, r, s.maxBodyBytes, &body); err != nil {
			return err
		}
		if body == nil {
			return invalid("the body must be a JSON object: the run's input", FieldError{Field: "", Detail: "expected an object"})
		}
		input, _ = json.Marshal(body)
	}
	run, _, err := s.workflows.StartRun(r.Context(), r.PathValue("name"), input, workflow.StartOptions{Trigger: "api"})
	if err != nil {
		return noSuchWorkflow(err, r.PathValue("name"))
	}
	w.Header().Set("Location", "/workflows/runs/"+run.ID)
	if wait <= 0 {
		return writeJSON(w, http.StatusAccepted, toWorkflowRunJSON(run, nil))
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	final, steps, err := s.workflows.Wait(ctx, run.ID)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if final.Status.Final() {
		status = http.StatusOK
	}
	return writeJSON(w, status, toWorkflowRunJSON(final, steps))
}

func (s *Server) getWorkflowRunOrRuns(w http.ResponseWriter, r *http.Request) error {
	first, second := r.PathValue("first"), r.PathValue("second")
	switch {
	case first == "runs":
		return s.getWorkflowRun(w, r, second)
	case second == "runs":
		return s.listWorkflowRuns(w, r, first)
	}
	return NewProblem(KindNotFound, "no such route: GET /workflows/{name}/runs or GET /workflows/runs/{id}")
}

func (s *Server) listWorkflowRuns(w http.ResponseWriter, r *http.Request, name string) error {
	p, errs := listQuery(r, "status")
	status := workflow.Status(r.URL.Query().Get("status"))
	if status != "" && !status.Valid() {
		errs = append(errs, FieldError{Field: "status", Detail: "expected pending, running, waiting, completed, stopped, failed or cancelled"})
	}
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	runs, total, err := s.workflows.List(r.Context(), workflow.Filter{Workflow: name, Status: status, Page: p})
	if err != nil {
		return noSuchWorkflow(err, name)
	}
	data := make([]workflowRunJSON, len(runs))
	for i, run := range runs {
		data[i] = toWorkflowRunJSON(run, nil)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data, "pagination": pageOf(p, total)})
}

func (s *Server) getWorkflowRun(w http.ResponseWriter, r *http.Request, id string) error {
	run, steps, err := s.workflows.Get(r.Context(), id)
	if err != nil {
		return noSuchRun(err)
	}
	return writeJSON(w, http.StatusOK, toWorkflowRunJSON(run, steps))
}

func (s *Server) cancelWorkflowRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.workflows.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		return noSuchRun(err)
	}
	return writeJSON(w, http.StatusAccepted, toWorkflowRunJSON(run, nil))
}

func (s *Server) retryWorkflowRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.workflows.Retry(r.Context(), r.PathValue("id"))
	if err != nil {
		return noSuchRun(err)
	}
	return writeJSON(w, http.StatusAccepted, toWorkflowRunJSON(run, nil))
}
