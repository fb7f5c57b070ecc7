package store

import (
	"context"
	"time"
)

// Job storage: the runs of scheduled jobs (`job NAME { … }`). Each tick of a job is
// claimed by inserting the row keyed by (job, tick): the insert that wins runs the tick,
// so a tick runs once however many processes share the database. A run whose owner
// died (its lease lapsed while it was still running) is taken over by the next claim.

// JobRunStatus is where a run is.
type JobRunStatus string

// The statuses of a run.
const (
	JobRunRunning   JobRunStatus = "running"
	JobRunSucceeded JobRunStatus = "succeeded"
	JobRunFailed    JobRunStatus = "failed"
)

// JobRun is one run of a job.
type JobRun struct {
	ID         string
	Job        string
	Tick       time.Time // the scheduled time, or when a manual run was triggered
	Manual     bool      // triggered through the API, outside the schedule
	Status     JobRunStatus
	Attempts   int
	Error      string // why the last attempt failed, redacted by the caller
	Owner      string // the process running it
	LeaseUntil time.Time
	StartedAt  time.Time
	FinishedAt *time.Time
}

// JobRunFilter selects runs for JobRunList.
type JobRunFilter struct {
	Job string // "" = every job
	Page
}

// JobStore is the job part of Store.
type JobStore interface {
	// JobRunClaim stores r as running, unless r is a scheduled run and the job already
	// has a run for r.Tick: that one is taken over if it is still running and its lease
	// ended before r.StartedAt (its owner died), keeping its ID and attempts. It returns
	// the run the caller now owns, and false when another process holds or finished it.
	JobRunClaim(ctx context.Context, r JobRun) (JobRun, bool, error)
	// JobRunRenew extends the lease of a running run owner holds. ErrNotFound when it no
	// longer holds it.
	JobRunRenew(ctx context.Context, id, owner string, until time.Time) error
	// JobRunFinish records the outcome (Status, Attempts, Error, FinishedAt) of the run
	// r.ID that r.Owner holds. ErrNotFound when it no longer holds it.
	JobRunFinish(ctx context.Context, r JobRun) error
	// JobRunList returns a page of runs, latest tick first, and how many match.
	JobRunList(ctx context.Context, f JobRunFilter) ([]JobRun, int, error)
	// JobLastTick returns the latest tick of a job's scheduled runs; ok is false when it
	// has none. Catch-up after downtime starts from it.
	JobLastTick(ctx context.Context, job string) (tick time.Time, ok bool, err error)
}
