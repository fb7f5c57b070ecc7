package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
)

// purgeableEvents selects the next batch of events EventPurge may delete: stored before
// $1, after the keyset position ($2, $3), with no delivery or handler execution that
// keeps them (see store.WebhookStore.EventPurge). It walks events_created, so events
// kept by a dead letter are looked at once per purge, not once per batch.
const purgeableEvents = `SELECT e.id, e.created_at FROM events e
	WHERE e.created_at < $1 AND (e.created_at, e.id) > ($2, $3)
	  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
	      AND (d.status IN ('pending', 'retrying') OR d.dead_lettered_at IS NOT NULL OR d.updated_at >= $1))
	  AND NOT EXISTS (SELECT 1 FROM handler_executions x WHERE x.event_id = e.id
	      AND (x.status <> 'done' OR x.updated_at >= $1))
	ORDER BY e.created_at, e.id LIMIT $4`

// The deletes repeat the selection's conditions: between the SELECT and them another
// transaction may have requeued a delivery (POST /webhooks/deliveries/{id}/retry) of a
// selected event. Under READ COMMITTED a DELETE re-checks its WHERE on the row version
// it finally locks, so a requeued delivery is not deleted, and the event, still
// referenced, is not either.
const (
	purgeDeliveries = `DELETE FROM deliveries WHERE event_id = ANY($1)
		AND status IN ('delivered', 'failed') AND dead_lettered_at IS NULL AND updated_at < $2`
	purgeExecutions = `DELETE FROM handler_executions WHERE event_id = ANY($1)
		AND status = 'done' AND updated_at < $2`
	purgeEvents = `DELETE FROM events e WHERE e.id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
		AND NOT EXISTS (SELECT 1 FROM handler_executions x WHERE x.event_id = e.id)`
)

// EventPurge implements store.Store: one transaction per batch, so no lock is held
// across the whole backlog.
func (s *Store) EventPurge(ctx context.Context, before time.Time, batch int) (store.EventPurged, error) {
	var total store.EventPurged
	if err := store.CheckTime(before); err != nil {
		return total, fmt.Errorf("postgres: event purge: %w", err)
	}
	if batch <= 0 {
		batch = store.EventPurgeBatch
	}
	cutoff := store.NormalizeTime(before)
	afterAt, afterID := time.Time{}, "" // keyset: before every stored event
	for {
		var n store.EventPurged
		var selected int
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			ids, lastAt, err := selectPurgeable(ctx, tx, cutoff, afterAt, afterID, batch)
			if err != nil || len(ids) == 0 {
				return err
			}
			selected, afterAt, afterID = len(ids), lastAt, ids[len(ids)-1]
			n, err = deletePurgeable(ctx, tx, cutoff, ids)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("postgres: event purge: %w", mapError(err))
		}
		total.Add(n)
		if selected < batch {
			return total, nil
		}
	}
}

// selectPurgeable returns the ids of the next batch and the time of its last.
func selectPurgeable(ctx context.Context, tx pgx.Tx, cutoff, afterAt time.Time, afterID string, batch int) ([]string, time.Time, error) {
	rows, err := tx.Query(ctx, purgeableEvents, cutoff, afterAt, afterID, batch)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	var ids []string
	var at time.Time
	for rows.Next() {
		var id string
		if err := rows.Scan(&id, &at); err != nil {
			return nil, time.Time{}, err
		}
		ids = append(ids, id)
	}
	return ids, at, rows.Err()
}

// deletePurgeable deletes the events ids with their finished deliveries and done
// executions, in the order the foreign keys need.
func deletePurgeable(ctx context.Context, tx pgx.Tx, cutoff time.Time, ids []string) (store.EventPurged, error) {
	var n store.EventPurged
	for _, step := range []struct {
		query string
		args  []any
		count *int
	}{
		{purgeDeliveries, []any{ids, cutoff}, &n.Deliveries},
		{purgeExecutions, []any{ids, cutoff}, &n.HandlerExecutions},
		{purgeEvents, []any{ids}, &n.Events},
	} {
		tag, err := tx.Exec(ctx, step.query, step.args...)
		if err != nil {
			return n, err
		}
		*step.count = int(tag.RowsAffected())
	}
	return n, nil
}
