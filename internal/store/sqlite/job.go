package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Job storage (store.JobStore): the runs of scheduled jobs. A claim is one write
// transaction on the single write connection, so the insert or the take-over of a
// tick cannot interleave with another claim of this database file.

var jobRunColumns = []string{
	"id", "job", "tick", "manual", "status", "attempts", "error", "owner", "lease_until", "started_at", "finished_at",
}

// JobRunClaim implements store.Store.
func (s *Store) JobRunClaim(ctx context.Context, r store.JobRun) (store.JobRun, bool, error) {
	r, err := storeinput.NormalizeJobRun(r)
	if err != nil {
		return store.JobRun{}, false, fmt.Errorf("sqlite: job run claim: %w", err)
	}
	var (
		out = r
		won bool
	)
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO job_runs (`+columns("", jobRunColumns)+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING`,
			r.ID, r.Job, formatTime(r.Tick), r.Manual, string(r.Status), r.Attempts, r.Error, r.Owner,
			formatTime(r.LeaseUntil), formatTime(r.StartedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			won = n == 1
			return err
		}
		if r.Manual {
			return store.ErrConflict // the id is taken
		}
		// The tick is taken: take it over if its owner's lease lapsed.
		res, err = tx.ExecContext(ctx, `UPDATE job_runs SET owner = ?, lease_until = ?
			WHERE job = ? AND tick = ? AND manual = 0 AND status = 'running' AND lease_until < ?`,
			r.Owner, formatTime(r.LeaseUntil), r.Job, formatTime(r.Tick), formatTime(r.StartedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		won = true
		out, err = scanJobRun(tx.QueryRowContext(ctx, `SELECT `+columns("", jobRunColumns)+`
			FROM job_runs WHERE job = ? AND tick = ? AND manual = 0`, r.Job, formatTime(r.Tick)))
		return err
	})
	if err != nil {
		return store.JobRun{}, false, fmt.Errorf("sqlite: job run claim %s at %s: %w", r.Job, r.Tick.Format(time.RFC3339), err)
	}
	return out, won, nil
}

// JobRunRenew implements store.Store.
func (s *Store) JobRunRenew(ctx context.Context, id, owner string, until time.Time) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_runs SET lease_until = ? WHERE id = ? AND owner = ? AND status = 'running'`,
			formatTime(until), id, owner)
		return oneRow(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: job run renew %q: %w", id, err)
	}
	return nil
}

// JobRunFinish implements store.Store.
func (s *Store) JobRunFinish(ctx context.Context, r store.JobRun) error {
	r, err := storeinput.NormalizeJobFinish(r)
	if err != nil {
		return fmt.Errorf("sqlite: job run finish: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_runs SET status = ?, attempts = ?, error = ?, finished_at = ?
			WHERE id = ? AND owner = ? AND status = 'running'`,
			string(r.Status), r.Attempts, r.Error, formatTime(*r.FinishedAt), r.ID, r.Owner)
		return oneRow(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: job run finish %q: %w", r.ID, err)
	}
	return nil
}

// oneRow turns an update that changed no row into store.ErrNotFound.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// JobRunList implements store.Store.
func (s *Store) JobRunList(ctx context.Context, f store.JobRunFilter) ([]store.JobRun, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("sqlite: job run list: %w", err)
	}
	if !storeinput.Key(f.Job) {
		return nil, 0, nil
	}
	var w where
	if f.Job != "" {
		w.add("job = ?", f.Job)
	}
	runs, total, err := listPage(ctx, s, "job_runs", jobRunColumns, w, "tick DESC, id DESC", f.Page, scanJobRun)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: job run list: %w", err)
	}
	return runs, total, nil
}

// JobLastTick implements store.Store.
func (s *Store) JobLastTick(ctx context.Context, job string) (time.Time, bool, error) {
	var tick time.Time
	err := s.read.QueryRowContext(ctx, `SELECT tick FROM job_runs WHERE job = ? AND manual = 0
		ORDER BY tick DESC LIMIT 1`, job).Scan(textTime{&tick})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: job last tick %q: %w", job, err)
	}
	return tick, true, nil
}

func scanJobRun(row scanner) (store.JobRun, error) {
	var (
		r      store.JobRun
		status string
	)
	err := row.Scan(&r.ID, &r.Job, textTime{&r.Tick}, &r.Manual, &status, &r.Attempts, &r.Error, &r.Owner,
		textTime{&r.LeaseUntil}, textTime{&r.StartedAt}, nullTextTime{&r.FinishedAt})
	r.Status = store.JobRunStatus(status)
	return r, err
}
