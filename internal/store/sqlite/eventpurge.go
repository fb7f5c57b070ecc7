package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// purgeableEvents selects the next batch of events EventPurge may delete: stored before
// ?1, after the keyset position (?2, ?3), with no delivery or handler execution that
// keeps them (see store.WebhookStore.EventPurge). It walks events_created, so events
// kept by a dead letter are looked at once per purge, not once per batch.
const purgeableEvents = `SELECT e.id, e.created_at FROM events e
	WHERE e.created_at < ?1 AND (e.created_at, e.id) > (?2, ?3)
	  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
	      AND (d.status IN ('pending', 'retrying') OR d.dead_lettered_at IS NOT NULL OR d.updated_at >= ?1))
	  AND NOT EXISTS (SELECT 1 FROM handler_executions x WHERE x.event_id = e.id
	      AND (x.status <> 'done' OR x.updated_at >= ?1))
	ORDER BY e.created_at, e.id LIMIT ?4`

// EventPurge implements store.Store: one write transaction per batch, so publishes and
// delivery outcomes get the write lock between batches.
func (s *Store) EventPurge(ctx context.Context, before time.Time, batch int) (store.EventPurged, error) {
	var total store.EventPurged
	if err := store.CheckTime(before); err != nil {
		return total, fmt.Errorf("sqlite: event purge: %w", err)
	}
	if batch <= 0 {
		batch = store.EventPurgeBatch
	}
	cutoff := formatTime(before)
	var afterAt, afterID string // keyset: "" sorts before every stored value
	for {
		var n store.EventPurged
		var selected int
		err := s.writeTx(ctx, func(tx *sql.Tx) error {
			ids, lastAt, lastID, err := selectPurgeable(ctx, tx, cutoff, afterAt, afterID, batch)
			if err != nil || len(ids) == 0 {
				return err
			}
			selected, afterAt, afterID = len(ids), lastAt, lastID
			n, err = deletePurgeable(ctx, tx, cutoff, ids)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlite: event purge: %w", err)
		}
		total.Add(n)
		if selected < batch {
			return total, nil
		}
	}
}

// selectPurgeable returns the ids of the next batch and the keyset position of its last.
func selectPurgeable(ctx context.Context, tx *sql.Tx, cutoff, afterAt, afterID string, batch int) ([]string, string, string, error) {
	rows, err := tx.QueryContext(ctx, purgeableEvents, cutoff, afterAt, afterID, batch)
	if err != nil {
		return nil, "", "", err
	}
	defer func() { _ = rows.Close() }()
	var ids []string
	var at string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id, &at); err != nil {
			return nil, "", "", err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, "", "", err
	}
	return ids, at, ids[len(ids)-1], nil
}

// deletePurgeable deletes the events ids with their finished deliveries and done
// executions. Under SQLite's one writer nothing changed since they were selected.
func deletePurgeable(ctx context.Context, tx *sql.Tx, cutoff string, ids []string) (store.EventPurged, error) {
	var n store.EventPurged
	list, err := jsonList(ids)
	if err != nil {
		return n, err
	}
	for _, step := range []struct {
		query string
		args  []any
		count *int
	}{
		{`DELETE FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?1))
			AND status IN ('delivered', 'failed') AND dead_lettered_at IS NULL AND updated_at < ?2`, []any{list, cutoff}, &n.Deliveries},
		{`DELETE FROM handler_executions WHERE event_id IN (SELECT value FROM json_each(?1))
			AND status = 'done' AND updated_at < ?2`, []any{list, cutoff}, &n.HandlerExecutions},
		{`DELETE FROM events WHERE id IN (SELECT value FROM json_each(?1))`, []any{list}, &n.Events},
	} {
		res, err := tx.ExecContext(ctx, step.query, step.args...)
		if err != nil {
			return n, err
		}
		affected, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		*step.count = int(affected)
	}
	return n, nil
}
