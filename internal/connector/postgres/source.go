package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// ErrSettled is returned by a second Ack or Nack of the same delivery.
var ErrSettled = errors.New("postgres: delivery already settled")

// Timings of the poll source.
const (
	// pollBackoffMax caps the wait between polls that failed in a row.
	pollBackoffMax = 30 * time.Second
	// persistTimeout bounds the cursor write made while stopping, after ctx is done.
	persistTimeout = 5 * time.Second
	// windowFactor bounds the rows kept in memory to windowFactor × inFlight: rows acked
	// behind one slow row cannot move the stored cursor, and would otherwise pile up.
	windowFactor = 10
	// heldWarnAfter is how long new rows may wait for older transactions before a
	// warning says which transaction holds them back.
	heldWarnAfter = time.Minute
	// markRecheckMin is the shortest wait before checking again whether the
	// transactions that hold rows back have ended.
	markRecheckMin = 10 * time.Millisecond
)

// rowAlias names the polled table in the query; the where option sees its columns
// unqualified. It is unlikely to be a column name, which would shadow it.
const rowAlias = "junction_row"

// NewSource builds a source that polls a table (mode: poll, the default) or receives
// NOTIFY payloads (mode: listen). It validates the options and does not connect; Open
// does.
func NewSource(s connector.Settings) (connector.Source, error) {
	o, err := readOptions(s, option.Source)
	if err != nil {
		return nil, err
	}
	if o.mode == ModeListen {
		return &listenSource{opts: o, log: s.Env.Log(), clock: s.Env.Time()}, nil
	}
	return &pollSource{opts: o, log: s.Env.Log(), clock: s.Env.Time()}, nil
}

type rowState int

const (
	rowOut    rowState = iota // handed out, not settled
	rowAcked                  // acknowledged; stored once every earlier row is too
	rowNacked                 // handed back; to be delivered again
)

// row is a delivered row that the stored cursor has not yet passed.
type row struct {
	cursor string
	body   []byte
	state  rowState
}

// pollSource delivers the rows of a table in cursor order and stores, in
// junction_flow_cursors, the cursor of the last row of the acknowledged prefix: a row
// acknowledged after an earlier one that is still out (or was handed back) is delivered
// again after a restart, never skipped.
//
// Concurrent writers commit out of cursor order: a transaction holding id 10 may commit
// after one holding id 11 did, and a poll in between would move past 10 for good. So a
// poll delivers rows only up to a bound: the highest cursor seen by an earlier poll, once
// every transaction that had written when it was seen has ended. See snapshot.
type pollSource struct {
	opts  *options
	log   *slog.Logger
	clock clock.Clock

	first, next string // the poll query without and with a cursor to start after; both end at a bound
	snap        string // the snapshot query: oldest running xid, highest cursor
	polls       atomic.Int64

	// Touched by the loop only.
	bound   *string // rows up to this cursor are settled; nil: none known yet
	mark    *mark   // the next bound, waiting for transactions running when it was seen
	fetched int     // rows the last poll delivered

	mu        sync.Mutex
	opened    bool
	closed    bool
	pool      *pgxpool.Pool
	cancel    context.CancelFunc
	done      chan struct{} // closed when the loop has stopped
	pending   []*row        // in cursor order: every row handed out since the stored cursor
	nacked    int           // rows of pending waiting to be delivered again
	unsettled int           // rows of pending out or nacked (the inFlight limit counts them)
	last      *string       // cursor of the last row fetched; nil: from the start
	acked     *string       // end of the acknowledged prefix
	stored    *string       // what junction_flow_cursors holds
	wake      func()        // ends the loop's current sleep
	woken     bool          // a wake arrived while the loop was not sleeping
}

var _ connector.Source = (*pollSource)(nil)

// mark is a cursor seen while transactions with an xid below xid could still commit rows
// below it; it becomes the bound once the oldest running transaction is xid or newer.
type mark struct {
	cursor string
	xid    uint64
	since  time.Time
	warned bool
}

// Open creates junction_flow_cursors if it is missing, checks the table and its columns,
// reads the stored cursor and starts polling.
func (p *pollSource) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	p.mu.Lock()
	if p.opened || p.closed {
		p.mu.Unlock()
		return nil, errors.New("postgres source: Open called twice or after Close")
	}
	p.opened = true
	p.mu.Unlock()

	pool, err := pgxpool.NewWithConfig(ctx, p.opts.pool)
	if err != nil {
		return nil, fmt.Errorf("postgres source: %w", err)
	}
	stored, err := p.start(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}

	inFlight = max(inFlight, 1)
	loopCtx, cancel := context.WithCancel(ctx)
	ch := make(chan connector.Delivery)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed { // Close ran while Open was connecting
		cancel()
		pool.Close()
		return nil, errors.New("postgres source: closed")
	}
	p.pool, p.cancel, p.done = pool, cancel, make(chan struct{})
	p.last, p.acked, p.stored = stored, stored, stored
	go p.run(loopCtx, ch, inFlight)
	return ch, nil
}

// start prepares the queries and returns the stored cursor (nil when there is none).
func (p *pollSource) start(ctx context.Context, pool *pgxpool.Pool) (*string, error) {
	o := p.opts
	_, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+CursorTable+` (
	name text PRIMARY KEY,
	value text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
)`)
	var pgErr *pgconn.PgError
	// Two sources creating the table at once: the loser sees the winner's catalog rows.
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07") {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres source: create %s: %w", CursorTable, err)
	}
	cols, err := lookupColumns(ctx, pool, o.tableName)
	if errors.Is(err, errNoTable) {
		return nil, fmt.Errorf("postgres source: table %s does not exist", o.table)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres source: look up table %s: %w", o.table, err)
	}
	if m := missing(cols, append([]string{o.cursor}, o.fields...)); len(m) > 0 {
		return nil, fmt.Errorf("postgres source: %w", missingColumnsError(o.table, m))
	}
	p.first, p.next, p.snap = pollQueries(o, cols[o.cursor].typ)

	var stored string
	err = pool.QueryRow(ctx, `SELECT value FROM `+CursorTable+` WHERE name = $1`, o.cursorName).Scan(&stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("postgres source: read cursor %q: %w", o.cursorName, err)
	}
	return &stored, nil
}

// pollQueries builds the query without and with a cursor to start after, both ending at
// a bound, and the snapshot query (see pollSource.snapshot). Rows become JSON in
// PostgreSQL (row_to_json), so every column type arrives as PostgreSQL renders it. The
// cursor travels as text and is cast back to its column's type, so it compares as the
// type does (numbers as numbers, times as times), not as text.
func pollQueries(o *options, cursorType string) (first, next, snap string) {
	cur := rowAlias + "." + quote(o.cursor)
	body := "row_to_json(" + rowAlias + ")"
	if o.fields != nil {
		sel := make([]string, len(o.fields))
		for i, f := range o.fields {
			sel[i] = rowAlias + "." + quote(f)
		}
		body = "row_to_json((SELECT d FROM (SELECT " + strings.Join(sel, ", ") + ") AS d))"
	}
	head := "SELECT " + cur + "::text, " + body + "::text FROM " + quote(o.tableName...) + " AS " + rowAlias +
		" WHERE " + cur + " IS NOT NULL"
	tail := " ORDER BY " + cur + " LIMIT $1"
	upTo := " AND " + cur + " <= $2::text::" + cursorType
	after := " AND " + cur + " > $3::text::" + cursorType
	if o.where != "" {
		// Trusted configuration: the condition is SQL, written by whoever writes the flow.
		tail = " AND (" + o.where + ")" + tail
	}
	// One statement, so one snapshot for both. Without the where condition: a bound may
	// lie on a row the source does not deliver, and max(cursor) stays an index lookup.
	snap = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, (SELECT max(" + cur + ")::text FROM " +
		quote(o.tableName...) + " AS " + rowAlias + ")"
	return head + upTo + tail, head + upTo + after + tail, snap
}

func (p *pollSource) run(ctx context.Context, ch chan<- connector.Delivery, inFlight int) {
	defer close(p.done)
	defer close(ch)
	defer p.persistNow(ctx)
	backoff := p.opts.pollInterval
	for ctx.Err() == nil {
		if err := p.persist(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("postgres source: store cursor", "table", p.opts.table, "cursor_name", p.opts.cursorName, "err", err)
		}
		if again := p.takeNacked(); len(again) > 0 {
			if !p.send(ctx, ch, again) {
				return
			}
			continue
		}
		if n := p.room(inFlight); n > 0 {
			rows, err := p.fetch(ctx, n)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.log.Warn("postgres source: poll", "table", p.opts.table, "err", err, "retry_in", backoff)
				p.sleep(ctx, backoff)
				backoff = min(backoff*2, max(pollBackoffMax, p.opts.pollInterval))
				continue
			}
			backoff = p.opts.pollInterval
			if !p.send(ctx, ch, rows) {
				return
			}
			if len(rows) == n {
				continue // a full page: there may be more right away
			}
		}
		p.sleep(ctx, p.wait())
	}
}

// wait is the time to the next poll: the poll interval, or less while new rows wait for
// transactions to end (most end in milliseconds), growing with the wait. After a poll
// that delivered rows the interval stands: the next one releases the mark anyway, and
// a steady stream of rows costs one xid (see snapshot) per interval.
func (p *pollSource) wait() time.Duration {
	if p.mark == nil || p.fetched > 0 {
		return p.opts.pollInterval
	}
	return min(p.opts.pollInterval, max(markRecheckMin, p.clock.Now().Sub(p.mark.since)))
}

// room is how many rows the next poll may fetch.
func (p *pollSource) room(inFlight int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(0, min(p.opts.batchSize, inFlight-p.unsettled, windowFactor*inFlight-len(p.pending)))
}

// snapshot moves the bound up to which rows may be delivered. A row commits behind the
// cursor when its transaction drew a lower cursor value than a row that committed first,
// and so was running when that row became visible. So the highest cursor a poll sees
// becomes the bound only once every transaction that had an xid then has ended: the
// poll takes a new xid right after (pg_current_xact_id, greater than all of theirs),
// and a later snapshot whose xmin (its oldest running xid) has reached it says they
// have. xids are xid8 here, 64 bits: no wraparound.
//
// The costs: a transaction that stays open (writing anywhere in the cluster, in any
// table or database) holds back every row polled after it began, until it ends; each
// mark uses one xid (a commit without a write, not flushed), at most one per poll; it
// needs the primary. A writer must draw its cursor value inside the transaction that
// writes the row and after that transaction's first write, or in the writing statement
// itself (a sequence default, clock_timestamp()): a value drawn before the transaction
// has an xid (now() in a transaction that writes later) can still commit behind the
// cursor, and for a statement's default the window is the microseconds between
// computing the value and inserting the row. Progress needs no persistence: the stored
// cursor only ever passes delivered rows.
func (p *pollSource) snapshot(ctx context.Context) error {
	var xminText string
	var top *string
	if err := p.pool.QueryRow(ctx, p.snap).Scan(&xminText, &top); err != nil {
		return err
	}
	xmin, err := strconv.ParseUint(xminText, 10, 64)
	if err != nil {
		return fmt.Errorf("read snapshot xmin: %w", err)
	}
	if m := p.mark; m != nil {
		switch {
		case xmin >= m.xid:
			p.bound, p.mark = &m.cursor, nil
		case !m.warned && p.clock.Now().Sub(m.since) >= heldWarnAfter:
			m.warned = true
			p.log.Warn("postgres source: new rows wait for a transaction that is still running; "+
				"a long transaction delays delivery (see pg_stat_activity.backend_xid)",
				"table", p.opts.table, "backend_xid", uint32(xmin), "waiting", p.clock.Now().Sub(m.since).Round(time.Second))
		}
	}
	if p.mark != nil || top == nil || (p.bound != nil && *top == *p.bound) {
		return nil
	}
	// Its own transaction, committed when the statement ends; nothing to flush.
	var xidText string
	if err := p.pool.QueryRow(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_current_xact_id()::text`).Scan(nil, &xidText); err != nil {
		return fmt.Errorf("take an xid: %w", err)
	}
	xid, err := strconv.ParseUint(xidText, 10, 64)
	if err != nil {
		return fmt.Errorf("read xid: %w", err)
	}
	p.mark = &mark{cursor: *top, xid: xid, since: p.clock.Now()}
	return nil
}

// fetch reads up to n rows after the last one fetched, up to the bound, and counts them
// as out.
func (p *pollSource) fetch(ctx context.Context, n int) ([]*row, error) {
	defer p.polls.Add(1)
	p.fetched = 0
	if err := p.snapshot(ctx); err != nil {
		return nil, err
	}
	if p.bound == nil {
		return nil, nil
	}
	p.mu.Lock()
	last := p.last
	p.mu.Unlock()
	var rows pgx.Rows
	var err error
	if last == nil {
		rows, err = p.pool.Query(ctx, p.first, n, *p.bound)
	} else {
		rows, err = p.pool.Query(ctx, p.next, n, *p.bound, *last)
	}
	if err != nil {
		return nil, err
	}
	var out []*row
	for rows.Next() {
		r := &row{}
		var body string
		if err := rows.Scan(&r.cursor, &body); err != nil {
			rows.Close()
			return nil, err
		}
		r.body = []byte(body)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	p.mu.Lock()
	p.pending = append(p.pending, out...)
	p.unsettled += len(out)
	p.last = &out[len(out)-1].cursor
	p.mu.Unlock()
	p.fetched = len(out)
	return out, nil
}

// takeNacked returns the rows handed back, in cursor order, as out again.
func (p *pollSource) takeNacked() []*row {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nacked == 0 {
		return nil
	}
	var out []*row
	for _, r := range p.pending {
		if r.state == rowNacked {
			r.state = rowOut
			out = append(out, r)
		}
	}
	p.nacked = 0
	return out
}

// send hands rows out; false when ctx ended first.
func (p *pollSource) send(ctx context.Context, ch chan<- connector.Delivery, rows []*row) bool {
	for _, r := range rows {
		select {
		case ch <- p.delivery(r):
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (p *pollSource) delivery(r *row) connector.Delivery {
	var settled atomic.Bool
	return connector.Delivery{
		Message: connector.Message{
			// A copy: a redelivery must not see what a consumer did to the first body.
			Body:    bytes.Clone(r.body),
			Headers: map[string]string{"table": p.opts.table, "cursor": r.cursor},
			Time:    p.clock.Now(),
		},
		ID: "postgres:" + p.opts.table + ":" + r.cursor,
		Ack: func(context.Context) error {
			if !settled.CompareAndSwap(false, true) {
				return ErrSettled
			}
			p.settle(r, rowAcked)
			return nil
		},
		Nack: func(context.Context) error {
			if !settled.CompareAndSwap(false, true) {
				return ErrSettled
			}
			p.settle(r, rowNacked)
			return nil
		},
	}
}

// settle records an Ack or Nack and moves the acknowledged prefix forward.
func (p *pollSource) settle(r *row, to rowState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r.state = to
	if to == rowNacked {
		p.nacked++
		p.wakeLocked()
		return
	}
	r.body = nil
	p.unsettled--
	i := 0
	for i < len(p.pending) && p.pending[i].state == rowAcked {
		p.acked = &p.pending[i].cursor
		p.pending[i] = nil
		i++
	}
	p.pending = p.pending[i:]
	p.wakeLocked()
}

// persist stores the end of the acknowledged prefix if it moved.
func (p *pollSource) persist(ctx context.Context) error {
	p.mu.Lock()
	acked, stored, pool := p.acked, p.stored, p.pool
	p.mu.Unlock()
	if acked == nil || pool == nil || (stored != nil && *stored == *acked) {
		return nil
	}
	_, err := pool.Exec(ctx, `INSERT INTO `+CursorTable+` (name, value, updated_at) VALUES ($1, $2, now())
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`, p.opts.cursorName, *acked)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.stored = acked
	p.mu.Unlock()
	return nil
}

// persistNow stores the cursor while stopping, when ctx may already be done.
func (p *pollSource) persistNow(ctx context.Context) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistTimeout)
	defer cancel()
	if err := p.persist(pctx); err != nil {
		p.log.Warn("postgres source: store cursor on close; acknowledged rows after the stored cursor will be delivered again",
			"table", p.opts.table, "cursor_name", p.opts.cursorName, "err", err)
	}
}

// sleep waits for d, ctx, or a settlement (which may make room or move the cursor).
func (p *pollSource) sleep(ctx context.Context, d time.Duration) {
	p.mu.Lock()
	if p.woken {
		p.woken = false
		p.mu.Unlock()
		return
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.wake = cancel
	p.mu.Unlock()

	_ = p.clock.Sleep(sctx, d)

	p.mu.Lock()
	p.wake, p.woken = nil, false
	p.mu.Unlock()
}

func (p *pollSource) wakeLocked() {
	if p.wake != nil {
		p.wake()
		p.wake = nil
		return
	}
	p.woken = true
}

// Close stops polling, stores the cursor of what was acknowledged by then and releases
// the connections. Rows out at that moment are delivered again by the next Open.
func (p *pollSource) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	cancel, done, pool := p.cancel, p.done, p.pool
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	// Acks that arrived after the loop stopped (its ctx ended before Close).
	p.persistNow(context.Background())
	pool.Close()
	return nil
}
