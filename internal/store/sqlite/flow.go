package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Flow storage (store.FlowStore): the flows' dead letters. Writes go through the single
// write connection like every other write (see Store); each is one small row, so they
// need no batching.

var flowDeadLetterColumns = []string{
	"id", "flow", "queue", "step", "error", "body", "headers", "source_id", "attempts", "created_at", "accepted",
}

// FlowDeadLetterAdd implements store.Store.
func (s *Store) FlowDeadLetterAdd(ctx context.Context, d store.FlowDeadLetter) error {
	d, err := storeinput.NormalizeFlowDeadLetter(d)
	if err != nil {
		return fmt.Errorf("sqlite: flow dead letter add: %w", err)
	}
	headers, err := json.Marshal(d.Headers)
	if err != nil {
		return fmt.Errorf("sqlite: flow dead letter add %q: %w", d.ID, err)
	}
	accepted, err := acceptedJSON(d.Accepted)
	if err != nil {
		return fmt.Errorf("sqlite: flow dead letter add %q: %w", d.ID, err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO flow_dead_letters (`+columns("", flowDeadLetterColumns)+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Flow, d.Queue, d.Step, d.Error, d.Body, string(headers), d.SourceID, d.Attempts,
			formatTime(d.CreatedAt), accepted)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: flow dead letter add %q: %w", d.ID, err)
	}
	return nil
}

// FlowDeadLetterGet implements store.Store.
func (s *Store) FlowDeadLetterGet(ctx context.Context, id string) (store.FlowDeadLetter, error) {
	if !storeinput.Key(id) {
		return store.FlowDeadLetter{}, fmt.Errorf("sqlite: flow dead letter get %q: %w", id, store.ErrNotFound)
	}
	d, err := scanFlowDeadLetter(s.read.QueryRowContext(ctx,
		`SELECT `+columns("", flowDeadLetterColumns)+` FROM flow_dead_letters WHERE id = ?`, id))
	if err != nil {
		return store.FlowDeadLetter{}, fmt.Errorf("sqlite: flow dead letter get %q: %w", id, notFound(err))
	}
	return d, nil
}

// FlowDeadLetterList implements store.Store. The page and the total come from one read
// transaction, so they agree.
func (s *Store) FlowDeadLetterList(ctx context.Context, f store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("sqlite: flow dead letter list: %w", err)
	}
	if !storeinput.Key(f.Flow) || !storeinput.Key(f.Queue) {
		return nil, 0, nil // no stored row can match
	}
	var w where
	if f.Flow != "" {
		w.add("flow = ?", f.Flow)
	}
	if f.Queue != "" {
		w.add("queue = ?", f.Queue)
	}
	letters, total, err := listPage(ctx, s, "flow_dead_letters", flowDeadLetterColumns, w, "created_at DESC, id DESC", f.Page, scanFlowDeadLetter)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: flow dead letter list: %w", err)
	}
	return letters, total, nil
}

// FlowDeadLetterSetAccepted implements store.Store.
func (s *Store) FlowDeadLetterSetAccepted(ctx context.Context, id string, accepted [][]string) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("sqlite: flow dead letter set accepted %q: %w", id, store.ErrNotFound)
	}
	text, err := acceptedJSON(storeinput.NormalizeAccepted(accepted))
	if err != nil {
		return fmt.Errorf("sqlite: flow dead letter set accepted %q: %w", id, err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE flow_dead_letters SET accepted = ? WHERE id = ?`, text, id)
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
	})
	if err != nil {
		return fmt.Errorf("sqlite: flow dead letter set accepted %q: %w", id, err)
	}
	return nil
}

// acceptedJSON is the accepted column's text: "[]" for none.
func acceptedJSON(accepted [][]string) (string, error) {
	if accepted == nil {
		return "[]", nil
	}
	b, err := json.Marshal(accepted)
	return string(b), err
}

// FlowDeadLetterDelete implements store.Store.
func (s *Store) FlowDeadLetterDelete(ctx context.Context, id string) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("sqlite: flow dead letter delete %q: %w", id, store.ErrNotFound)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM flow_dead_letters WHERE id = ?`, id)
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
	})
	if err != nil {
		return fmt.Errorf("sqlite: flow dead letter delete %q: %w", id, err)
	}
	return nil
}

// FlowDeadLetterCounts implements store.Store.
func (s *Store) FlowDeadLetterCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT flow, count(*) FROM flow_dead_letters GROUP BY flow`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: flow dead letter counts: %w", err)
	}
	defer func() { _ = rows.Close() }()
	counts := make(map[string]int)
	for rows.Next() {
		var (
			flow string
			n    int
		)
		if err := rows.Scan(&flow, &n); err != nil {
			return nil, fmt.Errorf("sqlite: flow dead letter counts: %w", err)
		}
		counts[flow] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: flow dead letter counts: %w", err)
	}
	return counts, nil
}

// scanFlowDeadLetter reads one row selected with flowDeadLetterColumns; the headers
// arrive as JSON text.
func scanFlowDeadLetter(row scanner) (store.FlowDeadLetter, error) {
	var (
		d                 store.FlowDeadLetter
		headers, accepted string
	)
	err := row.Scan(&d.ID, &d.Flow, &d.Queue, &d.Step, &d.Error, &d.Body, &headers, &d.SourceID, &d.Attempts,
		textTime{&d.CreatedAt}, &accepted)
	if err != nil {
		return store.FlowDeadLetter{}, err
	}
	if err := json.Unmarshal([]byte(accepted), &d.Accepted); err != nil {
		return store.FlowDeadLetter{}, fmt.Errorf("dead letter %q: accepted: %w", d.ID, err)
	}
	if len(d.Accepted) == 0 {
		d.Accepted = nil
	}
	d.Headers = map[string]string{}
	if err := json.Unmarshal([]byte(headers), &d.Headers); err != nil {
		return store.FlowDeadLetter{}, fmt.Errorf("dead letter %q: headers: %w", d.ID, err)
	}
	return d, nil
}
