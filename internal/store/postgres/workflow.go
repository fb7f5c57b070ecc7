package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Workflow storage (store.WorkflowStore): runs and the outcomes of their steps. A run's
// lease is its owner and lease_until columns; every write of its holder is conditional
// on both, so a process whose lease lapsed and was taken over cannot write any more.

var workflowRunColumns = []string{
	"id", "workflow", "status", "input", "output", "error", "failed_step", "parent_id", "parent_step",
	"triggered_by", "owner", "lease_until", "next_at", "deadline", "cancel_requested",
	"created_at", "updated_at", "started_at", "finished_at",
}

var workflowStepColumns = []string{
	"run_id", "step_id", "status", "attempts", "input", "output", "error", "state", "started_at", "finished_at",
}

// liveRun is the condition of a run with work left; the claim's partial index has it.
const liveRun = `status IN ('pending', 'running', 'waiting')`

// WorkflowRunCreate implements store.Store.
func (s *Store) WorkflowRunCreate(ctx context.Context, p store.WorkflowRunCreateParams) (store.WorkflowRun, bool, error) {
	r, err := storeinput.NormalizeWorkflowRun(p.Run)
	if err != nil {
		return store.WorkflowRun{}, false, fmt.Errorf("postgres: workflow run create: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO workflow_runs (`+columns("", workflowRunColumns)+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (id) DO NOTHING`, workflowRunArgs(r)...)
	if err != nil {
		return store.WorkflowRun{}, false, fmt.Errorf("postgres: workflow run create %q: %w", r.ID, mapError(err))
	}
	if tag.RowsAffected() == 1 {
		return r, true, nil
	}
	existing, err := scanWorkflowRun(s.pool.QueryRow(ctx, `SELECT `+columns("", workflowRunColumns)+` FROM workflow_runs WHERE id = $1`, r.ID))
	if err != nil {
		return store.WorkflowRun{}, false, fmt.Errorf("postgres: workflow run create %q: %w", r.ID, mapError(err))
	}
	return existing, false, nil
}

func workflowRunArgs(r store.WorkflowRun) []any {
	return []any{r.ID, r.Workflow, string(r.Status), []byte(r.Input), []byte(r.Output), r.Error, r.FailedStep,
		r.ParentID, r.ParentStep, r.Trigger, r.Owner, r.LeaseUntil, r.NextAt, r.Deadline, r.CancelRequested,
		r.CreatedAt, r.UpdatedAt, r.StartedAt, r.FinishedAt}
}

// WorkflowClaim implements store.Store: one statement leases the runs, FOR UPDATE SKIP
// LOCKED letting concurrent claimers pass over each other's rows without waiting; a
// second query reads their steps. A run's steps cannot change in between: its previous
// holder's writes now fail the owner check.
func (s *Store) WorkflowClaim(ctx context.Context, p store.WorkflowClaimParams) ([]store.ClaimedRun, error) {
	if err := storeinput.CheckWorkflowClaim(p); err != nil {
		return nil, fmt.Errorf("postgres: workflow claim: %w", err)
	}
	now, leaseEnd := store.NormalizeTime(p.Now), store.NormalizeTime(p.Now.Add(p.Lease))
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM workflow_runs
			WHERE `+liveRun+` AND next_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY next_at, id LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE workflow_runs r SET owner = $3, lease_until = $4
		FROM due WHERE r.id = due.id
		RETURNING `+columns("r", workflowRunColumns), now, p.Limit, p.Owner, leaseEnd)
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow claim: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.WorkflowRun, error) { return scanWorkflowRun(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow claim: %w", err)
	}
	if len(runs) == 0 {
		return nil, nil
	}
	slices.SortFunc(runs, func(a, b store.WorkflowRun) int {
		return cmp.Or(a.NextAt.Compare(*b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	steps, err := queryWorkflowSteps(ctx, s.pool, `SELECT `+columns("", workflowStepColumns)+`
		FROM workflow_steps WHERE run_id = ANY($1) ORDER BY run_id, seq`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow claim: steps: %w", err)
	}
	byRun := make(map[string][]store.WorkflowStep, len(runs))
	for _, st := range steps {
		byRun[st.RunID] = append(byRun[st.RunID], st)
	}
	claimed := make([]store.ClaimedRun, len(runs))
	for i, r := range runs {
		claimed[i] = store.ClaimedRun{Run: r, Steps: byRun[r.ID]}
	}
	return claimed, nil
}

// saveSQL applies one round of writes (store.WorkflowWrite), each to a different run,
// in one statement: the runs whose lease the writer holds at its time are updated, the
// steps of those runs (and only those) inserted or replaced, and the IDs of the updated
// runs returned. A lease is held until, not at, its end: from then on a claim may take
// the run (lease_until <= now). Sub-statements of a WITH see the same snapshot, so the
// step insert learns which updates applied from the update's RETURNING alone. Columns
// of a write without a run update (has_run false) keep their values; next_at is
// cleared for a final status and otherwise kept unless the update sets it.
var saveSQL = `WITH w AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
			$6::boolean[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::timestamptz[],
			$12::timestamptz[], $13::timestamptz[], $14::boolean[])
			AS w(id, owner, new_owner, new_lease, at, has_run, status, output, error, failed_step,
				next_at, started_at, finished_at, final)
	), held AS (
		UPDATE workflow_runs r SET
			status = CASE WHEN w.has_run THEN w.status ELSE r.status END,
			output = CASE WHEN w.has_run THEN w.output ELSE r.output END,
			error = CASE WHEN w.has_run THEN w.error ELSE r.error END,
			failed_step = CASE WHEN w.has_run THEN w.failed_step ELSE r.failed_step END,
			next_at = CASE WHEN w.final THEN NULL ELSE COALESCE(w.next_at, r.next_at) END,
			started_at = COALESCE(w.started_at, r.started_at),
			finished_at = CASE WHEN w.has_run THEN w.finished_at ELSE r.finished_at END,
			owner = w.new_owner, lease_until = w.new_lease, updated_at = w.at
		FROM w
		WHERE r.id = w.id AND r.owner = w.owner AND r.lease_until > w.at
		RETURNING r.id
	), steps AS (
		INSERT INTO workflow_steps (` + columns("", workflowStepColumns) + `)
		SELECT s.run_id, s.step_id, s.status, s.attempts, s.input, s.output, s.error, s.state,
			s.started_at, s.finished_at
		FROM unnest($15::text[], $16::text[], $17::text[], $18::integer[], $19::bytea[], $20::bytea[],
			$21::text[], $22::bytea[], $23::timestamptz[], $24::timestamptz[]) WITH ORDINALITY
			AS s(run_id, step_id, status, attempts, input, output, error, state, started_at, finished_at, n)
		WHERE s.run_id IN (SELECT id FROM held)
		ORDER BY s.n
		ON CONFLICT (run_id, step_id) DO UPDATE SET
			status = excluded.status, attempts = excluded.attempts, input = excluded.input,
			output = excluded.output, error = excluded.error, state = excluded.state,
			started_at = excluded.started_at, finished_at = excluded.finished_at
	)
	SELECT id FROM held`

// WorkflowSave implements store.Store in one round trip: one pgx.Batch, which pgx runs
// as one implicit transaction, holding one saveSQL per round. Writes are split into
// rounds so that no statement updates a run twice (a run's k-th write of the batch is in
// round k, and sees the earlier ones); almost every batch is one round.
func (s *Store) WorkflowSave(ctx context.Context, writes []store.WorkflowWrite) ([]error, error) {
	writes, err := storeinput.NormalizeWorkflowWrites(writes)
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow save: %w", err)
	}
	results := make([]error, len(writes))
	if len(writes) == 0 {
		return results, nil
	}
	rounds := saveRounds(writes)
	applied := make([]map[string]bool, len(rounds))
	b := &pgx.Batch{}
	for k, round := range rounds {
		applied[k] = make(map[string]bool, len(round))
		var c saveColumns
		for _, i := range round {
			c.addWrite(writes[i])
		}
		b.Queue(saveSQL, c.args()...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				applied[k][id] = true
			}
			return rows.Err()
		})
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("postgres: workflow save: %w", mapError(err))
	}
	for k, round := range rounds {
		for _, i := range round {
			if !applied[k][writes[i].RunID] {
				results[i] = store.ErrLeaseLost
			}
		}
	}
	return results, nil
}

// saveRounds groups the indexes of writes into rounds in which each run appears once:
// round k holds every run's k-th write.
func saveRounds(writes []store.WorkflowWrite) [][]int {
	var rounds [][]int
	seen := make(map[string]int, len(writes))
	for i, w := range writes {
		k := seen[w.RunID]
		seen[w.RunID] = k + 1
		if k == len(rounds) {
			rounds = append(rounds, make([]int, 0, len(writes)))
		}
		rounds[k] = append(rounds[k], i)
	}
	return rounds
}

// saveColumns are saveSQL's column arrays for the writes of one round: first the runs',
// then their steps'. pgx sends a nil slice as NULL, which unnest reads as no rows.
type saveColumns struct {
	ids, owners, newOwners, statuses, errs, failedSteps []string
	newLeases, nextAt, startedAt, finishedAt            []*time.Time
	at                                                  []time.Time
	hasRun, final                                       []bool
	outputs                                             [][]byte

	stepRuns, stepIDs, stepStatuses, stepErrs []string
	stepAttempts                              []int32
	stepInputs, stepOutputs, stepStates       [][]byte
	stepStartedAt, stepFinishedAt             []*time.Time
}

func (c *saveColumns) addWrite(w store.WorkflowWrite) {
	u := w.Run
	if u == nil {
		u = &store.WorkflowRunUpdate{}
	}
	newOwner, newLease := w.Owner, &w.LeaseUntil
	if u.Release {
		newOwner, newLease = "", nil
	}
	c.ids, c.owners, c.newOwners, c.newLeases = append(c.ids, w.RunID), append(c.owners, w.Owner), append(c.newOwners, newOwner), append(c.newLeases, newLease)
	c.at, c.hasRun, c.final = append(c.at, w.At), append(c.hasRun, w.Run != nil), append(c.final, u.Status.Final())
	c.statuses, c.outputs, c.errs, c.failedSteps = append(c.statuses, string(u.Status)), append(c.outputs, u.Output), append(c.errs, u.Error), append(c.failedSteps, u.FailedStep)
	c.nextAt, c.startedAt, c.finishedAt = append(c.nextAt, u.NextAt), append(c.startedAt, u.StartedAt), append(c.finishedAt, u.FinishedAt)
	for _, st := range w.Steps {
		c.stepRuns, c.stepIDs, c.stepStatuses = append(c.stepRuns, st.RunID), append(c.stepIDs, st.StepID), append(c.stepStatuses, string(st.Status))
		c.stepAttempts, c.stepErrs = append(c.stepAttempts, int32(st.Attempts)), append(c.stepErrs, st.Error)
		c.stepInputs, c.stepOutputs, c.stepStates = append(c.stepInputs, st.Input), append(c.stepOutputs, st.Output), append(c.stepStates, st.State)
		c.stepStartedAt, c.stepFinishedAt = append(c.stepStartedAt, st.StartedAt), append(c.stepFinishedAt, st.FinishedAt)
	}
}

// args are saveSQL's parameters, in order.
func (c *saveColumns) args() []any {
	return []any{c.ids, c.owners, c.newOwners, c.newLeases, c.at, c.hasRun, c.statuses, c.outputs, c.errs,
		c.failedSteps, c.nextAt, c.startedAt, c.finishedAt, c.final,
		c.stepRuns, c.stepIDs, c.stepStatuses, c.stepAttempts, c.stepInputs, c.stepOutputs, c.stepErrs,
		c.stepStates, c.stepStartedAt, c.stepFinishedAt}
}

// WorkflowLeaseRenew implements store.Store.
func (s *Store) WorkflowLeaseRenew(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	if err := store.CheckTime(until); err != nil {
		return nil, fmt.Errorf("postgres: workflow lease renew: until: %w", err)
	}
	if owner == "" || !storeinput.Key(owner) {
		return nil, fmt.Errorf("postgres: workflow lease renew: invalid owner %q", owner)
	}
	keys, lost := storeinput.StorableKeys(ids)
	if len(keys) == 0 {
		return lost, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE workflow_runs SET lease_until = $1 WHERE id = ANY($2) AND owner = $3 AND NOT cancel_requested RETURNING id`,
		store.NormalizeTime(until), keys, owner)
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow lease renew: %w", err)
	}
	renewed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow lease renew: %w", mapError(err))
	}
	held := make(map[string]bool, len(renewed))
	for _, id := range renewed {
		held[id] = true
	}
	for _, id := range keys {
		if !held[id] {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// WorkflowRunGet implements store.Store: the run and its steps in one round trip.
func (s *Store) WorkflowRunGet(ctx context.Context, id string) (store.WorkflowRun, []store.WorkflowStep, error) {
	if !storeinput.Key(id) {
		return store.WorkflowRun{}, nil, fmt.Errorf("postgres: workflow run get %q: %w", id, store.ErrNotFound)
	}
	var (
		r     store.WorkflowRun
		steps []store.WorkflowStep
		b     pgx.Batch
	)
	b.Queue(`SELECT `+columns("", workflowRunColumns)+` FROM workflow_runs WHERE id = $1`, id).QueryRow(func(row pgx.Row) (err error) {
		r, err = scanWorkflowRun(row)
		return err
	})
	b.Queue(`SELECT `+columns("", workflowStepColumns)+` FROM workflow_steps WHERE run_id = $1 ORDER BY seq`, id).Query(func(rows pgx.Rows) (err error) {
		steps, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.WorkflowStep, error) { return scanWorkflowStep(row) })
		return err
	})
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return store.WorkflowRun{}, nil, fmt.Errorf("postgres: workflow run get %q: %w", id, mapError(err))
	}
	return r, steps, nil
}

// WorkflowRunList implements store.Store.
func (s *Store) WorkflowRunList(ctx context.Context, f store.WorkflowRunFilter) ([]store.WorkflowRun, int, error) {
	if err := storeinput.CheckWorkflowFilter(f); err != nil {
		return nil, 0, fmt.Errorf("postgres: workflow run list: %w", err)
	}
	if !storeinput.Key(f.Workflow) || !storeinput.Key(f.ParentID) {
		return nil, 0, nil
	}
	var w where
	if f.Workflow != "" {
		w.add("workflow = $%d", f.Workflow)
	}
	if f.Status != "" {
		w.add("status = $%d", string(f.Status))
	}
	if f.ParentID != "" {
		w.add("parent_id = $%d", f.ParentID)
	}
	runs, total, err := listPage(ctx, s, "workflow_runs", workflowRunColumns, w, "created_at DESC, id DESC", f.Page, scanWorkflowRun)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: workflow run list: %w", mapError(err))
	}
	return runs, total, nil
}

// WorkflowRunCancel implements store.Store. The row is locked while its lease is
// looked at, so the holder's concurrent save either commits first (and is seen) or
// waits and then finds the lease gone.
func (s *Store) WorkflowRunCancel(ctx context.Context, id string, at time.Time) (store.WorkflowRun, error) {
	if err := store.CheckTime(at); err != nil {
		return store.WorkflowRun{}, fmt.Errorf("postgres: workflow run cancel: %w", err)
	}
	if !storeinput.Key(id) {
		return store.WorkflowRun{}, fmt.Errorf("postgres: workflow run cancel %q: %w", id, store.ErrNotFound)
	}
	at = store.NormalizeTime(at)
	var r store.WorkflowRun
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			status string
			held   bool
		)
		err := tx.QueryRow(ctx, `SELECT status, COALESCE(owner <> '' AND lease_until > $2, false) FROM workflow_runs WHERE id = $1 FOR UPDATE`, id, at).
			Scan(&status, &held)
		if err != nil {
			return err
		}
		if store.WorkflowRunStatus(status).Final() {
			return fmt.Errorf("%w: the run is %s", store.ErrConflict, status)
		}
		update := `UPDATE workflow_runs SET status = 'cancelled', next_at = NULL, finished_at = $1,
			owner = '', lease_until = NULL, updated_at = $1 WHERE id = $2`
		if held {
			update = `UPDATE workflow_runs SET cancel_requested = true, next_at = $1, updated_at = $1 WHERE id = $2`
		}
		r, err = scanWorkflowRun(tx.QueryRow(ctx, update+` RETURNING `+columns("", workflowRunColumns), at, id))
		return err
	})
	if err != nil {
		return store.WorkflowRun{}, fmt.Errorf("postgres: workflow run cancel %q: %w", id, mapError(err))
	}
	return r, nil
}

// WorkflowRunRetry implements store.Store.
func (s *Store) WorkflowRunRetry(ctx context.Context, id string, at time.Time) (store.WorkflowRun, error) {
	if err := store.CheckTime(at); err != nil {
		return store.WorkflowRun{}, fmt.Errorf("postgres: workflow run retry: %w", err)
	}
	if !storeinput.Key(id) {
		return store.WorkflowRun{}, fmt.Errorf("postgres: workflow run retry %q: %w", id, store.ErrNotFound)
	}
	at = store.NormalizeTime(at)
	var r store.WorkflowRun
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM workflow_runs WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
			return err
		}
		if status != string(store.WorkflowFailed) {
			return fmt.Errorf("%w: the run is %s, only a failed one is retried", store.ErrConflict, status)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM workflow_steps WHERE run_id = $1
			AND (status NOT IN ('completed', 'skipped') OR step_id LIKE 'undo:%')`, id); err != nil {
			return err
		}
		var err error
		r, err = scanWorkflowRun(tx.QueryRow(ctx, `UPDATE workflow_runs SET status = 'pending', next_at = $1,
				error = '', failed_step = '', output = NULL, finished_at = NULL, cancel_requested = false,
				owner = '', lease_until = NULL, updated_at = $1
			WHERE id = $2 RETURNING `+columns("", workflowRunColumns), at, id))
		return err
	})
	if err != nil {
		return store.WorkflowRun{}, fmt.Errorf("postgres: workflow run retry %q: %w", id, mapError(err))
	}
	return r, nil
}

// WorkflowWake implements store.Store. A run already due earlier keeps its time.
func (s *Store) WorkflowWake(ctx context.Context, ids []string, at time.Time) error {
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("postgres: workflow wake: %w", err)
	}
	keys, _ := storeinput.StorableKeys(ids)
	if len(keys) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE workflow_runs SET next_at = LEAST(next_at, $1), updated_at = $1
		WHERE id = ANY($2) AND status = 'waiting'`, store.NormalizeTime(at), keys)
	if err != nil {
		return fmt.Errorf("postgres: workflow wake: %w", mapError(err))
	}
	return nil
}

// WorkflowCounts implements store.Store.
func (s *Store) WorkflowCounts(ctx context.Context) (map[string]map[store.WorkflowRunStatus]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT workflow, status, count(*) FROM workflow_runs GROUP BY workflow, status`)
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow counts: %w", err)
	}
	defer rows.Close()
	out := map[string]map[store.WorkflowRunStatus]int{}
	for rows.Next() {
		var (
			wf, st string
			n      int
		)
		if err := rows.Scan(&wf, &st, &n); err != nil {
			return nil, fmt.Errorf("postgres: workflow counts: %w", err)
		}
		if out[wf] == nil {
			out[wf] = map[store.WorkflowRunStatus]int{}
		}
		out[wf][store.WorkflowRunStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: workflow counts: %w", err)
	}
	return out, nil
}

// WorkflowEventsSince implements store.Store, reading the events_type_created index.
func (s *Store) WorkflowEventsSince(ctx context.Context, eventType string, after time.Time, limit int) ([]event.Event, error) {
	if err := storeinput.CheckEventsSince(after, limit); err != nil {
		return nil, fmt.Errorf("postgres: workflow events since: %w", err)
	}
	if !storeinput.Key(eventType) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, type, data, source, created_at FROM events
		WHERE type = $1 AND created_at >= $2 ORDER BY created_at, id LIMIT $3`, eventType, store.NormalizeTime(after), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow events since: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (event.Event, error) {
		var e event.Event
		err := row.Scan(&e.ID, &e.Type, (*[]byte)(&e.Data), &e.Source, &e.Time)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: workflow events since: %w", err)
	}
	return events, nil
}

func queryWorkflowSteps(ctx context.Context, db querier, query string, args ...any) ([]store.WorkflowStep, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.WorkflowStep, error) { return scanWorkflowStep(row) })
}

// scanWorkflowRun reads one row of workflowRunColumns, times in UTC as SQLite returns them.
func scanWorkflowRun(row pgx.Row) (store.WorkflowRun, error) {
	var r store.WorkflowRun
	err := row.Scan(&r.ID, &r.Workflow, (*string)(&r.Status), (*[]byte)(&r.Input), (*[]byte)(&r.Output), &r.Error,
		&r.FailedStep, &r.ParentID, &r.ParentStep, &r.Trigger, &r.Owner, &r.LeaseUntil, &r.NextAt, &r.Deadline,
		&r.CancelRequested, &r.CreatedAt, &r.UpdatedAt, &r.StartedAt, &r.FinishedAt)
	if err != nil {
		return store.WorkflowRun{}, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.LeaseUntil, r.NextAt, r.Deadline = utcPtr(r.LeaseUntil), utcPtr(r.NextAt), utcPtr(r.Deadline)
	r.StartedAt, r.FinishedAt = utcPtr(r.StartedAt), utcPtr(r.FinishedAt)
	return r, nil
}

// scanWorkflowStep reads one row of workflowStepColumns.
func scanWorkflowStep(row pgx.Row) (store.WorkflowStep, error) {
	var st store.WorkflowStep
	err := row.Scan(&st.RunID, &st.StepID, (*string)(&st.Status), &st.Attempts, (*[]byte)(&st.Input),
		(*[]byte)(&st.Output), &st.Error, (*[]byte)(&st.State), &st.StartedAt, &st.FinishedAt)
	if err != nil {
		return store.WorkflowStep{}, err
	}
	st.StartedAt, st.FinishedAt = utcPtr(st.StartedAt), utcPtr(st.FinishedAt)
	return st, nil
}
