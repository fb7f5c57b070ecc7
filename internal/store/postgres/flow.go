package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Flow storage (store.FlowStore): the flows' dead letters. Every method is one statement
// (List's two share a snapshot), so none takes a lock another waits for long.

var flowDeadLetterColumns = []string{
	"id", "flow", "queue", "step", "error", "body", "headers", "source_id", "attempts", "created_at", "accepted",
}

// FlowDeadLetterAdd implements store.Store. pgx encodes the headers map as the jsonb
// object, and Accepted as the jsonb array.
func (s *Store) FlowDeadLetterAdd(ctx context.Context, d store.FlowDeadLetter) error {
	d, err := storeinput.NormalizeFlowDeadLetter(d)
	if err != nil {
		return fmt.Errorf("postgres: flow dead letter add: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO flow_dead_letters (`+columns("", flowDeadLetterColumns)+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		d.ID, d.Flow, d.Queue, d.Step, d.Error, d.Body, d.Headers, d.SourceID, d.Attempts, d.CreatedAt, acceptedArray(d.Accepted))
	if err != nil {
		return fmt.Errorf("postgres: flow dead letter add %q: %w", d.ID, mapError(err))
	}
	return nil
}

// FlowDeadLetterGet implements store.Store.
func (s *Store) FlowDeadLetterGet(ctx context.Context, id string) (store.FlowDeadLetter, error) {
	if !storeinput.Key(id) {
		return store.FlowDeadLetter{}, fmt.Errorf("postgres: flow dead letter get %q: %w", id, store.ErrNotFound)
	}
	d, err := scanFlowDeadLetter(s.pool.QueryRow(ctx,
		`SELECT `+columns("", flowDeadLetterColumns)+` FROM flow_dead_letters WHERE id = $1`, id))
	if err != nil {
		return store.FlowDeadLetter{}, fmt.Errorf("postgres: flow dead letter get %q: %w", id, mapError(err))
	}
	return d, nil
}

// FlowDeadLetterList implements store.Store. The page and the total come from one
// snapshot, so they agree.
func (s *Store) FlowDeadLetterList(ctx context.Context, f store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("postgres: flow dead letter list: %w", err)
	}
	if !storeinput.Key(f.Flow) || !storeinput.Key(f.Queue) {
		return nil, 0, nil // no stored row can match
	}
	var w where
	if f.Flow != "" {
		w.add("flow = $%d", f.Flow)
	}
	if f.Queue != "" {
		w.add("queue = $%d", f.Queue)
	}
	letters, total, err := listPage(ctx, s, "flow_dead_letters", flowDeadLetterColumns, w, "created_at DESC, id DESC", f.Page, scanFlowDeadLetter)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: flow dead letter list: %w", err)
	}
	return letters, total, nil
}

// FlowDeadLetterSetAccepted implements store.Store.
func (s *Store) FlowDeadLetterSetAccepted(ctx context.Context, id string, accepted [][]string) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("postgres: flow dead letter set accepted %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE flow_dead_letters SET accepted = $2 WHERE id = $1`,
		id, acceptedArray(storeinput.NormalizeAccepted(accepted)))
	if err != nil {
		return fmt.Errorf("postgres: flow dead letter set accepted %q: %w", id, mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: flow dead letter set accepted %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// acceptedArray is what the accepted column gets: an empty array for none (a nil slice
// would be JSON null).
func acceptedArray(accepted [][]string) [][]string {
	if accepted == nil {
		return [][]string{}
	}
	return accepted
}

// FlowDeadLetterDelete implements store.Store.
func (s *Store) FlowDeadLetterDelete(ctx context.Context, id string) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("postgres: flow dead letter delete %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM flow_dead_letters WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: flow dead letter delete %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: flow dead letter delete %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// FlowDeadLetterCounts implements store.Store.
func (s *Store) FlowDeadLetterCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT flow, count(*) FROM flow_dead_letters GROUP BY flow`)
	if err != nil {
		return nil, fmt.Errorf("postgres: flow dead letter counts: %w", err)
	}
	counts := make(map[string]int)
	var (
		flow string
		n    int
	)
	_, err = pgx.ForEachRow(rows, []any{&flow, &n}, func() error {
		counts[flow] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: flow dead letter counts: %w", err)
	}
	return counts, nil
}

// scanFlowDeadLetter reads one row selected with flowDeadLetterColumns. The time is put
// in UTC (pgx returns timestamptz in the process's local zone).
func scanFlowDeadLetter(row pgx.Row) (store.FlowDeadLetter, error) {
	var d store.FlowDeadLetter
	err := row.Scan(&d.ID, &d.Flow, &d.Queue, &d.Step, &d.Error, &d.Body, &d.Headers, &d.SourceID, &d.Attempts,
		&d.CreatedAt, &d.Accepted)
	if err != nil {
		return store.FlowDeadLetter{}, err
	}
	if len(d.Accepted) == 0 {
		d.Accepted = nil
	}
	if d.Headers == nil {
		d.Headers = map[string]string{}
	}
	d.CreatedAt = d.CreatedAt.UTC()
	return d, nil
}
