package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Event log (store.EventLogStore): events in the order of the transaction that stored
// them (events.xid, migration 00017), then id. Transactions commit out of xid order, so
// a read returns only events whose transaction is older than the oldest one still
// running (the snapshot's xmin): every transaction below it has ended, so nothing can
// commit behind the last event read. The cost: a transaction that stays open (on any
// database of the server) holds new events back until it ends.

// eventLogSQL reads the log. $1, $2: the position after which to read; $3: every type;
// $4: exact types; $5: type prefixes; $6: the limit. Ids compare bytewise (COLLATE "C",
// as the index is built), as Go compares them.
const eventLogSQL = `SELECT e.xid::text, e.id, e.type, e.data, e.source, e.created_at
	FROM events e
	WHERE (e.xid, e.id COLLATE "C") > ($1::text::xid8, $2::text COLLATE "C")
		AND e.xid < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
		AND ($3 OR e.type = ANY($4::text[]) OR EXISTS (SELECT 1 FROM unnest($5::text[]) p WHERE starts_with(e.type, p)))
	ORDER BY e.xid, e.id COLLATE "C"
	LIMIT $6`

// EventLogRead implements store.Store. Event transaction ids are not dense, so purged
// events are known only by the event at q.After being gone (Skipped -1).
func (s *Store) EventLogRead(ctx context.Context, q store.EventLogQuery) (store.EventLogPage, error) {
	f, err := storeinput.CheckEventLogQuery(q)
	if err != nil {
		return store.EventLogPage{}, fmt.Errorf("postgres: event log read: %w", err)
	}
	var page store.EventLogPage
	if q.After.ID != "" {
		var kept bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)`, q.After.ID).Scan(&kept); err != nil {
			return store.EventLogPage{}, fmt.Errorf("postgres: event log read: %w", mapError(err))
		}
		if !kept {
			page.Skipped = -1
		}
	}
	rows, err := s.pool.Query(ctx, eventLogSQL, strconv.FormatInt(q.After.Seq, 10), q.After.ID,
		f.All, storeinput.NonNilStrings(f.Exact), storeinput.NonNilStrings(f.Prefixes), q.Limit)
	if err != nil {
		return store.EventLogPage{}, fmt.Errorf("postgres: event log read: %w", mapError(err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e   store.LoggedEvent
			xid string
		)
		if err := rows.Scan(&xid, &e.ID, &e.Type, &e.Data, &e.Source, &e.Time); err != nil {
			return store.EventLogPage{}, fmt.Errorf("postgres: event log read: %w", err)
		}
		if e.Position.Seq, err = strconv.ParseInt(xid, 10, 64); err != nil {
			return store.EventLogPage{}, fmt.Errorf("postgres: event log read: transaction id %q: %w", xid, err)
		}
		e.Position.ID, e.Time = e.ID, e.Time.UTC()
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return store.EventLogPage{}, fmt.Errorf("postgres: event log read: %w", mapError(err))
	}
	return page, nil
}

// FlowEventCursorStart implements store.Store. A new cursor is the snapshot's xmin
// with no id: the events of transactions that had ended are behind it, those of
// transactions still running (and later ones) after it.
func (s *Store) FlowEventCursorStart(ctx context.Context, flow string, at time.Time) (store.EventPosition, bool, error) {
	if err := storeinput.CheckEventCursor(flow, store.EventPosition{}, at); err != nil {
		return store.EventPosition{}, false, fmt.Errorf("postgres: flow event cursor start: %w", err)
	}
	var pos store.EventPosition
	err := s.pool.QueryRow(ctx, `INSERT INTO flow_event_cursors (flow, seq, event_id, updated_at)
		VALUES ($1, pg_snapshot_xmin(pg_current_snapshot())::text::bigint, '', $2)
		ON CONFLICT (flow) DO NOTHING RETURNING seq, event_id`, flow, store.NormalizeTime(at)).Scan(&pos.Seq, &pos.ID)
	if err == nil {
		return pos, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.EventPosition{}, false, fmt.Errorf("postgres: flow event cursor start %q: %w", flow, mapError(err))
	}
	err = s.pool.QueryRow(ctx, `SELECT seq, event_id FROM flow_event_cursors WHERE flow = $1`, flow).Scan(&pos.Seq, &pos.ID)
	if err != nil {
		return store.EventPosition{}, false, fmt.Errorf("postgres: flow event cursor start %q: %w", flow, mapError(err))
	}
	return pos, false, nil
}

// FlowEventCursorSet implements store.Store.
func (s *Store) FlowEventCursorSet(ctx context.Context, flow string, pos store.EventPosition, at time.Time) error {
	if err := storeinput.CheckEventCursor(flow, pos, at); err != nil {
		return fmt.Errorf("postgres: flow event cursor set: %w", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO flow_event_cursors AS c (flow, seq, event_id, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (flow) DO UPDATE SET seq = excluded.seq, event_id = excluded.event_id, updated_at = excluded.updated_at
		WHERE (excluded.seq, excluded.event_id COLLATE "C") > (c.seq, c.event_id COLLATE "C")`,
		flow, pos.Seq, pos.ID, store.NormalizeTime(at))
	if err != nil {
		return fmt.Errorf("postgres: flow event cursor set %q: %w", flow, mapError(err))
	}
	return nil
}

// FlowEventCursorsPrune implements store.Store.
func (s *Store) FlowEventCursorsPrune(ctx context.Context, keep []string, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("postgres: flow event cursors prune: %w", err)
	}
	// A nil slice is a NULL array, and <> ALL(NULL) holds for no row.
	tag, err := s.pool.Exec(ctx, `DELETE FROM flow_event_cursors WHERE updated_at < $1 AND flow <> ALL($2::text[])`,
		store.NormalizeTime(before), append([]string{}, keep...))
	if err != nil {
		return 0, fmt.Errorf("postgres: flow event cursors prune: %w", mapError(err))
	}
	return int(tag.RowsAffected()), nil
}
