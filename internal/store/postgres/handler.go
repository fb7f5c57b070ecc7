package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

var executionColumns = []string{
	"id", "handler", "event_id", "event_type", "depth", "status", "attempts", "max_attempts",
	"next_run_at", "last_error", "created_at", "updated_at",
}

// insertExecutions writes an event's handler executions in its publishing transaction,
// with one statement over column arrays.
func insertExecutions(ctx context.Context, tx pgx.Tx, xs []store.HandlerExecution) error {
	n := len(xs)
	var (
		ids, handlers, events, types, statuses, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		depths, attempts, maxAttempts                = make([]int, n), make([]int, n), make([]int, n)
		next                                         = make([]*time.Time, n)
		created, updated                             = make([]time.Time, n), make([]time.Time, n)
	)
	for i, x := range xs {
		ids[i], handlers[i], events[i], types[i], statuses[i], errs[i] = x.ID, x.Handler, x.EventID, x.EventType, string(x.Status), x.LastError
		depths[i], attempts[i], maxAttempts[i] = x.Depth, x.Attempts, x.MaxAttempts
		next[i], created[i], updated[i] = x.NextRunAt, x.CreatedAt, x.UpdatedAt
	}
	_, err := tx.Exec(ctx, `INSERT INTO handler_executions (`+columns("", executionColumns)+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[],
			$7::integer[], $8::integer[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::timestamptz[])`,
		ids, handlers, events, types, depths, statuses, attempts, maxAttempts, next, errs, created, updated)
	return err
}

// HandlerClaim implements store.Store: one statement; FOR UPDATE SKIP LOCKED lets
// concurrent claimers (other processes) pass over each other's rows without waiting.
func (s *Store) HandlerClaim(ctx context.Context, p store.HandlerClaimParams) ([]store.ClaimedExecution, error) {
	if err := storeinput.CheckHandlerClaim(p); err != nil {
		return nil, fmt.Errorf("postgres: handler claim: %w", err)
	}
	now, leaseEnd := store.NormalizeTime(p.Now), store.NormalizeTime(p.Now.Add(p.Lease))
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM handler_executions
			WHERE status IN ('pending', 'failed') AND next_run_at <= $1
				AND (locked_until IS NULL OR locked_until <= $1)
			ORDER BY next_run_at, id LIMIT $2
			FOR UPDATE SKIP LOCKED
		), claimed AS (
			UPDATE handler_executions x SET locked_until = $3, locked_by = $4
			FROM due WHERE x.id = due.id
			RETURNING `+columns("x", executionColumns)+`
		)
		SELECT `+columns("c", executionColumns)+`, e.data, e.source, e.created_at
		FROM claimed c JOIN events e ON e.id = c.event_id
		ORDER BY c.next_run_at, c.id`, now, p.Limit, leaseEnd, p.Owner)
	if err != nil {
		return nil, fmt.Errorf("postgres: handler claim: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ClaimedExecution, error) {
		var c store.ClaimedExecution
		err := row.Scan(append(executionDest(&c.Execution), &c.Data, &c.Source, &c.EventTime)...)
		c.EventTime = c.EventTime.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: handler claim: %w", err)
	}
	for i := range claimed {
		utcExecution(&claimed[i].Execution)
	}
	return claimed, nil
}

// HandlerRecord implements store.Store.
func (s *Store) HandlerRecord(ctx context.Context, outcomes []store.HandlerOutcome) error {
	outcomes, err := storeinput.NormalizeOutcomes(outcomes)
	if err != nil {
		return fmt.Errorf("postgres: handler record: %w", err)
	}
	batch := &pgx.Batch{}
	for _, o := range outcomes {
		batch.Queue(`UPDATE handler_executions SET status = $1, attempts = $2, next_run_at = $3,
			last_error = $4, updated_at = $5, locked_until = NULL, locked_by = NULL WHERE id = $6`,
			string(o.Status), o.Attempts, o.NextRunAt, o.LastError, o.At, o.ID)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
	if err != nil {
		return fmt.Errorf("postgres: handler record: %w", mapError(err))
	}
	return nil
}

// HandlerExecutionGet implements store.Store.
func (s *Store) HandlerExecutionGet(ctx context.Context, id string) (store.HandlerExecution, error) {
	if !storeinput.Key(id) {
		return store.HandlerExecution{}, fmt.Errorf("postgres: handler execution get %q: %w", id, store.ErrNotFound)
	}
	var x store.HandlerExecution
	err := s.pool.QueryRow(ctx, `SELECT `+columns("", executionColumns)+` FROM handler_executions WHERE id = $1`, id).Scan(executionDest(&x)...)
	if err != nil {
		return store.HandlerExecution{}, fmt.Errorf("postgres: handler execution get %q: %w", id, mapError(err))
	}
	utcExecution(&x)
	return x, nil
}

// HandlerExecutionList implements store.Store.
func (s *Store) HandlerExecutionList(ctx context.Context, f store.HandlerFilter) ([]store.HandlerExecution, int, error) {
	if err := storeinput.CheckHandlerFilter(f); err != nil {
		return nil, 0, fmt.Errorf("postgres: handler execution list: %w", err)
	}
	var w where
	if f.Status != "" {
		w.add("status = $%d", string(f.Status))
	}
	if f.EventType != "" {
		w.add("event_type = $%d", f.EventType)
	}
	out, total, err := listPage(ctx, s, "handler_executions", executionColumns, w, "created_at DESC, id DESC", f.Page, func(row pgx.Row) (store.HandlerExecution, error) {
		var x store.HandlerExecution
		err := row.Scan(executionDest(&x)...)
		utcExecution(&x)
		return x, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: handler execution list: %w", mapError(err))
	}
	return out, total, nil
}

// HandlerExecutionRequeue implements store.Store.
func (s *Store) HandlerExecutionRequeue(ctx context.Context, id string, at time.Time) (store.HandlerExecution, error) {
	if err := store.CheckTime(at); err != nil {
		return store.HandlerExecution{}, fmt.Errorf("postgres: handler execution requeue: %w", err)
	}
	if !storeinput.Key(id) {
		return store.HandlerExecution{}, fmt.Errorf("postgres: handler execution requeue %q: %w", id, store.ErrNotFound)
	}
	at = store.NormalizeTime(at)
	var x store.HandlerExecution
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM handler_executions WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
			return err
		}
		if status != string(store.HandlerDead) {
			return fmt.Errorf("%w: the execution is %s, only a dead one is retried", store.ErrConflict, status)
		}
		return tx.QueryRow(ctx, `UPDATE handler_executions SET status = 'pending', attempts = 0, next_run_at = $1,
				updated_at = $1, locked_until = NULL, locked_by = NULL
			WHERE id = $2 RETURNING `+columns("", executionColumns), at, id).Scan(executionDest(&x)...)
	})
	if err != nil {
		return store.HandlerExecution{}, fmt.Errorf("postgres: handler execution requeue %q: %w", id, mapError(err))
	}
	utcExecution(&x)
	return x, nil
}

// HandlerCounts implements store.Store.
func (s *Store) HandlerCounts(ctx context.Context) (map[string]map[store.HandlerStatus]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT handler, status, count(*) FROM handler_executions GROUP BY handler, status`)
	if err != nil {
		return nil, fmt.Errorf("postgres: handler counts: %w", err)
	}
	defer rows.Close()
	out := map[string]map[store.HandlerStatus]int{}
	for rows.Next() {
		var (
			h, st string
			n     int
		)
		if err := rows.Scan(&h, &st, &n); err != nil {
			return nil, fmt.Errorf("postgres: handler counts: %w", err)
		}
		if out[h] == nil {
			out[h] = map[store.HandlerStatus]int{}
		}
		out[h][store.HandlerStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: handler counts: %w", err)
	}
	return out, nil
}

func executionDest(x *store.HandlerExecution) []any {
	return []any{&x.ID, &x.Handler, &x.EventID, &x.EventType, &x.Depth, (*string)(&x.Status), &x.Attempts,
		&x.MaxAttempts, &x.NextRunAt, &x.LastError, &x.CreatedAt, &x.UpdatedAt}
}

// utcExecution puts the times read back in UTC, as the SQLite store returns them.
func utcExecution(x *store.HandlerExecution) {
	x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
	if x.NextRunAt != nil {
		t := x.NextRunAt.UTC()
		x.NextRunAt = &t
	}
}
