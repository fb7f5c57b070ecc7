package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Workflow storage (store.WorkflowStore): runs and the outcomes of their steps. A run's
// lease is its owner and lease_until columns; every write of its holder is conditional
// on both, so a process whose lease lapsed and was taken over cannot write any more.
// Writes run on the one write connection, so none interleaves with another.

var workflowRunColumns = []string{
	"id", "workflow", "status", "input", "output", "error", "failed_step", "parent_id", "parent_step",
	"triggered_by", "owner", "lease_until", "next_at", "deadline", "cancel_requested",
	"created_at", "updated_at", "started_at", "finished_at",
}

var workflowStepColumns = []string{
	"run_id", "step_id", "status", "attempts", "input", "output", "error", "state", "started_at", "finished_at",
}

// liveRun is the condition of a run with work left, exactly as the claim's partial
// index has it.
const liveRun = `status IN ('pending', 'running', 'waiting')`

// WorkflowRunCreate implements store.Store.
func (s *Store) WorkflowRunCreate(ctx context.Context, p store.WorkflowRunCreateParams) (store.WorkflowRun, bool, error) {
	r, err := storeinput.NormalizeWorkflowRun(p.Run)
	if err != nil {
		return store.WorkflowRun{}, false, fmt.Errorf("sqlite: workflow run create: %w", err)
	}
	out, created := r, false
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO workflow_runs (`+columns("", workflowRunColumns)+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.Workflow, string(r.Status), []byte(r.Input), nullBytes(r.Output), r.Error, r.FailedStep,
			r.ParentID, r.ParentStep, r.Trigger, r.Owner, nullTime(r.LeaseUntil), nullTime(r.NextAt),
			nullTime(r.Deadline), r.CancelRequested, formatTime(r.CreatedAt), formatTime(r.UpdatedAt),
			nullTime(r.StartedAt), nullTime(r.FinishedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			created = n == 1
			return err
		}
		out, err = scanWorkflowRun(tx.QueryRowContext(ctx, `SELECT `+columns("", workflowRunColumns)+` FROM workflow_runs WHERE id = ?`, r.ID))
		return err
	})
	if err != nil {
		return store.WorkflowRun{}, false, fmt.Errorf("sqlite: workflow run create %q: %w", r.ID, err)
	}
	return out, created, nil
}

// WorkflowClaim implements store.Store: one IMMEDIATE transaction on the one write
// connection (leaseTx, as HandlerClaim), so no other claim runs in between. A claim lost
// in a crash only leaves its runs to be claimed again.
func (s *Store) WorkflowClaim(ctx context.Context, p store.WorkflowClaimParams) ([]store.ClaimedRun, error) {
	if err := storeinput.CheckWorkflowClaim(p); err != nil {
		return nil, fmt.Errorf("sqlite: workflow claim: %w", err)
	}
	now, leaseEnd := formatTime(p.Now), store.NormalizeTime(p.Now.Add(p.Lease))
	var claimed []store.ClaimedRun
	err := s.leaseTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+columns("", workflowRunColumns)+`
			FROM workflow_runs INDEXED BY workflow_runs_due
			WHERE `+liveRun+` AND next_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY next_at, id LIMIT ?`, now, now, p.Limit)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		var ids []string
		byID := map[string]int{}
		for rows.Next() {
			r, err := scanWorkflowRun(rows)
			if err != nil {
				return err
			}
			until := leaseEnd
			r.Owner, r.LeaseUntil = p.Owner, &until
			byID[r.ID] = len(claimed)
			claimed = append(claimed, store.ClaimedRun{Run: r})
			ids = append(ids, r.ID)
		}
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return err
		}
		list, err := jsonList(ids)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE workflow_runs SET owner = ?, lease_until = ?
			WHERE id IN (SELECT value FROM json_each(?))`, p.Owner, formatTime(leaseEnd), list); err != nil {
			return err
		}
		steps, err := queryWorkflowSteps(ctx, tx, `SELECT `+columns("", workflowStepColumns)+`
			FROM workflow_steps WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, seq`, list)
		if err != nil {
			return err
		}
		for _, st := range steps {
			c := &claimed[byID[st.RunID]]
			c.Steps = append(c.Steps, st)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: workflow claim: %w", err)
	}
	return claimed, nil
}

// saveRunSQL applies a write's run update while its writer holds the lease; saveLeaseSQL
// only extends the lease of a write without one. Either changes no row when the lease is
// not held, which it is until, not at, its end (a claim may take the run from then on).
// next_at is cleared for a final status (storeinput made it NULL) and kept
// when a live update leaves it out.
const (
	saveRunSQL = `UPDATE workflow_runs SET status = @status, output = @output, error = @error,
			failed_step = @failed_step,
			next_at = CASE WHEN @final THEN NULL ELSE COALESCE(@next_at, next_at) END,
			started_at = COALESCE(@started_at, started_at), finished_at = @finished_at,
			owner = @new_owner, lease_until = @new_lease, updated_at = @at
		WHERE id = @id AND owner = @owner AND lease_until > @at`
	saveLeaseSQL = `UPDATE workflow_runs SET lease_until = @new_lease, updated_at = @at
		WHERE id = @id AND owner = @owner AND lease_until > @at`
	saveStepSQL = `INSERT INTO workflow_steps (run_id, step_id, status, attempts, input, output, error, state,
			started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, step_id) DO UPDATE SET
			status = excluded.status, attempts = excluded.attempts, input = excluded.input,
			output = excluded.output, error = excluded.error, state = excluded.state,
			started_at = excluded.started_at, finished_at = excluded.finished_at`
)

// WorkflowSave implements store.Store: one write transaction (one fsync) with its three
// statements prepared once. Writes apply in order, so a later write of the same run sees
// the earlier ones.
func (s *Store) WorkflowSave(ctx context.Context, writes []store.WorkflowWrite) ([]error, error) {
	writes, err := storeinput.NormalizeWorkflowWrites(writes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: workflow save: %w", err)
	}
	results := make([]error, len(writes))
	if len(writes) == 0 {
		return results, nil
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		stmts := make([]*sql.Stmt, 0, 3)
		defer func() {
			for _, st := range stmts {
				_ = st.Close()
			}
		}()
		for _, q := range []string{saveRunSQL, saveLeaseSQL, saveStepSQL} {
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			stmts = append(stmts, st)
		}
		runStmt, leaseStmt, stepStmt := stmts[0], stmts[1], stmts[2]
		for i, w := range writes {
			applied, err := saveRun(ctx, runStmt, leaseStmt, w)
			if err != nil {
				return fmt.Errorf("run %q: %w", w.RunID, err)
			}
			if !applied {
				results[i] = store.ErrLeaseLost
				continue
			}
			for _, st := range w.Steps {
				_, err := stepStmt.ExecContext(ctx, st.RunID, st.StepID, string(st.Status), st.Attempts,
					nullBytes(st.Input), nullBytes(st.Output), st.Error, nullBytes(st.State),
					nullTime(st.StartedAt), nullTime(st.FinishedAt))
				if err != nil {
					return fmt.Errorf("run %q: step %q: %w", w.RunID, st.StepID, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: workflow save: %w", err)
	}
	return results, nil
}

// saveRun applies the run part of w and reports whether its writer held the lease.
func saveRun(ctx context.Context, runStmt, leaseStmt *sql.Stmt, w store.WorkflowWrite) (bool, error) {
	newLease := any(formatTime(w.LeaseUntil))
	id, owner, at := sql.Named("id", w.RunID), sql.Named("owner", w.Owner), sql.Named("at", formatTime(w.At))
	var (
		res sql.Result
		err error
	)
	if u := w.Run; u == nil {
		res, err = leaseStmt.ExecContext(ctx, id, owner, at, sql.Named("new_lease", newLease))
	} else {
		newOwner := w.Owner
		if u.Release {
			newOwner, newLease = "", nil
		}
		res, err = runStmt.ExecContext(ctx, id, owner, at, sql.Named("new_lease", newLease),
			sql.Named("new_owner", newOwner), sql.Named("status", string(u.Status)),
			sql.Named("output", nullBytes(u.Output)), sql.Named("error", u.Error),
			sql.Named("failed_step", u.FailedStep), sql.Named("final", u.Status.Final()),
			sql.Named("next_at", nullTime(u.NextAt)), sql.Named("started_at", nullTime(u.StartedAt)),
			sql.Named("finished_at", nullTime(u.FinishedAt)))
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// WorkflowLeaseRenew implements store.Store.
func (s *Store) WorkflowLeaseRenew(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	if err := store.CheckTime(until); err != nil {
		return nil, fmt.Errorf("sqlite: workflow lease renew: until: %w", err)
	}
	if owner == "" || !storeinput.Key(owner) {
		return nil, fmt.Errorf("sqlite: workflow lease renew: invalid owner %q", owner)
	}
	keys, lost := storeinput.StorableKeys(ids)
	if len(keys) == 0 {
		return lost, nil
	}
	list, err := jsonList(keys)
	if err != nil {
		return nil, fmt.Errorf("sqlite: workflow lease renew: %w", err)
	}
	held := make(map[string]bool, len(keys))
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE workflow_runs SET lease_until = ?
			WHERE id IN (SELECT value FROM json_each(?)) AND owner = ? AND cancel_requested = 0 RETURNING id`, formatTime(until), list, owner)
		if err != nil {
			return err
		}
		renewed, err := collectStrings(rows)
		for _, id := range renewed {
			held[id] = true
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: workflow lease renew: %w", err)
	}
	for _, id := range keys {
		if !held[id] {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// WorkflowRunGet implements store.Store: the run and its steps from one read snapshot.
func (s *Store) WorkflowRunGet(ctx context.Context, id string) (store.WorkflowRun, []store.WorkflowStep, error) {
	if !storeinput.Key(id) {
		return store.WorkflowRun{}, nil, fmt.Errorf("sqlite: workflow run get %q: %w", id, store.ErrNotFound)
	}
	var (
		r     store.WorkflowRun
		steps []store.WorkflowStep
	)
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanWorkflowRun(tx.QueryRowContext(ctx, `SELECT `+columns("", workflowRunColumns)+` FROM workflow_runs WHERE id = ?`, id))
		if err != nil {
			return notFound(err)
		}
		steps, err = queryWorkflowSteps(ctx, tx, `SELECT `+columns("", workflowStepColumns)+`
			FROM workflow_steps WHERE run_id = ? ORDER BY seq`, id)
		return err
	})
	if err != nil {
		return store.WorkflowRun{}, nil, fmt.Errorf("sqlite: workflow run get %q: %w", id, err)
	}
	return r, steps, nil
}

// WorkflowRunList implements store.Store.
func (s *Store) WorkflowRunList(ctx context.Context, f store.WorkflowRunFilter) ([]store.WorkflowRun, int, error) {
	if err := storeinput.CheckWorkflowFilter(f); err != nil {
		return nil, 0, fmt.Errorf("sqlite: workflow run list: %w", err)
	}
	if !storeinput.Key(f.Workflow) || !storeinput.Key(f.ParentID) {
		return nil, 0, nil
	}
	var w where
	if f.Workflow != "" {
		w.add("workflow = ?", f.Workflow)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.ParentID != "" {
		w.add("parent_id = ?", f.ParentID)
	}
	runs, total, err := listPage(ctx, s, "workflow_runs", workflowRunColumns, w, "created_at DESC, id DESC", f.Page, scanWorkflowRun)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: workflow run list: %w", err)
	}
	return runs, total, nil
}

// WorkflowRunCancel implements store.Store.
func (s *Store) WorkflowRunCancel(ctx context.Context, id string, at time.Time) (store.WorkflowRun, error) {
	if err := store.CheckTime(at); err != nil {
		return store.WorkflowRun{}, fmt.Errorf("sqlite: workflow run cancel: %w", err)
	}
	if !storeinput.Key(id) {
		return store.WorkflowRun{}, fmt.Errorf("sqlite: workflow run cancel %q: %w", id, store.ErrNotFound)
	}
	t := formatTime(at)
	var r store.WorkflowRun
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var (
			status string
			held   bool
		)
		err := tx.QueryRowContext(ctx, `SELECT status, COALESCE(owner <> '' AND lease_until > ?, 0)
			FROM workflow_runs WHERE id = ?`, t, id).Scan(&status, &held)
		if err != nil {
			return notFound(err)
		}
		if store.WorkflowRunStatus(status).Final() {
			return fmt.Errorf("%w: the run is %s", store.ErrConflict, status)
		}
		update := `UPDATE workflow_runs SET status = 'cancelled', next_at = NULL, finished_at = ?1,
			owner = '', lease_until = NULL, updated_at = ?1 WHERE id = ?2`
		if held {
			update = `UPDATE workflow_runs SET cancel_requested = 1, next_at = ?1, updated_at = ?1 WHERE id = ?2`
		}
		r, err = scanWorkflowRun(tx.QueryRowContext(ctx, update+` RETURNING `+columns("", workflowRunColumns), t, id))
		return err
	})
	if err != nil {
		return store.WorkflowRun{}, fmt.Errorf("sqlite: workflow run cancel %q: %w", id, err)
	}
	return r, nil
}

// WorkflowRunRetry implements store.Store. GLOB, unlike LIKE, is case-sensitive, so
// only compensation rows ("undo:" exactly) match.
func (s *Store) WorkflowRunRetry(ctx context.Context, id string, at time.Time) (store.WorkflowRun, error) {
	if err := store.CheckTime(at); err != nil {
		return store.WorkflowRun{}, fmt.Errorf("sqlite: workflow run retry: %w", err)
	}
	if !storeinput.Key(id) {
		return store.WorkflowRun{}, fmt.Errorf("sqlite: workflow run retry %q: %w", id, store.ErrNotFound)
	}
	t := formatTime(at)
	var r store.WorkflowRun
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM workflow_runs WHERE id = ?`, id).Scan(&status); err != nil {
			return notFound(err)
		}
		if status != string(store.WorkflowFailed) {
			return fmt.Errorf("%w: the run is %s, only a failed one is retried", store.ErrConflict, status)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM workflow_steps WHERE run_id = ?
			AND (status NOT IN ('completed', 'skipped') OR step_id GLOB 'undo:*')`, id); err != nil {
			return err
		}
		var err error
		r, err = scanWorkflowRun(tx.QueryRowContext(ctx, `UPDATE workflow_runs SET status = 'pending', next_at = ?1,
				error = '', failed_step = '', output = NULL, finished_at = NULL, cancel_requested = 0,
				owner = '', lease_until = NULL, updated_at = ?1
			WHERE id = ?2 RETURNING `+columns("", workflowRunColumns), t, id))
		return err
	})
	if err != nil {
		return store.WorkflowRun{}, fmt.Errorf("sqlite: workflow run retry %q: %w", id, err)
	}
	return r, nil
}

// WorkflowWake implements store.Store. A run already due earlier keeps its time.
func (s *Store) WorkflowWake(ctx context.Context, ids []string, at time.Time) error {
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("sqlite: workflow wake: %w", err)
	}
	keys, _ := storeinput.StorableKeys(ids)
	if len(keys) == 0 {
		return nil
	}
	list, err := jsonList(keys)
	if err != nil {
		return fmt.Errorf("sqlite: workflow wake: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE workflow_runs
			SET next_at = CASE WHEN next_at IS NULL OR next_at > ?1 THEN ?1 ELSE next_at END, updated_at = ?1
			WHERE id IN (SELECT value FROM json_each(?2)) AND status = 'waiting'`, formatTime(at), list)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: workflow wake: %w", err)
	}
	return nil
}

// WorkflowCounts implements store.Store.
func (s *Store) WorkflowCounts(ctx context.Context) (map[string]map[store.WorkflowRunStatus]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT workflow, status, count(*) FROM workflow_runs GROUP BY workflow, status`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: workflow counts: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]map[store.WorkflowRunStatus]int{}
	for rows.Next() {
		var (
			wf, st string
			n      int
		)
		if err := rows.Scan(&wf, &st, &n); err != nil {
			return nil, fmt.Errorf("sqlite: workflow counts: %w", err)
		}
		if out[wf] == nil {
			out[wf] = map[store.WorkflowRunStatus]int{}
		}
		out[wf][store.WorkflowRunStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: workflow counts: %w", err)
	}
	return out, nil
}

// WorkflowEventsSince implements store.Store, reading the events_type_created index.
func (s *Store) WorkflowEventsSince(ctx context.Context, eventType string, after time.Time, limit int) ([]event.Event, error) {
	if err := storeinput.CheckEventsSince(after, limit); err != nil {
		return nil, fmt.Errorf("sqlite: workflow events since: %w", err)
	}
	if !storeinput.Key(eventType) {
		return nil, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, type, data, source, created_at FROM events
		WHERE type = ? AND created_at >= ? ORDER BY created_at, id LIMIT ?`, eventType, formatTime(after), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: workflow events since: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var events []event.Event
	for rows.Next() {
		var e event.Event
		if err := rows.Scan(&e.ID, &e.Type, (*[]byte)(&e.Data), &e.Source, textTime{&e.Time}); err != nil {
			return nil, fmt.Errorf("sqlite: workflow events since: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: workflow events since: %w", err)
	}
	return events, nil
}

func queryWorkflowSteps(ctx context.Context, db queryer, query string, args ...any) ([]store.WorkflowStep, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var steps []store.WorkflowStep
	for rows.Next() {
		var st store.WorkflowStep
		err := rows.Scan(&st.RunID, &st.StepID, (*string)(&st.Status), &st.Attempts, (*[]byte)(&st.Input),
			(*[]byte)(&st.Output), &st.Error, (*[]byte)(&st.State), nullTextTime{&st.StartedAt}, nullTextTime{&st.FinishedAt})
		if err != nil {
			return nil, err
		}
		steps = append(steps, st)
	}
	return steps, rows.Err()
}

// scanWorkflowRun reads one row of workflowRunColumns.
func scanWorkflowRun(row scanner) (store.WorkflowRun, error) {
	var r store.WorkflowRun
	err := row.Scan(&r.ID, &r.Workflow, (*string)(&r.Status), (*[]byte)(&r.Input), (*[]byte)(&r.Output), &r.Error,
		&r.FailedStep, &r.ParentID, &r.ParentStep, &r.Trigger, &r.Owner, nullTextTime{&r.LeaseUntil},
		nullTextTime{&r.NextAt}, nullTextTime{&r.Deadline}, &r.CancelRequested, textTime{&r.CreatedAt},
		textTime{&r.UpdatedAt}, nullTextTime{&r.StartedAt}, nullTextTime{&r.FinishedAt})
	return r, err
}

// nullBytes is the parameter for a nullable BLOB: NULL for no value. A nil []byte
// would be stored as an empty BLOB, not NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
