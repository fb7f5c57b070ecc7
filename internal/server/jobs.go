package server

import (
	"context"
	"net/http"
	"time"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/errkind"
	"github.com/junctionhq/junction/internal/job"
	"github.com/junctionhq/junction/internal/webhook"
)

// Jobs is what the job API needs of the scheduled jobs (runtime.JobsView).
type Jobs interface {
	Jobs(ctx context.Context) ([]job.Info, error)
	Job(ctx context.Context, name string) (job.Info, error)                        // job.ErrNotFound
	Runs(ctx context.Context, name string, p webhook.Page) ([]job.Run, int, error) // job.ErrNotFound
	Trigger(name string) (runID string, err error)                                 // job.ErrNotFound
}

func (s *Server) jobRoutes() {
	s.handle("GET /jobs", auth.RoleUser, s.listJobs)
	s.handle("GET /jobs/{name}", auth.RoleUser, s.getJob)
	s.handle("GET /jobs/{name}/runs", auth.RoleUser, s.listJobRuns)
	s.handle("POST /jobs/{name}/trigger", auth.RoleAdmin, s.triggerJob)
}

// jobRunJSON is a run in the API.
type jobRunJSON struct {
	ID         string     `json:"id"`
	Job        string     `json:"job"`
	Tick       time.Time  `json:"tick"`
	Manual     bool       `json:"manual"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

func toJobRunJSON(r job.Run) jobRunJSON {
	return jobRunJSON{ID: r.ID, Job: r.Job, Tick: r.Tick, Manual: r.Manual, Status: string(r.Status), Attempts: r.Attempts,
		Error: r.Error, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

type jobJSON struct {
	job.Info
	LastRun *jobRunJSON `json:"last_run"`
}

func toJobJSON(i job.Info) jobJSON {
	out := jobJSON{Info: i}
	if i.LastRun != nil {
		r := toJobRunJSON(*i.LastRun)
		out.LastRun = &r
	}
	return out
}

func noSuchJob(err error) error {
	return describe(err, errkind.ErrNotFound, "no such job")
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	jobs, err := s.jobs.Jobs(r.Context())
	if err != nil {
		return err
	}
	data := make([]jobJSON, len(jobs))
	for i, j := range jobs {
		data[i] = toJobJSON(j)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobs.Job(r.Context(), r.PathValue("name"))
	if err != nil {
		return noSuchJob(err)
	}
	return writeJSON(w, http.StatusOK, toJobJSON(j))
}

func (s *Server) listJobRuns(w http.ResponseWriter, r *http.Request) error {
	p, errs := listQuery(r)
	if len(errs) > 0 {
		return invalid("invalid query parameters", errs...)
	}
	runs, total, err := s.jobs.Runs(r.Context(), r.PathValue("name"), p)
	if err != nil {
		return noSuchJob(err)
	}
	data := make([]jobRunJSON, len(runs))
	for i, run := range runs {
		data[i] = toJobRunJSON(run)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data, "pagination": pageOf(p, total)})
}

func (s *Server) triggerJob(w http.ResponseWriter, r *http.Request) error {
	id, err := s.jobs.Trigger(r.PathValue("name"))
	if err != nil {
		return noSuchJob(err)
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"job": r.PathValue("name"), "run_id": id})
}
