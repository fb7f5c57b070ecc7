package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

var executionColumns = []string{
	"id", "handler", "event_id", "event_type", "depth", "status", "attempts", "max_attempts",
	"next_run_at", "last_error", "created_at", "updated_at",
}

// insertExecutions writes an event's handler executions in its publishing transaction.
func insertExecutions(ctx context.Context, tx *sql.Tx, xs []store.HandlerExecution) error {
	for _, x := range xs {
		_, err := tx.ExecContext(ctx, `INSERT INTO handler_executions (`+columns("", executionColumns)+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			x.ID, x.Handler, x.EventID, x.EventType, x.Depth, string(x.Status), x.Attempts, x.MaxAttempts,
			nullTime(x.NextRunAt), x.LastError, formatTime(x.CreatedAt), formatTime(x.UpdatedAt))
		if err != nil {
			return err
		}
	}
	return nil
}

// HandlerClaim implements store.Store: one IMMEDIATE transaction on the one write
// connection (leaseTx, as DeliveryClaim), so no other claim runs in between.
func (s *Store) HandlerClaim(ctx context.Context, p store.HandlerClaimParams) ([]store.ClaimedExecution, error) {
	if err := storeinput.CheckHandlerClaim(p); err != nil {
		return nil, fmt.Errorf("sqlite: handler claim: %w", err)
	}
	now, leaseEnd := formatTime(p.Now), formatTime(p.Now.Add(p.Lease))
	var claimed []store.ClaimedExecution
	err := s.leaseTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+columns("x", executionColumns)+`, e.data, e.source, e.created_at
			FROM handler_executions x INDEXED BY handler_executions_due JOIN events e ON e.id = x.event_id
			WHERE x.status IN ('pending', 'failed') AND x.next_run_at <= ?
				AND (x.locked_until IS NULL OR x.locked_until <= ?)
			ORDER BY x.next_run_at, x.id LIMIT ?`, now, now, p.Limit)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		var ids []string
		for rows.Next() {
			var c store.ClaimedExecution
			dest := append(executionDest(&c.Execution), &c.Data, &c.Source, textTime{&c.EventTime})
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			claimed = append(claimed, c)
			ids = append(ids, c.Execution.ID)
		}
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return err
		}
		list, err := jsonList(ids)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE handler_executions SET locked_until = ?, locked_by = ?
			WHERE id IN (SELECT value FROM json_each(?))`, leaseEnd, p.Owner, list)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: handler claim: %w", err)
	}
	return claimed, nil
}

// HandlerRecord implements store.Store.
func (s *Store) HandlerRecord(ctx context.Context, outcomes []store.HandlerOutcome) error {
	outcomes, err := storeinput.NormalizeOutcomes(outcomes)
	if err != nil {
		return fmt.Errorf("sqlite: handler record: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, o := range outcomes {
			_, err := tx.ExecContext(ctx, `UPDATE handler_executions SET status = ?, attempts = ?,
				next_run_at = ?, last_error = ?, updated_at = ?, locked_until = NULL, locked_by = NULL
				WHERE id = ?`,
				string(o.Status), o.Attempts, nullTime(o.NextRunAt), o.LastError, formatTime(o.At), o.ID)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: handler record: %w", err)
	}
	return nil
}

// HandlerExecutionGet implements store.Store.
func (s *Store) HandlerExecutionGet(ctx context.Context, id string) (store.HandlerExecution, error) {
	if !storeinput.Key(id) {
		return store.HandlerExecution{}, fmt.Errorf("sqlite: handler execution get %q: %w", id, store.ErrNotFound)
	}
	var x store.HandlerExecution
	err := s.read.QueryRowContext(ctx, `SELECT `+columns("", executionColumns)+` FROM handler_executions WHERE id = ?`, id).
		Scan(executionDest(&x)...)
	if err != nil {
		return store.HandlerExecution{}, fmt.Errorf("sqlite: handler execution get %q: %w", id, notFound(err))
	}
	return x, nil
}

// HandlerExecutionList implements store.Store.
func (s *Store) HandlerExecutionList(ctx context.Context, f store.HandlerFilter) ([]store.HandlerExecution, int, error) {
	if err := storeinput.CheckHandlerFilter(f); err != nil {
		return nil, 0, fmt.Errorf("sqlite: handler execution list: %w", err)
	}
	var w where
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.EventType != "" {
		w.add("event_type = ?", f.EventType)
	}
	out, total, err := listPage(ctx, s, "handler_executions", executionColumns, w, "created_at DESC, id DESC", f.Page, func(row scanner) (store.HandlerExecution, error) {
		var x store.HandlerExecution
		err := row.Scan(executionDest(&x)...)
		return x, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: handler execution list: %w", err)
	}
	return out, total, nil
}

// HandlerExecutionRequeue implements store.Store.
func (s *Store) HandlerExecutionRequeue(ctx context.Context, id string, at time.Time) (store.HandlerExecution, error) {
	if err := store.CheckTime(at); err != nil {
		return store.HandlerExecution{}, fmt.Errorf("sqlite: handler execution requeue: %w", err)
	}
	if !storeinput.Key(id) {
		return store.HandlerExecution{}, fmt.Errorf("sqlite: handler execution requeue %q: %w", id, store.ErrNotFound)
	}
	var x store.HandlerExecution
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM handler_executions WHERE id = ?`, id).Scan(&status); err != nil {
			return notFound(err)
		}
		if status != string(store.HandlerDead) {
			return fmt.Errorf("%w: the execution is %s, only a dead one is retried", store.ErrConflict, status)
		}
		t := formatTime(at)
		if _, err := tx.ExecContext(ctx, `UPDATE handler_executions SET status = 'pending', attempts = 0,
			next_run_at = ?, updated_at = ?, locked_until = NULL, locked_by = NULL WHERE id = ?`, t, t, id); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT `+columns("", executionColumns)+` FROM handler_executions WHERE id = ?`, id).
			Scan(executionDest(&x)...)
	})
	if err != nil {
		return store.HandlerExecution{}, fmt.Errorf("sqlite: handler execution requeue %q: %w", id, err)
	}
	return x, nil
}

// HandlerCounts implements store.Store.
func (s *Store) HandlerCounts(ctx context.Context) (map[string]map[store.HandlerStatus]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT handler, status, count(*) FROM handler_executions GROUP BY handler, status`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: handler counts: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]map[store.HandlerStatus]int{}
	for rows.Next() {
		var (
			h, st string
			n     int
		)
		if err := rows.Scan(&h, &st, &n); err != nil {
			return nil, fmt.Errorf("sqlite: handler counts: %w", err)
		}
		if out[h] == nil {
			out[h] = map[store.HandlerStatus]int{}
		}
		out[h][store.HandlerStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: handler counts: %w", err)
	}
	return out, nil
}

// executionDest are the scan targets of executionColumns.
func executionDest(x *store.HandlerExecution) []any {
	return []any{&x.ID, &x.Handler, &x.EventID, &x.EventType, &x.Depth, (*string)(&x.Status), &x.Attempts,
		&x.MaxAttempts, nullTextTime{&x.NextRunAt}, &x.LastError, textTime{&x.CreatedAt}, textTime{&x.UpdatedAt}}
}
