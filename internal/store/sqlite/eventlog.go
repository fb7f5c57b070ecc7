package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Event log (store.EventLogStore): events in seq order, seq being drawn from
// event_sequence when an event is stored (see publishInTx), so it is dense and a gap
// after a cursor is a count of purged events.

// EventLogRead implements store.Store.
func (s *Store) EventLogRead(ctx context.Context, q store.EventLogQuery) (store.EventLogPage, error) {
	f, err := storeinput.CheckEventLogQuery(q)
	if err != nil {
		return store.EventLogPage{}, fmt.Errorf("sqlite: event log read: %w", err)
	}
	var page store.EventLogPage
	// One read transaction, so the gap and the events come from one snapshot.
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.EventLogPage{}, fmt.Errorf("sqlite: event log read: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The next event's seq: After's own with no id (a new flow's cursor), else the one after.
	expect := q.After.Seq
	if q.After.ID != "" {
		expect++
	}
	var next sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT min(seq) FROM events WHERE seq >= ?`, expect).Scan(&next); err != nil {
		return store.EventLogPage{}, fmt.Errorf("sqlite: event log read: %w", err)
	}
	if next.Valid && next.Int64 > expect {
		page.Skipped = next.Int64 - expect
	}
	where, args := typeFilter(f)
	args = append([]any{q.After.Seq, q.After.Seq, q.After.ID}, args...)
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, type, data, source, created_at FROM events
		WHERE (seq > ? OR seq = ? AND id > ?)`+where+` ORDER BY seq, id LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return store.EventLogPage{}, fmt.Errorf("sqlite: event log read: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e store.LoggedEvent
		if err := rows.Scan(&e.Position.Seq, &e.ID, &e.Type, &e.Data, &e.Source, textTime{&e.Time}); err != nil {
			return store.EventLogPage{}, fmt.Errorf("sqlite: event log read: %w", err)
		}
		e.Position.ID = e.ID
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return store.EventLogPage{}, fmt.Errorf("sqlite: event log read: %w", err)
	}
	return page, nil
}

// typeFilter is the condition (" AND …") and arguments selecting f's event types.
func typeFilter(f storeinput.EventTypeFilter) (string, []any) {
	if f.All {
		return "", nil
	}
	var (
		or   []string
		args []any
	)
	for _, t := range f.Exact {
		or, args = append(or, "type = ?"), append(args, t)
	}
	for _, p := range f.Prefixes {
		// substr counts characters, as length does.
		or, args = append(or, "substr(type, 1, length(?)) = ?"), append(args, p, p)
	}
	return " AND (" + strings.Join(or, " OR ") + ")", args
}

// FlowEventCursorStart implements store.Store.
func (s *Store) FlowEventCursorStart(ctx context.Context, flow string, at time.Time) (store.EventPosition, bool, error) {
	if err := storeinput.CheckEventCursor(flow, store.EventPosition{}, at); err != nil {
		return store.EventPosition{}, false, fmt.Errorf("sqlite: flow event cursor start: %w", err)
	}
	var (
		pos     store.EventPosition
		created bool
	)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT seq, event_id FROM flow_event_cursors WHERE flow = ?`, flow).Scan(&pos.Seq, &pos.ID)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		created = true
		// The next event's seq, with no id: before it, after every event stored.
		if err := tx.QueryRowContext(ctx, `SELECT n + 1 FROM event_sequence WHERE id = 1`).Scan(&pos.Seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO flow_event_cursors (flow, seq, event_id, updated_at) VALUES (?, ?, '', ?)`,
			flow, pos.Seq, formatTime(at))
		return err
	})
	if err != nil {
		return store.EventPosition{}, false, fmt.Errorf("sqlite: flow event cursor start %q: %w", flow, err)
	}
	return pos, created, nil
}

// FlowEventCursorSet implements store.Store.
func (s *Store) FlowEventCursorSet(ctx context.Context, flow string, pos store.EventPosition, at time.Time) error {
	if err := storeinput.CheckEventCursor(flow, pos, at); err != nil {
		return fmt.Errorf("sqlite: flow event cursor set: %w", err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO flow_event_cursors (flow, seq, event_id, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (flow) DO UPDATE SET seq = excluded.seq, event_id = excluded.event_id, updated_at = excluded.updated_at
			WHERE excluded.seq > flow_event_cursors.seq
				OR excluded.seq = flow_event_cursors.seq AND excluded.event_id > flow_event_cursors.event_id`,
			flow, pos.Seq, pos.ID, formatTime(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: flow event cursor set %q: %w", flow, err)
	}
	return nil
}

// FlowEventCursorsPrune implements store.Store. The names to keep go in as one JSON
// array, so any number of flows is one statement.
func (s *Store) FlowEventCursorsPrune(ctx context.Context, keep []string, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("sqlite: flow event cursors prune: %w", err)
	}
	names, err := json.Marshal(append([]string{}, keep...))
	if err != nil {
		return 0, fmt.Errorf("sqlite: flow event cursors prune: %w", err)
	}
	n, err := s.writeExec(ctx, `DELETE FROM flow_event_cursors WHERE updated_at < ?
			AND flow NOT IN (SELECT value FROM json_each(?))`, formatTime(before), string(names))
	if err != nil {
		return 0, fmt.Errorf("sqlite: flow event cursors prune: %w", err)
	}
	return int(n), nil
}
