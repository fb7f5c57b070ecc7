package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Webhook storage (store.WebhookStore). Everything that changes the queue runs on the
// single write connection in a BEGIN IMMEDIATE transaction, so SQLite's one writer is
// also what makes claims exclusive: no two transactions ever look at the queue at once.
// With synchronous=FULL each commit costs an fsync, so the methods the hot path calls
// (EventPublish, DeliveryClaim, DeliveryRecord) do a whole batch per transaction.

// waitingDelivery selects deliveries still in the queue. It is spelled exactly like the
// WHERE of the partial index deliveries_due: SQLite uses a partial index only when the
// query repeats its condition.
const waitingDelivery = `status IN ('pending', 'retrying')`

// endpointDeletedMessage is the error_message of deliveries that left the queue because
// their endpoint was deleted.
const endpointDeletedMessage = "endpoint deleted"

// insertChunk is how many deliveries one INSERT statement carries: 500 rows of 17
// parameters stay well below SQLite's limit of 32766 bound parameters.
const insertChunk = 500

var endpointColumns = []string{
	"id", "name", "url", "secret", "previous_secret", "previous_secret_until", "events",
	"is_active", "is_healthy", "consecutive_failures", "circuit_open_until", "disabled_reason",
	"last_delivery_at", "last_failure_at", "created_at", "updated_at",
	"circuit_probing", "circuit_generation", "recent_failures", "managed",
}

var deliveryColumns = []string{
	"id", "endpoint_id", "event_id", "event_type", "payload", "status", "attempt_count",
	"max_attempts", "next_retry_at", "response_status_code", "response_body", "error_message",
	"delivered_at", "duration_ms", "dead_lettered_at", "created_at", "updated_at", "trace_parent",
}

// columns lists names for a SELECT, qualified with alias unless it is empty.
func columns(alias string, names []string) string {
	if alias == "" {
		return strings.Join(names, ", ")
	}
	return alias + "." + strings.Join(names, ", "+alias+".")
}

// EndpointCreate implements store.Store.
func (s *Store) EndpointCreate(ctx context.Context, e store.Endpoint) (store.Endpoint, error) {
	e, err := storeinput.NormalizeEndpoint(e)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint create: %w", err)
	}
	events, err := json.Marshal(e.Events)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint create %q: %w", e.ID, err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+columns("", endpointColumns)+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.Name, e.URL, e.Secret, e.PreviousSecret, nullTime(e.PreviousSecretUntil), string(events),
			e.IsActive, e.IsHealthy, e.ConsecutiveFailures, nullTime(e.CircuitOpenUntil), e.DisabledReason,
			nullTime(e.LastDeliveryAt), nullTime(e.LastFailureAt), formatTime(e.CreatedAt), formatTime(e.UpdatedAt),
			e.CircuitProbing, e.CircuitGeneration, timesJSON(e.RecentFailures), e.Managed)
		return err
	})
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint create %q: %w", e.ID, err)
	}
	return e, nil
}

// EndpointGet implements store.Store.
func (s *Store) EndpointGet(ctx context.Context, id string) (store.Endpoint, error) {
	if !storeinput.Key(id) {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint get %q: %w", id, store.ErrNotFound)
	}
	e, err := scanEndpoint(s.read.QueryRowContext(ctx,
		`SELECT `+columns("", endpointColumns)+` FROM webhook_endpoints WHERE id = ?`, id))
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint get %q: %w", id, notFound(err))
	}
	return e, nil
}

// EndpointList implements store.Store. The page and the total come from one read
// transaction, so they agree.
func (s *Store) EndpointList(ctx context.Context, f store.EndpointFilter) ([]store.Endpoint, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("sqlite: endpoint list: %w", err)
	}
	var w where
	if f.IsActive != nil {
		w.add("is_active = ?", *f.IsActive)
	}
	var (
		endpoints []store.Endpoint
		total     int
	)
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhook_endpoints`+w.String(), w.args...).Scan(&total); err != nil {
			return err
		}
		var err error
		endpoints, err = queryEndpoints(ctx, tx, `SELECT `+columns("", endpointColumns)+` FROM webhook_endpoints`+w.String()+`
			ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(w.args, f.Limit, storeinput.Offset(f.Page))...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: endpoint list: %w", err)
	}
	return endpoints, total, nil
}

// EndpointsActive implements store.Store.
func (s *Store) EndpointsActive(ctx context.Context) ([]store.Endpoint, error) {
	endpoints, err := queryEndpoints(ctx, s.read, `SELECT `+columns("", endpointColumns)+`
		FROM webhook_endpoints WHERE is_active ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: endpoints active: %w", err)
	}
	return endpoints, nil
}

// EndpointsManagedOrNamed implements store.Store.
func (s *Store) EndpointsManagedOrNamed(ctx context.Context, names []string) ([]store.Endpoint, error) {
	list, err := json.Marshal(storeinput.NonNilStrings(names))
	if err != nil {
		return nil, fmt.Errorf("sqlite: endpoints managed or named: %w", err)
	}
	endpoints, err := queryEndpoints(ctx, s.read, `SELECT `+columns("", endpointColumns)+`
		FROM webhook_endpoints WHERE managed OR name IN (SELECT value FROM json_each(?))
		ORDER BY created_at, id`, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: endpoints managed or named: %w", err)
	}
	return endpoints, nil
}

// EndpointUpdate implements store.Store. A NULL parameter leaves its column unchanged.
func (s *Store) EndpointUpdate(ctx context.Context, id string, p store.EndpointPatch) (store.Endpoint, error) {
	if !storeinput.Key(id) {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint update %q: %w", id, store.ErrNotFound)
	}
	p, err := storeinput.NormalizeEndpointPatch(p)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint update %q: %w", id, err)
	}
	var events any
	if p.Events != nil {
		b, err := json.Marshal(*p.Events)
		if err != nil {
			return store.Endpoint{}, fmt.Errorf("sqlite: endpoint update %q: %w", id, err)
		}
		events = string(b)
	}
	reset := ""
	if p.ResetCircuit {
		reset = resetCircuitSQL + ","
	}
	var e store.Endpoint
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanEndpoint(tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET
				name                  = COALESCE(?, name),
				url                   = COALESCE(?, url),
				events                = COALESCE(?, events),
				is_active             = COALESCE(?, is_active),
				secret                = COALESCE(?, secret),
				previous_secret       = COALESCE(?, previous_secret),
				previous_secret_until = COALESCE(?, previous_secret_until),
				disabled_reason       = COALESCE(?, disabled_reason),`+reset+`
				updated_at            = ?
			WHERE id = ?
			RETURNING `+columns("", endpointColumns),
			nullable(p.Name), nullable(p.URL), events, nullable(p.IsActive), nullable(p.Secret),
			nullable(p.PreviousSecret), nullTime(p.PreviousSecretUntil), nullable(p.DisabledReason),
			formatTime(p.UpdatedAt), id))
		return notFound(err)
	})
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("sqlite: endpoint update %q: %w", id, err)
	}
	return e, nil
}

// resetCircuitSQL closes a circuit by hand, as storeinput.CloseCircuit does.
const resetCircuitSQL = `
				is_healthy = 1, consecutive_failures = 0, recent_failures = '[]',
				circuit_open_until = NULL, circuit_probing = 0, circuit_generation = circuit_generation + 1`

// EndpointDelete implements store.Store.
func (s *Store) EndpointDelete(ctx context.Context, id string, at time.Time) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("sqlite: endpoint delete %q: %w", id, store.ErrNotFound)
	}
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("sqlite: endpoint delete %q: %w", id, err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)
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
		// Leased deliveries too: their worker's outcome will find them failed and leave
		// them so (see DeliveryRecord).
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET
				status = 'failed', error_message = ?, next_retry_at = NULL,
				locked_until = NULL, locked_by = NULL, updated_at = ?
			WHERE endpoint_id = ? AND `+waitingDelivery,
			endpointDeletedMessage, formatTime(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: endpoint delete %q: %w", id, err)
	}
	return nil
}

// EventPublish implements store.Store. ON CONFLICT DO NOTHING makes a republication a
// no-op without an error that would abort the transaction. Deliveries to an endpoint
// that no longer exists (deleted after the caller chose it) are stored as failed, as
// EndpointDelete would have left them, instead of waiting forever for a claim that
// cannot join them with their endpoint.
func (s *Store) EventPublish(ctx context.Context, e event.Event, deliveries []store.Delivery, executions ...store.HandlerExecution) (bool, int, error) {
	e, deliveries, err := storeinput.NormalizeEvent(e, deliveries)
	if err != nil {
		return false, 0, fmt.Errorf("sqlite: event publish: %w", err)
	}
	if executions, err = storeinput.NormalizeExecutions(e, executions); err != nil {
		return false, 0, fmt.Errorf("sqlite: event publish: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, 0, fmt.Errorf("sqlite: event publish %q: %w", e.ID, err)
	}
	req := &publishReq{ctx: ctx, e: e, deliveries: deliveries, executions: executions, done: make(chan struct{})}
	s.pub.mu.Lock()
	s.pub.queue = append(s.pub.queue, req)
	lead := !s.pub.leading
	s.pub.leading = true
	s.pub.mu.Unlock()
	if lead {
		s.commitPublishes(context.WithoutCancel(ctx))
	}
	// Wait for the batch even if ctx ends meanwhile: the answer must say whether the
	// event was stored.
	<-req.done
	if req.err != nil {
		return false, 0, fmt.Errorf("sqlite: event publish %q: %w", e.ID, req.err)
	}
	return req.created, req.count, nil
}

// Group commit: SQLite has one writer and every commit waits for the disk (synchronous
// FULL), so concurrent publishes are written together. The first caller becomes the
// leader and commits whatever has queued, batch after batch, until the queue is empty;
// callers arriving while a batch is being written join the next one. Without a timer,
// a lone publish is committed at once.
type publishQueue struct {
	mu      sync.Mutex
	queue   []*publishReq
	leading bool
}

type publishReq struct {
	ctx        context.Context // the caller's: a request given up before its batch starts is not written
	e          event.Event
	deliveries []store.Delivery
	executions []store.HandlerExecution
	created    bool
	count      int
	err        error
	done       chan struct{}
}

// maxPublishBatch bounds one group commit.
const maxPublishBatch = 256

func (s *Store) commitPublishes(ctx context.Context) {
	for {
		s.pub.mu.Lock()
		n := min(len(s.pub.queue), maxPublishBatch)
		if n == 0 {
			s.pub.leading = false
			s.pub.mu.Unlock()
			return
		}
		batch := s.pub.queue[:n:n]
		s.pub.queue = s.pub.queue[n:]
		s.pub.mu.Unlock()

		err := s.writeTx(ctx, func(tx *sql.Tx) error {
			for _, r := range batch {
				if r.err = r.ctx.Err(); r.err != nil {
					continue
				}
				var err error
				if r.created, r.count, err = publishInTx(ctx, tx, r.e, r.deliveries, r.executions); err != nil {
					return err
				}
			}
			return nil
		})
		for _, r := range batch {
			if err != nil && r.err == nil {
				r.created, r.count, r.err = false, 0, err
			}
			close(r.done)
		}
	}
}

// publishInTx writes one event, its deliveries and its handler executions unless the
// event exists.
func publishInTx(ctx context.Context, tx *sql.Tx, e event.Event, deliveries []store.Delivery, executions []store.HandlerExecution) (bool, int, error) {
	// seq is the event log's order (migration 00017): the counter is moved only when the
	// event is stored, so it stays dense.
	res, err := tx.ExecContext(ctx, `INSERT INTO events (id, type, data, source, created_at, seq)
		VALUES (?, ?, ?, ?, ?, (SELECT n + 1 FROM event_sequence WHERE id = 1)) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Type, e.Data, e.Source, formatTime(e.Time))
	if err != nil {
		return false, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, 0, err
	}
	if n == 0 {
		count := 0
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE event_id = ?`, e.ID).Scan(&count)
		return false, count, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE event_sequence SET n = n + 1 WHERE id = 1`); err != nil {
		return false, 0, err
	}
	if err := insertExecutions(ctx, tx, executions); err != nil {
		return false, 0, err
	}
	if len(deliveries) == 0 {
		return true, 0, nil
	}
	existing, err := existingEndpoints(ctx, tx, deliveries)
	if err != nil {
		return false, 0, err
	}
	failOrphans(deliveries, existing)
	for chunk := range slices.Chunk(deliveries, insertChunk) {
		if err := insertDeliveries(ctx, tx, chunk); err != nil {
			return false, 0, err
		}
	}
	return true, len(deliveries), nil
}

// existingEndpoints returns which of the deliveries' endpoints exist.
func existingEndpoints(ctx context.Context, tx *sql.Tx, deliveries []store.Delivery) (map[string]bool, error) {
	ids := make([]string, 0, len(deliveries))
	for _, d := range deliveries {
		ids = append(ids, d.EndpointID)
	}
	list, err := jsonList(ids)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM webhook_endpoints WHERE id IN (SELECT value FROM json_each(?))`, list)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	existing := make(map[string]bool)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		existing[id] = true
	}
	return existing, rows.Err()
}

// failOrphans marks the waiting deliveries whose endpoint does not exist as failed, the
// way EndpointDelete leaves the deliveries of a deleted endpoint.
func failOrphans(deliveries []store.Delivery, existing map[string]bool) {
	for i := range deliveries {
		d := &deliveries[i]
		if existing[d.EndpointID] || !storeinput.Waiting(d.Status) {
			continue
		}
		d.Status = store.DeliveryFailed
		d.ErrorMessage = endpointDeletedMessage
		d.NextRetryAt = nil
	}
}

// insertDeliveries inserts ds with one multi-row INSERT: one statement to parse and run
// instead of one per row.
func insertDeliveries(ctx context.Context, tx *sql.Tx, ds []store.Delivery) error {
	row := "(" + strings.Repeat("?, ", len(deliveryColumns)-1) + "?)"
	var q strings.Builder
	q.WriteString(`INSERT INTO deliveries (` + columns("", deliveryColumns) + `) VALUES `)
	args := make([]any, 0, len(ds)*len(deliveryColumns))
	for i, d := range ds {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
		args = append(args,
			d.ID, d.EndpointID, d.EventID, d.EventType, d.Payload, string(d.Status), d.AttemptCount,
			d.MaxAttempts, nullTime(d.NextRetryAt), nullable(d.ResponseStatusCode), d.ResponseBody, d.ErrorMessage,
			nullTime(d.DeliveredAt), nullable(d.DurationMs), nullTime(d.DeadLetteredAt),
			formatTime(d.CreatedAt), formatTime(d.UpdatedAt), d.TraceParent)
	}
	_, err := tx.ExecContext(ctx, q.String(), args...)
	return err
}

// EventGet implements store.Store.
func (s *Store) EventGet(ctx context.Context, id string) (event.Event, error) {
	if !storeinput.Key(id) {
		return event.Event{}, fmt.Errorf("sqlite: event get %q: %w", id, store.ErrNotFound)
	}
	var (
		e         event.Event
		createdAt time.Time
	)
	err := s.read.QueryRowContext(ctx, `SELECT id, type, data, source, created_at FROM events WHERE id = ?`, id).
		Scan(&e.ID, &e.Type, &e.Data, &e.Source, textTime{&createdAt})
	if err != nil {
		return event.Event{}, fmt.Errorf("sqlite: event get %q: %w", id, notFound(err))
	}
	e.Time = createdAt
	return e, nil
}

// EventsAfter implements store.Store; the events_created index (migration 00011) keeps it
// a range scan.
func (s *Store) EventsAfter(ctx context.Context, afterID string, limit int) ([]event.Event, error) {
	if !storeinput.Key(afterID) || limit <= 0 {
		return nil, fmt.Errorf("sqlite: events after %q: %w", afterID, store.ErrNotFound)
	}
	var at string
	if err := s.read.QueryRowContext(ctx, `SELECT created_at FROM events WHERE id = ?`, afterID).Scan(&at); err != nil {
		return nil, fmt.Errorf("sqlite: events after %q: %w", afterID, notFound(err))
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, type, data, source, created_at FROM events
		WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`, at, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events after %q: %w", afterID, err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var e event.Event
		if err := rows.Scan(&e.ID, &e.Type, &e.Data, &e.Source, textTime{&e.Time}); err != nil {
			return nil, fmt.Errorf("sqlite: events after %q: %w", afterID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeliveryClaim implements store.Store. Everything happens in one IMMEDIATE transaction
// on the one write connection, so no other claim (in this process or another sharing
// the file) can run in between: a half-open endpoint's probe is handed out once.
//
//  1. Probes: half-open endpoints with a due delivery, up to the limit, each get their
//     oldest due deliveries (storeinput.Probes) and turn probing.
//  2. The rest: due deliveries of endpoints whose circuit is closed and which are not
//     at their per-endpoint bound, in due order; INDEXED BY makes the query walk the
//     due index in order and stop at the scan limit (see the migration), and fail
//     loudly rather than sort if the index is unusable. storeinput.PickClaims keeps
//     each endpoint within its budget.
//  3. The chosen deliveries are read with their endpoints as they are now, and leased.
func (s *Store) DeliveryClaim(ctx context.Context, p store.ClaimParams) ([]store.ClaimedDelivery, error) {
	if err := storeinput.CheckClaim(p); err != nil {
		return nil, fmt.Errorf("sqlite: delivery claim: %w", err)
	}
	saturated, err := jsonList(storeinput.Saturated(p))
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery claim: %w", err)
	}
	now, leaseEnd := formatTime(p.Now), formatTime(p.Now.Add(p.Lease))
	var claimed []store.ClaimedDelivery
	err = s.leaseTx(ctx, func(tx *sql.Tx) error {
		ids, err := claimProbes(ctx, tx, p, now, leaseEnd, saturated)
		if err != nil {
			return err
		}
		if len(ids) < p.Limit {
			more, err := claimDue(ctx, tx, p, p.Limit-len(ids), now, saturated)
			if err != nil {
				return err
			}
			ids = append(ids, more...)
		}
		if len(ids) == 0 {
			return nil
		}
		list, err := jsonList(ids)
		if err != nil {
			return err
		}
		if claimed, err = claimedRows(ctx, tx, list); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET locked_until = ?, locked_by = ?
			WHERE id IN (SELECT value FROM json_each(?))`, leaseEnd, p.Owner, list)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery claim: %w", err)
	}
	return claimed, nil
}

// leaseTx is writeTx for a claim, whose commit need not wait for the disk: a claim is
// only a lease, and one lost in a crash leaves its delivery to be claimed again, which
// at-least-once delivery allows. With WAL, synchronous=NORMAL commits without syncing
// and the next FULL commit syncs the WAL, this one included. Claims are frequent (one
// per batch of freed workers), and each fsync held the one write lock publications
// wait for. The setting is the connection's, so the claim takes the connection for
// itself and puts FULL back before anyone else gets it; a connection on which that
// fails is dropped, never handed to a publication.
func (s *Store) leaseTx(ctx context.Context, fn func(*sql.Tx) error) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = FULL"); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return mapError(err)
	}
	return mapError(tx.Commit())
}

// dueDelivery is the condition of a delivery a claim may take, for a table aliased d.
const dueDelivery = `d.` + waitingDelivery + `
	AND d.next_retry_at <= @now
	AND (d.locked_until IS NULL OR d.locked_until <= @now)`

// claimProbes hands out the probes of half-open endpoints (at most p.Limit deliveries)
// and returns their delivery IDs.
func claimProbes(ctx context.Context, tx *sql.Tx, p store.ClaimParams, now, leaseEnd, saturated string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT e.id FROM webhook_endpoints e
		WHERE e.is_active AND e.circuit_open_until <= @now
			AND e.id NOT IN (SELECT value FROM json_each(@saturated))
			AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND `+dueDelivery+`)
		ORDER BY e.circuit_open_until, e.id`,
		sql.Named("now", now), sql.Named("saturated", saturated))
	if err != nil {
		return nil, err
	}
	endpoints, err := collectStrings(rows)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, ep := range endpoints {
		if len(ids) == p.Limit {
			break
		}
		n := min(storeinput.Probes(p), p.Limit-len(ids))
		if b := storeinput.Budget(p, ep); b >= 0 {
			n = min(n, b)
		}
		rows, err := tx.QueryContext(ctx, `SELECT d.id FROM deliveries d
			WHERE d.endpoint_id = @endpoint AND `+dueDelivery+`
			ORDER BY d.next_retry_at, d.id LIMIT @n`,
			sql.Named("endpoint", ep), sql.Named("now", now), sql.Named("n", n))
		if err != nil {
			return nil, err
		}
		probes, err := collectStrings(rows)
		if err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET
				circuit_probing = 1, circuit_open_until = ?, circuit_generation = circuit_generation + 1
			WHERE id = ?`, leaseEnd, ep)
		if err != nil {
			return nil, err
		}
		ids = append(ids, probes...)
	}
	return ids, nil
}

// claimDue chooses up to limit due deliveries of endpoints whose circuit is closed.
func claimDue(ctx context.Context, tx *sql.Tx, p store.ClaimParams, limit int, now, saturated string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.endpoint_id
		FROM deliveries d INDEXED BY deliveries_due
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE `+dueDelivery+`
			AND e.is_active AND e.circuit_open_until IS NULL
			AND d.endpoint_id NOT IN (SELECT value FROM json_each(@saturated))
		ORDER BY d.next_retry_at, d.id
		LIMIT @scan`,
		sql.Named("now", now), sql.Named("saturated", saturated), sql.Named("scan", storeinput.ScanLimit(p, limit)))
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var ids, endpoints []string
	for rows.Next() {
		var id, ep string
		if err := rows.Scan(&id, &ep); err != nil {
			return nil, err
		}
		ids, endpoints = append(ids, id), append(endpoints, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	picked := make([]string, 0, limit)
	for _, i := range storeinput.PickClaims(p, limit, endpoints) {
		picked = append(picked, ids[i])
	}
	return picked, nil
}

// claimedRows reads the deliveries listed (a JSON array of IDs) with their endpoints,
// in due order.
func claimedRows(ctx context.Context, tx *sql.Tx, list string) ([]store.ClaimedDelivery, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+columns("d", deliveryColumns)+`, `+columns("e", endpointColumns)+`
		FROM deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.id IN (SELECT value FROM json_each(?))
		ORDER BY d.next_retry_at, d.id`, list)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var claimed []store.ClaimedDelivery
	for rows.Next() {
		var (
			dr deliveryRow
			er endpointRow
		)
		if err := rows.Scan(append(dr.dest(), er.dest()...)...); err != nil {
			return nil, err
		}
		ep, err := er.finish()
		if err != nil {
			return nil, err
		}
		claimed = append(claimed, store.ClaimedDelivery{Delivery: dr.d, Endpoint: ep})
	}
	return claimed, rows.Err()
}

// collectStrings reads a one-column result of strings and closes rows.
func collectStrings(rows *sql.Rows) ([]string, error) {
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// recordDeliverySQL writes one outcome. Only a delivery still in the queue takes it:
// one that EndpointDelete failed, or that another worker delivered after this worker's
// lease expired, keeps what it has. The lease is released in the same statement.
const recordDeliverySQL = `UPDATE deliveries SET
		status = @status, attempt_count = @attempts, next_retry_at = @next_retry_at,
		response_status_code = @code, response_body = @body, error_message = @error,
		delivered_at = @delivered_at, duration_ms = @duration, dead_lettered_at = @dead_lettered_at,
		locked_until = NULL, locked_by = NULL, updated_at = @at
	WHERE id = @id AND ` + waitingDelivery

// recordEndpointSQL writes an endpoint's health as storeinput.ApplyOutcome left it.
const recordEndpointSQL = `UPDATE webhook_endpoints SET
		is_active = @is_active, disabled_reason = @disabled_reason, updated_at = @updated_at,
		is_healthy = @is_healthy, consecutive_failures = @consecutive_failures,
		recent_failures = @recent_failures, circuit_open_until = @circuit_open_until,
		circuit_probing = @circuit_probing, circuit_generation = @circuit_generation,
		last_delivery_at = @last_delivery_at, last_failure_at = @last_failure_at
	WHERE id = @id`

// DeliveryRecord implements store.Store. The whole batch is one transaction (one fsync):
// the endpoints' rows are read, every outcome applied to them in the order of records
// (storeinput.ApplyOutcome), and written back once each; the write transaction keeps
// any other writer out meanwhile, so concurrent batches never lose an update.
func (s *Store) DeliveryRecord(ctx context.Context, records []store.AttemptRecord) error {
	records, err := storeinput.NormalizeRecords(records)
	if err != nil {
		return fmt.Errorf("sqlite: delivery record: %w", err)
	}
	if len(records) == 0 {
		return nil
	}
	var ids []string
	for _, r := range records {
		ids = append(ids, r.EndpointID)
	}
	slices.Sort(ids)
	list, err := jsonList(slices.Compact(ids))
	if err != nil {
		return fmt.Errorf("sqlite: delivery record: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		endpoints, err := queryEndpoints(ctx, tx, `SELECT `+columns("", endpointColumns)+`
			FROM webhook_endpoints WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, list)
		if err != nil {
			return err
		}
		byID := make(map[string]*store.Endpoint, len(endpoints))
		for i := range endpoints {
			byID[endpoints[i].ID] = &endpoints[i]
		}
		delivery, err := tx.PrepareContext(ctx, recordDeliverySQL)
		if err != nil {
			return err
		}
		defer func() { _ = delivery.Close() }()
		for _, r := range records {
			nextRetryAt, deadLetteredAt := storeinput.OutcomeTimes(r)
			if _, err := delivery.ExecContext(ctx,
				sql.Named("id", r.DeliveryID), sql.Named("status", string(r.Status)),
				sql.Named("attempts", r.AttemptCount), sql.Named("next_retry_at", nullTime(nextRetryAt)),
				sql.Named("code", nullable(r.ResponseStatusCode)), sql.Named("body", r.ResponseBody),
				sql.Named("error", r.ErrorMessage), sql.Named("delivered_at", nullTime(r.DeliveredAt)),
				sql.Named("duration", r.DurationMs), sql.Named("dead_lettered_at", nullTime(deadLetteredAt)),
				sql.Named("at", formatTime(r.At)),
			); err != nil {
				return fmt.Errorf("delivery %q: %w", r.DeliveryID, err)
			}
			if e := byID[r.EndpointID]; e != nil { // a deleted endpoint has no health
				storeinput.ApplyOutcome(e, r)
			}
		}
		for _, e := range endpoints {
			_, err := tx.ExecContext(ctx, recordEndpointSQL,
				sql.Named("id", e.ID), sql.Named("is_active", e.IsActive), sql.Named("disabled_reason", e.DisabledReason),
				sql.Named("updated_at", formatTime(e.UpdatedAt)), sql.Named("is_healthy", e.IsHealthy),
				sql.Named("consecutive_failures", e.ConsecutiveFailures), sql.Named("recent_failures", timesJSON(e.RecentFailures)),
				sql.Named("circuit_open_until", nullTime(e.CircuitOpenUntil)), sql.Named("circuit_probing", e.CircuitProbing),
				sql.Named("circuit_generation", e.CircuitGeneration), sql.Named("last_delivery_at", nullTime(e.LastDeliveryAt)),
				sql.Named("last_failure_at", nullTime(e.LastFailureAt)))
			if err != nil {
				return fmt.Errorf("endpoint %q: %w", e.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delivery record: %w", err)
	}
	return nil
}

// DeliveryGet implements store.Store.
func (s *Store) DeliveryGet(ctx context.Context, id string) (store.Delivery, error) {
	if !storeinput.Key(id) {
		return store.Delivery{}, fmt.Errorf("sqlite: delivery get %q: %w", id, store.ErrNotFound)
	}
	d, err := scanDelivery(s.read.QueryRowContext(ctx,
		`SELECT `+columns("", deliveryColumns)+` FROM deliveries WHERE id = ?`, id))
	if err != nil {
		return store.Delivery{}, fmt.Errorf("sqlite: delivery get %q: %w", id, notFound(err))
	}
	return d, nil
}

// DeliveryList implements store.Store.
func (s *Store) DeliveryList(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("sqlite: delivery list: %w", err)
	}
	if !storeinput.Key(f.EndpointID) {
		return nil, 0, nil // no stored row can match
	}
	var w where
	if f.EndpointID != "" {
		w.add("endpoint_id = ?", f.EndpointID)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	deliveries, total, err := s.listDeliveries(ctx, w, "created_at DESC, id DESC", f.Page)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: delivery list: %w", err)
	}
	return deliveries, total, nil
}

// DeliveryRequeue implements store.Store. A delivery whose endpoint is gone is not
// requeued (ErrNotFound): no claim could ever pick it up.
func (s *Store) DeliveryRequeue(ctx context.Context, id string, at time.Time) (store.Delivery, error) {
	if !storeinput.Key(id) {
		return store.Delivery{}, fmt.Errorf("sqlite: delivery requeue %q: %w", id, store.ErrNotFound)
	}
	if err := store.CheckTime(at); err != nil {
		return store.Delivery{}, fmt.Errorf("sqlite: delivery requeue %q: %w", id, err)
	}
	var d store.Delivery
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var endpointExists bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id)
			FROM deliveries d WHERE d.id = ?`, id).Scan(&endpointExists)
		if err != nil {
			return notFound(err)
		}
		if !endpointExists {
			return fmt.Errorf("its endpoint was deleted: %w", store.ErrNotFound)
		}
		d, err = scanDelivery(tx.QueryRowContext(ctx, `UPDATE deliveries SET
				status = 'pending', attempt_count = 0, next_retry_at = ?, dead_lettered_at = NULL,
				locked_until = NULL, locked_by = NULL, updated_at = ?
			WHERE id = ?
			RETURNING `+columns("", deliveryColumns),
			formatTime(at), formatTime(at), id))
		return err
	})
	if err != nil {
		return store.Delivery{}, fmt.Errorf("sqlite: delivery requeue %q: %w", id, err)
	}
	return d, nil
}

// DeadLetterList implements store.Store. Newest first means most recently dead-lettered.
func (s *Store) DeadLetterList(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("sqlite: dead letter list: %w", err)
	}
	if !storeinput.Key(f.EndpointID) {
		return nil, 0, nil // no stored row can match
	}
	var w where
	w.add("status = 'failed' AND dead_lettered_at IS NOT NULL")
	if f.EndpointID != "" {
		w.add("endpoint_id = ?", f.EndpointID)
	}
	deliveries, total, err := s.listDeliveries(ctx, w, "dead_lettered_at DESC, id DESC", f.Page)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: dead letter list: %w", err)
	}
	return deliveries, total, nil
}

// DeadLetterPurge implements store.Store.
func (s *Store) DeadLetterPurge(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("sqlite: dead letter purge: %w", err)
	}
	n, err := s.writeExec(ctx, `DELETE FROM deliveries
			WHERE status = 'failed' AND dead_lettered_at IS NOT NULL AND dead_lettered_at < ?`, formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: dead letter purge: %w", err)
	}
	return int(n), nil
}

// QueueStats implements store.Store. Due counts what a claim could take now if every
// circuit were closed: waiting, due, and not leased (an in-flight delivery is not
// backlog).
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	if err := store.CheckTime(now); err != nil {
		return store.QueueStats{}, fmt.Errorf("sqlite: queue stats: %w", err)
	}
	var st store.QueueStats
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var oldest sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT
				(SELECT count(*) FROM deliveries WHERE status = 'failed' AND dead_lettered_at IS NOT NULL),
				(SELECT count(*) FROM webhook_endpoints WHERE is_active AND circuit_open_until IS NOT NULL),
				(SELECT count(*) FROM deliveries WHERE `+waitingDelivery+`),
				count(*), min(next_retry_at)
			FROM deliveries
			WHERE `+waitingDelivery+` AND next_retry_at <= @now AND (locked_until IS NULL OR locked_until <= @now)`,
			sql.Named("now", formatTime(now))).Scan(&st.DeadLetters, &st.OpenCircuits, &st.Waiting, &st.Due, &oldest)
		if err != nil {
			return err
		}
		if oldest.Valid {
			at, err := parseTime(oldest.String)
			if err != nil {
				return fmt.Errorf("oldest due: %w", err)
			}
			st.OldestDueSince = &at
		}
		return nil
	})
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("sqlite: queue stats: %w", err)
	}
	return st, nil
}

// InboundRecord implements store.Store. Only the (source, provider_id) constraint is
// absorbed; a duplicate ID with another provider ID is a conflict.
func (s *Store) InboundRecord(ctx context.Context, m store.InboundMessage) (bool, error) {
	m, err := storeinput.NormalizeInbound(m)
	if err != nil {
		return false, fmt.Errorf("sqlite: inbound record: %w", err)
	}
	n, err := s.writeExec(ctx, `INSERT INTO inbound_messages
				(id, source, provider_id, event_type, payload, headers, received_at, verification)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (source, provider_id) DO NOTHING`,
		m.ID, m.Source, m.ProviderID, m.EventType, m.Payload, m.Headers, formatTime(m.ReceivedAt), m.Verification)
	if err != nil {
		return false, fmt.Errorf("sqlite: inbound record %q: %w", m.ID, err)
	}
	return n > 0, nil
}

// inboundColumns are read by scanInbound.
const inboundColumns = `id, source, provider_id, event_type, payload, headers, received_at, verification`

func scanInbound(row scanner) (store.InboundMessage, error) {
	var m store.InboundMessage
	err := row.Scan(&m.ID, &m.Source, &m.ProviderID, &m.EventType, &m.Payload, &m.Headers, textTime{&m.ReceivedAt}, &m.Verification)
	return m, err
}

// InboundGet implements store.Store.
func (s *Store) InboundGet(ctx context.Context, source, providerID string) (store.InboundMessage, error) {
	if !storeinput.Key(source) {
		return store.InboundMessage{}, fmt.Errorf("sqlite: inbound get %q: %w", source, store.ErrNotFound)
	}
	m, err := scanInbound(s.read.QueryRowContext(ctx, `SELECT `+inboundColumns+`
		FROM inbound_messages WHERE source = ? AND provider_id = ?`, source, storeinput.InboundProviderID(providerID)))
	if err != nil {
		return store.InboundMessage{}, fmt.Errorf("sqlite: inbound get %s/%q: %w", source, providerID, notFound(err))
	}
	return m, nil
}

// InboundGetByID implements store.Store.
func (s *Store) InboundGetByID(ctx context.Context, id string) (store.InboundMessage, error) {
	if !storeinput.Key(id) {
		return store.InboundMessage{}, fmt.Errorf("sqlite: inbound get %q: %w", id, store.ErrNotFound)
	}
	m, err := scanInbound(s.read.QueryRowContext(ctx, `SELECT `+inboundColumns+` FROM inbound_messages WHERE id = ?`, id))
	if err != nil {
		return store.InboundMessage{}, fmt.Errorf("sqlite: inbound get %q: %w", id, notFound(err))
	}
	return m, nil
}

// InboundList implements store.Store. The cursor is looked up in the same snapshot as
// the page, so a cursor that exists is never reported missing.
func (s *Store) InboundList(ctx context.Context, f store.InboundFilter) ([]store.InboundMessage, error) {
	empty, err := storeinput.CheckInboundFilter(f)
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbound list: %w", err)
	}
	if empty {
		return nil, nil
	}
	var out []store.InboundMessage
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		var w where
		if f.Source != "" {
			w.add("source = ?", f.Source)
		}
		if f.Before != "" {
			var at string
			if err := tx.QueryRowContext(ctx, `SELECT received_at FROM inbound_messages WHERE id = ? AND (? = '' OR source = ?)`,
				f.Before, f.Source, f.Source).Scan(&at); err != nil {
				return fmt.Errorf("message %q: %w", f.Before, notFound(err))
			}
			// Times are fixed-width text, so they compare as they sort.
			w.add("(received_at, id) < (?, ?)", at, f.Before)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+inboundColumns+` FROM inbound_messages`+w.String()+`
			ORDER BY received_at DESC, id DESC LIMIT ?`, append(w.args, f.Limit)...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			m, err := scanInbound(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbound list: %w", err)
	}
	return out, nil
}

// readTx runs fn in a read transaction, so several queries see one snapshot (a page and
// its total agree). ReadOnly makes the driver use a plain BEGIN even on the write pool of
// an in-memory database, where BEGIN IMMEDIATE would be pointless.
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// listDeliveries returns a page of the deliveries w selects in the given order, and the
// total.
func (s *Store) listDeliveries(ctx context.Context, w where, order string, p store.Page) ([]store.Delivery, int, error) {
	return listPage(ctx, s, "deliveries", deliveryColumns, w, order, p, scanDelivery)
}

// listPage returns the page of table's rows that w selects, in order, each read by scan,
// and how many rows w selects in all: one read transaction, so the page and its total
// agree.
func listPage[T any](ctx context.Context, s *Store, table string, cols []string, w where, order string, p store.Page, scan func(scanner) (T, error)) ([]T, int, error) {
	var (
		items []T
		total int
	)
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table+w.String(), w.args...).Scan(&total); err != nil {
			return err
		}
		args := append(append([]any{}, w.args...), p.Limit, storeinput.Offset(p))
		rows, err := tx.QueryContext(ctx, `SELECT `+columns("", cols)+` FROM `+table+w.String()+`
			ORDER BY `+order+` LIMIT ? OFFSET ?`, args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			item, err := scan(rows)
			if err != nil {
				return err
			}
			items = append(items, item)
		}
		return rows.Err()
	})
	return items, total, err
}

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryEndpoints(ctx context.Context, db queryer, query string, args ...any) ([]store.Endpoint, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var endpoints []store.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		endpoints = append(endpoints, e)
	}
	return endpoints, rows.Err()
}

// where collects optional conditions of a list query and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// endpointRow scans the columns of endpointColumns; events and recent failures arrive
// as JSON text.
type endpointRow struct {
	e            store.Endpoint
	eventsJSON   string
	failuresJSON string
}

func (r *endpointRow) dest() []any {
	e := &r.e
	return []any{
		&e.ID, &e.Name, &e.URL, &e.Secret, &e.PreviousSecret, nullTextTime{&e.PreviousSecretUntil}, &r.eventsJSON,
		&e.IsActive, &e.IsHealthy, &e.ConsecutiveFailures, nullTextTime{&e.CircuitOpenUntil}, &e.DisabledReason,
		nullTextTime{&e.LastDeliveryAt}, nullTextTime{&e.LastFailureAt}, textTime{&e.CreatedAt}, textTime{&e.UpdatedAt},
		&e.CircuitProbing, &e.CircuitGeneration, &r.failuresJSON, &e.Managed,
	}
}

// finish decodes the JSON columns.
func (r *endpointRow) finish() (store.Endpoint, error) {
	e := r.e
	e.Events = []string{}
	if err := json.Unmarshal([]byte(r.eventsJSON), &e.Events); err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %q: events: %w", e.ID, err)
	}
	var failures []string
	if err := json.Unmarshal([]byte(r.failuresJSON), &failures); err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %q: recent failures: %w", e.ID, err)
	}
	e.RecentFailures = make([]time.Time, len(failures))
	for i, f := range failures {
		t, err := parseTime(f)
		if err != nil {
			return store.Endpoint{}, fmt.Errorf("endpoint %q: recent failures: %w", e.ID, err)
		}
		e.RecentFailures[i] = t
	}
	return e, nil
}

func scanEndpoint(row scanner) (store.Endpoint, error) {
	var r endpointRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Endpoint{}, err
	}
	return r.finish()
}

// timesJSON is the recent_failures column of times.
func timesJSON(times []time.Time) string {
	texts := make([]string, len(times))
	for i, t := range times {
		texts[i] = formatTime(t)
	}
	b, _ := json.Marshal(texts) // strings always marshal
	return string(b)
}

// deliveryRow scans the columns of deliveryColumns.
type deliveryRow struct{ d store.Delivery }

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{
		&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Payload, (*string)(&d.Status), &d.AttemptCount,
		&d.MaxAttempts, nullTextTime{&d.NextRetryAt}, &d.ResponseStatusCode, &d.ResponseBody, &d.ErrorMessage,
		nullTextTime{&d.DeliveredAt}, &d.DurationMs, nullTextTime{&d.DeadLetteredAt},
		textTime{&d.CreatedAt}, textTime{&d.UpdatedAt}, &d.TraceParent,
	}
}

func scanDelivery(row scanner) (store.Delivery, error) {
	var r deliveryRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Delivery{}, err
	}
	return r.d, nil
}

// textTime scans a time stored as text into the time it points to.
type textTime struct{ dst *time.Time }

func (s textTime) Scan(src any) error {
	var text string
	switch v := src.(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return fmt.Errorf("time stored as %T, want text", src)
	}
	t, err := parseTime(text)
	if err != nil {
		return err
	}
	*s.dst = t
	return nil
}

// nullTextTime scans a nullable time stored as text; NULL is a nil pointer.
type nullTextTime struct{ dst **time.Time }

func (s nullTextTime) Scan(src any) error {
	if src == nil {
		*s.dst = nil
		return nil
	}
	var t time.Time
	if err := (textTime{&t}).Scan(src); err != nil {
		return err
	}
	*s.dst = &t
	return nil
}

// nullTime is the parameter for a nullable time column.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// nullable is the parameter for a nullable column: NULL for nil, else the value.
func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// jsonList encodes ids for json_each(?), SQLite's way of taking a list as one parameter.
func jsonList(ids []string) (string, error) {
	b, err := json.Marshal(ids)
	return string(b), err
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
