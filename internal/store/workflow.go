package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/junctionhq/junction/internal/event"
)

// Workflow storage: runs of declared workflows (`workflow NAME { … }`) and the outcome of
// each of their steps. A step's outcome is stored before the next step starts, so a run
// resumes after a crash at its first unfinished step. A run is executed by the process
// that holds its lease (Owner, LeaseUntil); a run whose lease lapsed is claimed by any
// process sharing the database (PostgreSQL: FOR UPDATE SKIP LOCKED).

// WorkflowRunStatus is where a run stands.
type WorkflowRunStatus string

// The statuses of a run. Pending, running and waiting are live (the run has work left);
// the other four are final.
const (
	WorkflowPending   WorkflowRunStatus = "pending"   // created, no step started
	WorkflowRunning   WorkflowRunStatus = "running"   // a process is executing its steps
	WorkflowWaiting   WorkflowRunStatus = "waiting"   // sleeping, waiting for an event or a child run (NextAt: when to look again)
	WorkflowCompleted WorkflowRunStatus = "completed" // every step completed or was skipped
	WorkflowStopped   WorkflowRunStatus = "stopped"   // a step's condition ended it early, as declared (not a failure)
	WorkflowFailed    WorkflowRunStatus = "failed"    // a step failed (after its retries); compensations ran
	WorkflowCancelled WorkflowRunStatus = "cancelled" // cancelled through the API
)

// Valid reports whether s is one of the statuses.
func (s WorkflowRunStatus) Valid() bool {
	switch s {
	case WorkflowPending, WorkflowRunning, WorkflowWaiting, WorkflowCompleted, WorkflowStopped, WorkflowFailed, WorkflowCancelled:
		return true
	}
	return false
}

// Final reports whether a run in status s has no work left.
func (s WorkflowRunStatus) Final() bool {
	switch s {
	case WorkflowCompleted, WorkflowStopped, WorkflowFailed, WorkflowCancelled:
		return true
	}
	return false
}

// WorkflowStepStatus is where one step of a run stands.
type WorkflowStepStatus string

// The statuses of a step.
const (
	StepWaiting     WorkflowStepStatus = "waiting"     // sleeping or waiting for an event or a child run; State says for what
	StepCompleted   WorkflowStepStatus = "completed"   // done; Output is its result
	StepSkipped     WorkflowStepStatus = "skipped"     // its condition was false
	StepFailed      WorkflowStepStatus = "failed"      // its last attempt failed
	StepCompensated WorkflowStepStatus = "compensated" // completed, then undone by its compensation after a later failure
)

// WorkflowRun is one run of a workflow.
type WorkflowRun struct {
	ID         string
	Workflow   string
	Status     WorkflowRunStatus
	Input      json.RawMessage // a JSON object
	Output     json.RawMessage // a JSON value once completed or stopped; nil before
	Error      string          // why it failed, redacted by the caller
	FailedStep string          // the step that failed, or that stopped the run
	ParentID   string          // the run that started this one as a child step, if any
	ParentStep string
	Trigger    string // what started it: "api", "event:<event id>", "job:<job run id>", "flow:<flow>", "child"
	Owner      string // the process holding its lease; "" when none
	LeaseUntil *time.Time
	NextAt     *time.Time // when a live run is due (claimable once its lease lapsed); nil once final
	Deadline   *time.Time // created + the workflow's timeout; nil without one
	// CancelRequested is set by WorkflowRunCancel on a run some process holds: that
	// process stops it at the next step boundary.
	CancelRequested bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
	StartedAt       *time.Time // when its first step started
	FinishedAt      *time.Time
}

// WorkflowStep is the stored outcome of one step of a run. Steps not started have no row.
// Compensations are stored as steps whose StepID is "undo:" + the compensated step's ID.
type WorkflowStep struct {
	RunID      string
	StepID     string
	Status     WorkflowStepStatus
	Attempts   int
	Input      json.RawMessage // the resolved input it was called with
	Output     json.RawMessage
	Error      string
	State      json.RawMessage // what a waiting step waits for (the engine's own shape)
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// WorkflowRunCreateParams is a new run. When Owner is set the creator holds the lease
// until LeaseUntil and runs it at once; otherwise it is due at NextAt for any claimer.
type WorkflowRunCreateParams struct {
	Run WorkflowRun // ID, Workflow, Input, Trigger, ParentID/Step, Deadline, CreatedAt, NextAt, Owner, LeaseUntil
}

// WorkflowClaimParams ask for due runs: live runs with NextAt <= Now whose lease is
// none or expired.
type WorkflowClaimParams struct {
	Now   time.Time
	Limit int
	Lease time.Duration
	Owner string
}

// ClaimedRun is a run leased to the claimer, with the steps it has stored so far.
type ClaimedRun struct {
	Run   WorkflowRun
	Steps []WorkflowStep
}

// WorkflowRunUpdate changes a run's own row.
type WorkflowRunUpdate struct {
	Status     WorkflowRunStatus
	Output     json.RawMessage
	Error      string
	FailedStep string
	NextAt     *time.Time // due time while live (waiting); nil when final
	StartedAt  *time.Time // set once; a nil keeps what is stored
	FinishedAt *time.Time
	// Release ends the lease (Owner and LeaseUntil cleared): set when the run is final
	// or waits (another process may pick it up when it is due).
	Release bool
}

// WorkflowWrite is what one run stores at a step boundary: the steps' outcomes and,
// optionally, the run's new state. It is applied only while Owner still holds the run's
// lease; the lease is then extended to LeaseUntil (unless Run.Release).
type WorkflowWrite struct {
	RunID      string
	Owner      string
	LeaseUntil time.Time
	Steps      []WorkflowStep // inserted or replaced, keyed by (RunID, StepID)
	Run        *WorkflowRunUpdate
	At         time.Time // updated_at
}

// WorkflowRunFilter selects runs for WorkflowRunList.
type WorkflowRunFilter struct {
	Workflow string            // "" = every workflow
	Status   WorkflowRunStatus // "" = every status
	ParentID string            // "" = any
	Page
}

// WorkflowStore is the workflow part of Store.
type WorkflowStore interface {
	// WorkflowRunCreate stores a new run. It is idempotent by ID: when a run with that ID
	// exists it returns that run and false, changing nothing (so a trigger retried after a
	// crash does not start a second run).
	WorkflowRunCreate(ctx context.Context, p WorkflowRunCreateParams) (WorkflowRun, bool, error)
	// WorkflowClaim leases up to Limit due runs (live, NextAt <= Now, no lease or an
	// expired one), earliest due first, with their stored steps; it sets Owner and
	// LeaseUntil = Now + Lease. Concurrent claimers never get the same run.
	WorkflowClaim(ctx context.Context, p WorkflowClaimParams) ([]ClaimedRun, error)
	// WorkflowSave applies writes in one transaction. Each write applies only if its Owner
	// holds the run's lease (not expired at w.At); the result has one entry per write:
	// nil, or ErrLeaseLost when that write was not applied. The error is for the
	// transaction as a whole (nothing applied).
	WorkflowSave(ctx context.Context, writes []WorkflowWrite) ([]error, error)
	// WorkflowLeaseRenew extends to until the leases owner holds on the given runs and
	// returns the IDs among them it no longer holds. A run whose cancellation was
	// requested is not renewed and is returned too: its holder lets it go, and the claim
	// after its lease lapses cancels it (WorkflowRunCancel).
	WorkflowLeaseRenew(ctx context.Context, owner string, ids []string, until time.Time) (lost []string, err error)
	// WorkflowRunGet returns a run and its steps in the order they started.
	// ErrNotFound.
	WorkflowRunGet(ctx context.Context, id string) (WorkflowRun, []WorkflowStep, error)
	// WorkflowRunList returns a page of runs, newest first, and how many match.
	WorkflowRunList(ctx context.Context, f WorkflowRunFilter) ([]WorkflowRun, int, error)
	// WorkflowRunCancel cancels a live run: one no process holds (or whose lease expired)
	// becomes cancelled at once; one a process holds gets CancelRequested and NextAt = at,
	// and its holder stops it. ErrNotFound; ErrConflict when the run is final.
	WorkflowRunCancel(ctx context.Context, id string, at time.Time) (WorkflowRun, error)
	// WorkflowRunRetry makes a failed run pending and due at `at`, from the failed step:
	// its completed and skipped steps are kept, every other step row (failed,
	// compensated, and the "undo:" compensation rows) is deleted. ErrNotFound;
	// ErrConflict when it is not failed.
	WorkflowRunRetry(ctx context.Context, id string, at time.Time) (WorkflowRun, error)
	// WorkflowWake makes the given waiting runs due at `at` (an event they wait for
	// arrived, a child finished). Runs that are not waiting are left alone.
	WorkflowWake(ctx context.Context, ids []string, at time.Time) error
	// WorkflowCounts counts runs by workflow and status.
	WorkflowCounts(ctx context.Context) (map[string]map[WorkflowRunStatus]int, error)
	// WorkflowEventsSince returns up to limit events of the type created at or after
	// `after`, oldest first: what a step waiting for an event looks through.
	WorkflowEventsSince(ctx context.Context, eventType string, after time.Time, limit int) ([]event.Event, error)
}
