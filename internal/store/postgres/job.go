package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Job storage (store.JobStore): the runs of scheduled jobs. A claim is an insert that
// does nothing on the (job, tick) key of scheduled runs, then, if the tick was taken,
// one conditional update that takes over a run whose lease lapsed: each statement is
// atomic, so two processes never both win a tick.

var jobRunColumns = []string{
	"id", "job", "tick", "manual", "status", "attempts", "error", "owner", "lease_until", "started_at", "finished_at",
}

// JobRunClaim implements store.Store.
func (s *Store) JobRunClaim(ctx context.Context, r store.JobRun) (store.JobRun, bool, error) {
	r, err := storeinput.NormalizeJobRun(r)
	if err != nil {
		return store.JobRun{}, false, fmt.Errorf("postgres: job run claim: %w", err)
	}
	fail := func(err error) (store.JobRun, bool, error) {
		return store.JobRun{}, false, fmt.Errorf("postgres: job run claim %s at %s: %w", r.Job, r.Tick.Format(time.RFC3339), mapError(err))
	}
	conflict := ` ON CONFLICT (job, tick) WHERE NOT manual DO NOTHING`
	if r.Manual {
		conflict = ""
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO job_runs (`+columns("", jobRunColumns)+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)`+conflict,
		r.ID, r.Job, r.Tick, r.Manual, string(r.Status), r.Attempts, r.Error, r.Owner, r.LeaseUntil, r.StartedAt)
	if err != nil {
		return fail(err)
	}
	if tag.RowsAffected() == 1 {
		return r, true, nil
	}
	// The tick is taken: take it over if its owner's lease lapsed.
	out, err := scanJobRun(s.pool.QueryRow(ctx, `UPDATE job_runs SET owner = $1, lease_until = $2
		WHERE job = $3 AND tick = $4 AND NOT manual AND status = 'running' AND lease_until < $5
		RETURNING `+columns("", jobRunColumns), r.Owner, r.LeaseUntil, r.Job, r.Tick, r.StartedAt))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.JobRun{}, false, nil
	}
	if err != nil {
		return fail(err)
	}
	return out, true, nil
}

// JobRunRenew implements store.Store.
func (s *Store) JobRunRenew(ctx context.Context, id, owner string, until time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE job_runs SET lease_until = $1 WHERE id = $2 AND owner = $3 AND status = 'running'`,
		until, id, owner)
	switch {
	case err != nil:
		return fmt.Errorf("postgres: job run renew %q: %w", id, mapError(err))
	case tag.RowsAffected() == 0:
		return fmt.Errorf("postgres: job run renew %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// JobRunFinish implements store.Store.
func (s *Store) JobRunFinish(ctx context.Context, r store.JobRun) error {
	r, err := storeinput.NormalizeJobFinish(r)
	if err != nil {
		return fmt.Errorf("postgres: job run finish: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE job_runs SET status = $1, attempts = $2, error = $3, finished_at = $4
		WHERE id = $5 AND owner = $6 AND status = 'running'`,
		string(r.Status), r.Attempts, r.Error, *r.FinishedAt, r.ID, r.Owner)
	switch {
	case err != nil:
		return fmt.Errorf("postgres: job run finish %q: %w", r.ID, mapError(err))
	case tag.RowsAffected() == 0:
		return fmt.Errorf("postgres: job run finish %q: %w", r.ID, store.ErrNotFound)
	}
	return nil
}

// JobRunList implements store.Store.
func (s *Store) JobRunList(ctx context.Context, f store.JobRunFilter) ([]store.JobRun, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("postgres: job run list: %w", err)
	}
	if !storeinput.Key(f.Job) {
		return nil, 0, nil
	}
	var w where
	if f.Job != "" {
		w.add("job = $%d", f.Job)
	}
	runs, total, err := listPage(ctx, s, "job_runs", jobRunColumns, w, "tick DESC, id DESC", f.Page, scanJobRun)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: job run list: %w", err)
	}
	return runs, total, nil
}

// JobLastTick implements store.Store.
func (s *Store) JobLastTick(ctx context.Context, job string) (time.Time, bool, error) {
	if !storeinput.Key(job) {
		return time.Time{}, false, nil
	}
	var tick time.Time
	err := s.pool.QueryRow(ctx, `SELECT tick FROM job_runs WHERE job = $1 AND NOT manual ORDER BY tick DESC LIMIT 1`, job).Scan(&tick)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("postgres: job last tick %q: %w", job, err)
	}
	return tick.UTC(), true, nil
}

func scanJobRun(row pgx.Row) (store.JobRun, error) {
	var (
		r      store.JobRun
		status string
	)
	err := row.Scan(&r.ID, &r.Job, &r.Tick, &r.Manual, &status, &r.Attempts, &r.Error, &r.Owner,
		&r.LeaseUntil, &r.StartedAt, &r.FinishedAt)
	r.Status = store.JobRunStatus(status)
	r.Tick, r.LeaseUntil, r.StartedAt = r.Tick.UTC(), r.LeaseUntil.UTC(), r.StartedAt.UTC()
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		r.FinishedAt = &t
	}
	return r, err
}
