package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// MessageError says that one message of a batch can never be written as it is, however
// often Write is retried: its body is not JSON, it lacks a key column (upsert), or
// PostgreSQL rejected its values with a data exception or an integrity violation
// (SQLSTATE class 22 or 23: a value that is not valid for the column's type, a NOT NULL,
// CHECK, unique or foreign key violation). Nothing of the batch was committed. A flow
// dead-letters the message at Index and writes the others again.
//
// Any other error from Write concerns the database as a whole (unreachable, table or
// column missing, transaction failed) and is worth retrying for the whole batch.
type MessageError = connector.MessageError

// rollbackTimeout bounds the rollback after a failed batch, which runs even when the
// caller's context is done, so the connection goes back to the pool clean.
const rollbackTimeout = 5 * time.Second

// Sink writes messages as rows.
type Sink struct {
	opts *options

	mu     sync.Mutex
	pool   *pgxpool.Pool
	stmt   *statement // built on first use, from the table's column types
	closed bool
}

var _ connector.Sink = (*Sink)(nil)

// NewSink validates the options; it does not connect (the first Write does), so a sink
// can be built while the database is down.
func NewSink(s connector.Settings) (connector.Sink, error) {
	o, err := readOptions(s, option.Sink)
	if err != nil {
		return nil, err
	}
	return &Sink{opts: o}, nil
}

// statement is the INSERT of one row with the table's column types.
type statement struct {
	sql     string
	columns []column
	json    []bool // per column: json/jsonb, so values are written as JSON text
	key     []int  // indexes into columns of the upsert key
}

// prepare connects and reads the column types once. Errors are not cached: a table
// created later is found by a later Write.
func (k *Sink) prepare(ctx context.Context) (*pgxpool.Pool, *statement, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, nil, errors.New("postgres sink: closed")
	}
	if k.pool == nil {
		pool, err := pgxpool.NewWithConfig(ctx, k.opts.pool)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres sink: %w", err)
		}
		k.pool = pool
	}
	if k.stmt == nil {
		cols, err := lookupColumns(ctx, k.pool, k.opts.tableName)
		if errors.Is(err, errNoTable) {
			return nil, nil, fmt.Errorf("postgres sink: table %s does not exist", k.opts.table)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("postgres sink: look up table %s: %w", k.opts.table, err)
		}
		st, err := buildStatement(k.opts, cols)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres sink: %w", err)
		}
		k.stmt = st
	}
	return k.pool, k.stmt, nil
}

// buildStatement writes every parameter as text with an explicit cast to the column's
// type ($1::text::numeric(10,2)). PostgreSQL then parses the value with the type's own
// input function: json.Number text keeps its full precision into numeric and bigint, RFC
// 3339 strings become timestamptz, JSON text becomes jsonb, whatever the statement mode
// of the driver or a pooler in between, and no value goes through a float64.
func buildStatement(o *options, cols map[string]tableColumn) (*statement, error) {
	names := make([]string, len(o.columns))
	for i, c := range o.columns {
		names[i] = c.name
	}
	if m := missing(cols, names); len(m) > 0 {
		return nil, missingColumnsError(o.table, m)
	}
	st := &statement{columns: o.columns, json: make([]bool, len(o.columns))}
	var b strings.Builder
	b.WriteString("INSERT INTO " + quote(o.tableName...) + " (")
	for i, c := range o.columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c.name))
	}
	b.WriteString(") VALUES (")
	for i, c := range o.columns {
		if i > 0 {
			b.WriteString(", ")
		}
		tc := cols[c.name]
		st.json[i] = tc.json
		b.WriteString("$" + strconv.Itoa(i+1) + "::text::" + tc.typ)
	}
	b.WriteString(")")
	if o.mode == ModeUpsert {
		keys := make([]string, len(o.key))
		for i, k := range o.key {
			keys[i] = quote(k)
			for j, c := range o.columns {
				if c.name == k {
					st.key = append(st.key, j)
				}
			}
		}
		b.WriteString(" ON CONFLICT (" + strings.Join(keys, ", ") + ")")
		var set []string
		for _, c := range o.columns {
			if !slices.Contains(o.key, c.name) {
				set = append(set, quote(c.name)+" = EXCLUDED."+quote(c.name))
			}
		}
		if len(set) == 0 {
			b.WriteString(" DO NOTHING")
		} else {
			b.WriteString(" DO UPDATE SET " + strings.Join(set, ", "))
		}
	}
	st.sql = b.String()
	return st, nil
}

// Write inserts (or upserts) every message as one row, all in one transaction: one
// statement per message, pipelined in a pgx.Batch, so a key repeated within the batch
// simply updates the row again (the later message wins) and an error can be traced to
// the message that caused it. It returns nil after the commit.
func (k *Sink) Write(ctx context.Context, msgs []connector.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	pool, st, err := k.prepare(ctx)
	if err != nil {
		return err
	}
	// Every message is checked before the database is touched.
	batch := &pgx.Batch{}
	for i, m := range msgs {
		args, err := st.args(m.Body)
		if err != nil {
			return &MessageError{Index: i, Err: err}
		}
		batch.Queue(st.sql, args...)
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres sink: begin: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // after a commit, a no-op
	}()
	results := tx.SendBatch(ctx, batch)
	for i := range msgs {
		if _, err := results.Exec(); err != nil {
			_ = results.Close()
			k.forget(st, err)
			return writeError(k.opts.table, i, err)
		}
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("postgres sink: insert into %s: %w", k.opts.table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres sink: commit: %w", err)
	}
	return nil
}

// forget drops the statement after a syntax or schema error (SQLSTATE class 42: a column
// dropped, renamed or given another type), so that the next Write reads the table again
// and a retry after a migration succeeds.
func (k *Sink) forget(st *statement, err error) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Code, "42") {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stmt == st {
		k.stmt = nil
	}
}

// writeError blames the message for errors its own values caused.
func writeError(table string, i int, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")) {
		if pgErr.ColumnName != "" {
			return &MessageError{Index: i, Err: fmt.Errorf("column %s: %w", pgErr.ColumnName, err)}
		}
		return &MessageError{Index: i, Err: err}
	}
	return fmt.Errorf("postgres sink: insert into %s: %w", table, err)
}

// args extracts the column values of one message: nil (NULL) or text.
func (st *statement) args(body []byte) ([]any, error) {
	doc, err := decodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	args := make([]any, len(st.columns))
	for i, c := range st.columns {
		var v any
		found := true
		switch {
		case len(c.expr) == 1 && st.json[i]:
			// "$" into a json/jsonb column: the body itself, as it came.
			args[i] = string(body)
			continue
		case c.singular:
			v, found = c.expr.FirstFound(doc)
		default:
			all := c.expr.Get(doc)
			if all == nil {
				all = []any{}
			}
			v = all
		}
		if v == nil || !found {
			args[i] = nil
			continue
		}
		text, err := textOf(v, st.json[i])
		if err != nil {
			return nil, fmt.Errorf("column %s (%s): %w", c.name, c.path, err)
		}
		args[i] = text
	}
	for _, j := range st.key {
		if args[j] == nil {
			return nil, fmt.Errorf("column %s (%s) is part of the upsert key and has no value", st.columns[j].name, st.columns[j].path)
		}
	}
	return args, nil
}

// decodeJSON decodes one JSON value, keeping numbers as json.Number so that no digit is
// lost on the way to numeric or bigint columns.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// textOf is the text PostgreSQL parses for a column: for json/jsonb columns the value's
// JSON; otherwise strings as they are, numbers as written, booleans as true/false, and
// objects and arrays as JSON text.
func textOf(v any, asJSON bool) (string, error) {
	switch v := v.(type) {
	case string:
		if !asJSON {
			return v, nil
		}
	case json.Number:
		return string(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep <, > and & as written in json (not jsonb) columns
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Close releases the connections; Write fails afterwards.
func (k *Sink) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.pool != nil {
		k.pool.Close()
		k.pool = nil
	}
	return nil
}
