package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Webhook storage (store.WebhookStore).
//
// A delivery is a row of deliveries (its content, status and outcome, kept as history)
// and, while it waits, a row of delivery_queue (when a claim may take it, who holds its
// lease); migration 00019 says why. Statements that change both change the queue row
// first.
//
// Row locks are always taken in one order, endpoints before deliveries, so the
// transactions that lock both cannot deadlock each other: DeliveryRecord updates its
// endpoints first, EndpointDelete deletes the endpoint before failing its deliveries.
// DeliveryClaim never waits for a lock at all (SKIP LOCKED), and EventPublish only takes
// KEY SHARE locks on endpoints, which conflict with a DELETE but not with an UPDATE.

// endpointDeletedMessage is the error_message of deliveries that left the queue because
// their endpoint was deleted.
const endpointDeletedMessage = "endpoint deleted"

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
		return store.Endpoint{}, fmt.Errorf("postgres: endpoint create: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO webhook_endpoints (`+columns("", endpointColumns)+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		e.ID, e.Name, e.URL, e.Secret, e.PreviousSecret, e.PreviousSecretUntil, e.Events,
		e.IsActive, e.IsHealthy, e.ConsecutiveFailures, e.CircuitOpenUntil, e.DisabledReason,
		e.LastDeliveryAt, e.LastFailureAt, e.CreatedAt, e.UpdatedAt,
		e.CircuitProbing, e.CircuitGeneration, nonNilTimes(e.RecentFailures), e.Managed)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("postgres: endpoint create %q: %w", e.ID, mapError(err))
	}
	return e, nil
}

// EndpointGet implements store.Store.
func (s *Store) EndpointGet(ctx context.Context, id string) (store.Endpoint, error) {
	if !storeinput.Key(id) {
		return store.Endpoint{}, fmt.Errorf("postgres: endpoint get %q: %w", id, store.ErrNotFound)
	}
	e, err := scanEndpoint(s.pool.QueryRow(ctx,
		`SELECT `+columns("", endpointColumns)+` FROM webhook_endpoints WHERE id = $1`, id))
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("postgres: endpoint get %q: %w", id, mapError(err))
	}
	return e, nil
}

// EndpointList implements store.Store. The page and the total come from one snapshot,
// so they agree.
func (s *Store) EndpointList(ctx context.Context, f store.EndpointFilter) ([]store.Endpoint, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("postgres: endpoint list: %w", err)
	}
	var w where
	if f.IsActive != nil {
		w.add("is_active = $%d", *f.IsActive)
	}
	var (
		endpoints []store.Endpoint
		total     int
	)
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints`+w.String(), w.args...).Scan(&total); err != nil {
			return err
		}
		var err error
		endpoints, err = queryEndpoints(ctx, tx, `SELECT `+columns("", endpointColumns)+` FROM webhook_endpoints`+w.String()+`
			ORDER BY created_at DESC, id DESC `+pageClause(f.Page), w.args...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: endpoint list: %w", err)
	}
	return endpoints, total, nil
}

// EndpointsActive implements store.Store.
func (s *Store) EndpointsActive(ctx context.Context) ([]store.Endpoint, error) {
	endpoints, err := queryEndpoints(ctx, s.pool, `SELECT `+columns("", endpointColumns)+`
		FROM webhook_endpoints WHERE is_active ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: endpoints active: %w", err)
	}
	return endpoints, nil
}

// EndpointsManagedOrNamed implements store.Store.
func (s *Store) EndpointsManagedOrNamed(ctx context.Context, names []string) ([]store.Endpoint, error) {
	endpoints, err := queryEndpoints(ctx, s.pool, `SELECT `+columns("", endpointColumns)+`
		FROM webhook_endpoints WHERE managed OR name = ANY($1) ORDER BY created_at, id`, storeinput.NonNilStrings(names))
	if err != nil {
		return nil, fmt.Errorf("postgres: endpoints managed or named: %w", err)
	}
	return endpoints, nil
}

// EndpointUpdate implements store.Store. A NULL parameter leaves its column unchanged.
func (s *Store) EndpointUpdate(ctx context.Context, id string, p store.EndpointPatch) (store.Endpoint, error) {
	if !storeinput.Key(id) {
		return store.Endpoint{}, fmt.Errorf("postgres: endpoint update %q: %w", id, store.ErrNotFound)
	}
	p, err := storeinput.NormalizeEndpointPatch(p)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("postgres: endpoint update %q: %w", id, err)
	}
	var events any // untyped nil: NULL
	if p.Events != nil {
		events = *p.Events
	}
	reset := ""
	if p.ResetCircuit {
		reset = resetCircuitSQL + ","
	}
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET
			name                  = COALESCE($1, name),
			url                   = COALESCE($2, url),
			events                = COALESCE($3, events),
			is_active             = COALESCE($4, is_active),
			secret                = COALESCE($5, secret),
			previous_secret       = COALESCE($6, previous_secret),
			previous_secret_until = COALESCE($7, previous_secret_until),
			disabled_reason       = COALESCE($8, disabled_reason),`+reset+`
			updated_at            = $9
		WHERE id = $10
		RETURNING `+columns("", endpointColumns),
		p.Name, p.URL, events, p.IsActive, p.Secret, p.PreviousSecret, normalizePtr(p.PreviousSecretUntil),
		p.DisabledReason, store.NormalizeTime(p.UpdatedAt), id))
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("postgres: endpoint update %q: %w", id, mapError(err))
	}
	return e, nil
}

// resetCircuitSQL closes a circuit by hand, as storeinput.CloseCircuit does.
const resetCircuitSQL = `
			is_healthy = true, consecutive_failures = 0, recent_failures = '{}',
			circuit_open_until = NULL, circuit_probing = false, circuit_generation = circuit_generation + 1`

// EndpointDelete implements store.Store. The DELETE comes first: it waits for
// EventPublish transactions holding KEY SHARE on the endpoint, so the UPDATE after it
// (a new snapshot under READ COMMITTED) also fails the deliveries they inserted, and
// publications after it find the endpoint gone.
func (s *Store) EndpointDelete(ctx context.Context, id string, at time.Time) error {
	if !storeinput.Key(id) {
		return fmt.Errorf("postgres: endpoint delete %q: %w", id, store.ErrNotFound)
	}
	if err := store.CheckTime(at); err != nil {
		return fmt.Errorf("postgres: endpoint delete %q: %w", id, err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		// Leased deliveries too: their worker's outcome will find them out of the queue
		// and leave them so (see DeliveryRecord).
		_, err = tx.Exec(ctx, `WITH gone AS (DELETE FROM delivery_queue WHERE endpoint_id = $3 RETURNING id)
			UPDATE deliveries SET status = 'failed', error_message = $1, next_retry_at = NULL, updated_at = $2
			WHERE id IN (SELECT id FROM gone)`,
			endpointDeletedMessage, store.NormalizeTime(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: endpoint delete %q: %w", id, mapError(err))
	}
	return nil
}

// publishSQL stores events and their deliveries in one statement, so a group of
// publications costs one round trip and one implicit transaction (half the time of
// BEGIN, three statements and COMMIT for each), and the endpoints are locked once for
// the group rather than once per event. $1-$18 are the delivery columns, one array
// each (unnest), so one statement inserts 1 delivery or 5,000; $19-$23 are the events'
// columns and $24 the distinct endpoint IDs. The event IDs must differ (publishLive
// sends a repeated one on its own).
//
//   - event inserts the events whose ID does not exist yet, and returns them; only
//     their deliveries are inserted (the JOIN), so publishing an existing event writes
//     nothing.
//   - endpoint locks the deliveries' endpoints FOR KEY SHARE, as a foreign key would: an
//     endpoint cannot be deleted until this commits, and a waiting delivery to an
//     endpoint already gone is stored failed ("endpoint deleted"), as EndpointDelete
//     would have left it, rather than waiting forever for a claim that cannot join it.
//   - queued puts the deliveries still waiting (NormalizeEvent gave them their next
//     attempt time) in delivery_queue.
//
// It returns a row per event created: its ID and how many deliveries it got.
var publishSQL = `WITH event AS (
		INSERT INTO events (id, type, data, source, created_at)
		SELECT * FROM unnest($19::text[], $20::text[], $21::bytea[], $22::text[], $23::timestamptz[])
		ON CONFLICT (id) DO NOTHING
		RETURNING id
	), endpoint AS (
		SELECT id FROM webhook_endpoints WHERE id = ANY($24) FOR KEY SHARE
	), delivery AS (
		INSERT INTO deliveries (` + columns("", deliveryColumns) + `)
		SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.payload,
			CASE WHEN o.orphan THEN 'failed' ELSE d.status END,
			d.attempt_count, d.max_attempts,
			CASE WHEN o.orphan THEN NULL ELSE d.next_retry_at END,
			d.response_status_code, d.response_body,
			CASE WHEN o.orphan THEN '` + endpointDeletedMessage + `' ELSE d.error_message END,
			d.delivered_at, d.duration_ms, d.dead_lettered_at, d.created_at, d.updated_at, d.trace_parent
		FROM unnest(
			$1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::integer[],
			$8::integer[], $9::timestamptz[], $10::integer[], $11::text[], $12::text[],
			$13::timestamptz[], $14::integer[], $15::timestamptz[], $16::timestamptz[], $17::timestamptz[], $18::text[]
		) AS d (` + columns("", deliveryColumns) + `)
		JOIN event ON event.id = d.event_id
		LEFT JOIN endpoint ON endpoint.id = d.endpoint_id
		CROSS JOIN LATERAL (SELECT endpoint.id IS NULL AND d.status IN ('pending', 'retrying') AS orphan) AS o
		RETURNING id, endpoint_id, event_id, status, next_retry_at
	), queued AS (
		INSERT INTO delivery_queue (id, endpoint_id, due_at)
		SELECT id, endpoint_id, next_retry_at FROM delivery WHERE status IN ('pending', 'retrying')
	)
	SELECT event.id, (SELECT count(*) FROM delivery WHERE delivery.event_id = event.id) FROM event`

// publication is one event and its deliveries, normalized, on its way to publishSQL.
type publication struct {
	event      event.Event
	deliveries []store.Delivery
}

// EventPublish implements store.Store with publishSQL. When the event already exists,
// the count comes from a second statement: publishSQL's snapshot predates a concurrent
// first publication that its ON CONFLICT waited for, so it cannot see its deliveries.
//
// Handler executions, when there are any, are inserted after it in the same
// transaction, only if the event was created. Without them the statement is committed
// together with other publications in flight (publish.go).
func (s *Store) EventPublish(ctx context.Context, e event.Event, deliveries []store.Delivery, executions ...store.HandlerExecution) (bool, int, error) {
	e, deliveries, err := storeinput.NormalizeEvent(e, deliveries)
	if err != nil {
		return false, 0, fmt.Errorf("postgres: event publish: %w", err)
	}
	if executions, err = storeinput.NormalizeExecutions(e, executions); err != nil {
		return false, 0, fmt.Errorf("postgres: event publish: %w", err)
	}
	pub := publication{event: e, deliveries: deliveries}
	var (
		created bool
		count   int
	)
	if len(executions) == 0 {
		created, count, err = s.publishGrouped(ctx, pub)
	} else {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			counts, err := publish(ctx, tx, pub)
			if count, created = counts[e.ID]; err != nil || !created {
				return err
			}
			return insertExecutions(ctx, tx, executions)
		})
	}
	if err == nil && !created {
		err = s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE event_id = $1`, e.ID).Scan(&count)
	}
	if err != nil {
		return false, 0, fmt.Errorf("postgres: event publish %q: %w", e.ID, mapError(err))
	}
	return created, count, nil
}

// publish runs publishSQL for pubs, whose event IDs differ, and returns the events it
// created with their delivery counts.
func publish(ctx context.Context, db querier, pubs ...publication) (map[string]int, error) {
	rows, err := db.Query(ctx, publishSQL, publishArgs(pubs...)...)
	if err != nil {
		return nil, err
	}
	created := make(map[string]int, len(pubs))
	var (
		id string
		n  int
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		created[id] = n
		return nil
	})
	return created, err
}

// publishArgs are publishSQL's parameters.
func publishArgs(pubs ...publication) []any {
	var (
		deliveries          []store.Delivery
		endpoints           []string
		ids, types, sources = make([]string, len(pubs)), make([]string, len(pubs)), make([]string, len(pubs))
		data                = make([][]byte, len(pubs))
		times               = make([]time.Time, len(pubs))
	)
	for i, p := range pubs {
		ids[i], types[i], data[i], sources[i], times[i] = p.event.ID, p.event.Type, p.event.Data, p.event.Source, p.event.Time
		deliveries = append(deliveries, p.deliveries...)
		for _, d := range p.deliveries {
			endpoints = append(endpoints, d.EndpointID)
		}
	}
	slices.Sort(endpoints)
	return append(deliveryArrays(deliveries), ids, types, data, sources, times, slices.Compact(endpoints))
}

// deliveryArrays turns ds into the column arrays publishSQL takes, in the order of
// deliveryColumns.
func deliveryArrays(ds []store.Delivery) []any {
	n := len(ds)
	var (
		ids            = make([]string, n)
		endpoints      = make([]string, n)
		events         = make([]string, n)
		types          = make([]string, n)
		payloads       = make([][]byte, n)
		statuses       = make([]string, n)
		attempts       = make([]int, n)
		maxAttempts    = make([]int, n)
		nextRetryAt    = make([]*time.Time, n)
		codes          = make([]*int, n)
		bodies         = make([]string, n)
		errorMessages  = make([]string, n)
		deliveredAt    = make([]*time.Time, n)
		durations      = make([]*int, n)
		deadLetteredAt = make([]*time.Time, n)
		createdAt      = make([]time.Time, n)
		updatedAt      = make([]time.Time, n)
		traceParents   = make([]string, n)
	)
	for i, d := range ds {
		ids[i] = d.ID
		endpoints[i] = d.EndpointID
		events[i] = d.EventID
		types[i] = d.EventType
		payloads[i] = d.Payload
		statuses[i] = string(d.Status)
		attempts[i] = d.AttemptCount
		maxAttempts[i] = d.MaxAttempts
		nextRetryAt[i] = d.NextRetryAt
		codes[i] = d.ResponseStatusCode
		bodies[i] = d.ResponseBody
		errorMessages[i] = d.ErrorMessage
		deliveredAt[i] = d.DeliveredAt
		durations[i] = d.DurationMs
		deadLetteredAt[i] = d.DeadLetteredAt
		createdAt[i] = d.CreatedAt
		updatedAt[i] = d.UpdatedAt
		traceParents[i] = d.TraceParent
	}
	return []any{ids, endpoints, events, types, payloads, statuses, attempts, maxAttempts, nextRetryAt,
		codes, bodies, errorMessages, deliveredAt, durations, deadLetteredAt, createdAt, updatedAt, traceParents}
}

// EventGet implements store.Store.
func (s *Store) EventGet(ctx context.Context, id string) (event.Event, error) {
	if !storeinput.Key(id) {
		return event.Event{}, fmt.Errorf("postgres: event get %q: %w", id, store.ErrNotFound)
	}
	var e event.Event
	err := s.pool.QueryRow(ctx, `SELECT id, type, data, source, created_at FROM events WHERE id = $1`, id).
		Scan(&e.ID, &e.Type, &e.Data, &e.Source, &e.Time)
	if err != nil {
		return event.Event{}, fmt.Errorf("postgres: event get %q: %w", id, mapError(err))
	}
	e.Time = e.Time.UTC()
	return e, nil
}

// EventsAfter implements store.Store; the events_created index (migration 00011) keeps it
// a range scan.
func (s *Store) EventsAfter(ctx context.Context, afterID string, limit int) ([]event.Event, error) {
	if !storeinput.Key(afterID) || limit <= 0 {
		return nil, fmt.Errorf("postgres: events after %q: %w", afterID, store.ErrNotFound)
	}
	rows, err := s.pool.Query(ctx, `SELECT e.id, e.type, e.data, e.source, e.created_at
		FROM events e, (SELECT created_at, id FROM events WHERE id = $1) a
		WHERE (e.created_at, e.id) > (a.created_at, a.id)
		ORDER BY e.created_at, e.id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: events after %q: %w", afterID, mapError(err))
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var e event.Event
		if err := rows.Scan(&e.ID, &e.Type, &e.Data, &e.Source, &e.Time); err != nil {
			return nil, fmt.Errorf("postgres: events after %q: %w", afterID, err)
		}
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: events after %q: %w", afterID, mapError(err))
	}
	if len(out) == 0 {
		// Nothing after it, or no such event: tell them apart.
		if _, err := s.EventGet(ctx, afterID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// claimSQL leases due deliveries in one statement, so a claim costs one round trip and
// one commit, like storeinput's rules applied by SQLite's claim in Go. Parameters: $1
// now, $2 the limit, $3 the lease's end, $4 the owner, $5 the endpoints at the
// per-endpoint bound, $6 the bound (0: none), $7 and $8 the claimer's attempts in
// flight per endpoint (IDs, counts), $9 the probes per endpoint, $10 how many due
// deliveries to rank (storeinput.ScanLimit). A queue row is due when due_at <= now:
// leased rows have their lease's end there, so they are not due until it expires.
//
//   - half_open locks the half-open endpoints that have a due delivery, FOR NO KEY
//     UPDATE SKIP LOCKED: a row another claim changed meanwhile is re-checked (and is
//     probing by then), so two claims never both hand out an endpoint's probe. NO KEY
//     UPDATE is the lock an UPDATE takes; EventPublish's KEY SHARE does not wait for it.
//   - probe takes their oldest due deliveries (the probes), probing turns them probing
//     until the lease's end, a new generation.
//   - due picks the due deliveries of endpoints whose circuit is closed and which are
//     not at the bound (an array made once, so the scan is of the queue alone and
//     reads delivery_queue_due in due order until it has enough, rather than joining
//     and sorting the whole queue), in due order, FOR UPDATE SKIP LOCKED: rows another
//     claim has locked are passed over, and a row that claim has committed is
//     re-checked and no longer matches (its due_at is its lease's end), so concurrent
//     claims never return the same delivery and never wait for each other.
//     MATERIALIZED makes each locking subquery run exactly once (inlined into a join it
//     could be rescanned and lock more rows).
//   - picked keeps the probes and, ranked per endpoint, as many of the others as the
//     endpoints' budgets and the limit allow; leased moves their due_at to the lease's
//     end.
//
// The final SELECT reads the deliveries and endpoints as the statement's snapshot saw
// them, before probing changed the endpoints; DeliveryClaim applies that change to the
// probes' endpoints.
var claimSQL = `WITH half_open AS MATERIALIZED (
		SELECT e.id, e.circuit_open_until
		FROM webhook_endpoints e
		WHERE e.is_active AND e.circuit_open_until <= $1 AND NOT (e.id = ANY($5))
			AND EXISTS (SELECT FROM delivery_queue q WHERE q.endpoint_id = e.id AND q.due_at <= $1)
		ORDER BY e.circuit_open_until, e.id
		LIMIT $2
		FOR NO KEY UPDATE SKIP LOCKED
	), probe AS MATERIALIZED (
		SELECT p.id, p.endpoint_id, p.due_at
		FROM half_open h CROSS JOIN LATERAL (
			SELECT q.id, q.endpoint_id, q.due_at
			FROM delivery_queue q
			WHERE q.endpoint_id = h.id AND q.due_at <= $1
			ORDER BY q.due_at, q.id
			LIMIT CASE WHEN $6 > 0
				THEN LEAST($9, $6 - COALESCE((SELECT f.n FROM unnest($7::text[], $8::integer[]) AS f (endpoint_id, n) WHERE f.endpoint_id = h.id), 0))
				ELSE $9 END
			FOR UPDATE SKIP LOCKED
		) p
		ORDER BY h.circuit_open_until, h.id, p.due_at, p.id
		LIMIT $2
	), probing AS (
		UPDATE webhook_endpoints e
		SET circuit_probing = true, circuit_open_until = $3, circuit_generation = e.circuit_generation + 1
		WHERE e.id IN (SELECT endpoint_id FROM probe)
	), due AS MATERIALIZED (
		SELECT q.id, q.endpoint_id, q.due_at
		FROM delivery_queue q
		WHERE q.due_at <= $1
			AND q.endpoint_id = ANY (ARRAY(SELECT e.id FROM webhook_endpoints e
				WHERE e.is_active AND e.circuit_open_until IS NULL AND NOT (e.id = ANY($5))))
		ORDER BY q.due_at, q.id
		LIMIT $10
		FOR UPDATE SKIP LOCKED
	), ranked AS (
		SELECT d.id, d.due_at,
			row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.due_at, d.id) AS rank,
			$6 - COALESCE(f.n, 0) AS budget
		FROM due d
		LEFT JOIN unnest($7::text[], $8::integer[]) AS f (endpoint_id, n) ON f.endpoint_id = d.endpoint_id
	), picked AS (
		SELECT id FROM probe
		UNION ALL
		(SELECT id FROM ranked
			WHERE $6 <= 0 OR rank <= budget
			ORDER BY due_at, id
			LIMIT GREATEST($2 - (SELECT count(*) FROM probe), 0))
	), leased AS (
		UPDATE delivery_queue q SET due_at = $3, leased_by = $4
		FROM picked WHERE q.id = picked.id
		RETURNING q.id
	)
	SELECT ` + columns("d", deliveryColumns) + `, ` + columns("e", endpointColumns) + `
	FROM leased
	JOIN deliveries d ON d.id = leased.id
	JOIN webhook_endpoints e ON e.id = d.endpoint_id`

// DeliveryClaim implements store.Store with claimSQL: one statement, one round trip.
func (s *Store) DeliveryClaim(ctx context.Context, p store.ClaimParams) ([]store.ClaimedDelivery, error) {
	if err := storeinput.CheckClaim(p); err != nil {
		return nil, fmt.Errorf("postgres: delivery claim: %w", err)
	}
	s.keepQueueFast()
	leaseEnd := store.NormalizeTime(p.Now.Add(p.Lease))
	inFlightIDs, inFlight := make([]string, 0, len(p.InFlight)), make([]int, 0, len(p.InFlight))
	for id, n := range p.InFlight {
		inFlightIDs, inFlight = append(inFlightIDs, id), append(inFlight, n)
	}
	// A claim is only a lease: one lost in a database crash leaves the delivery to be
	// claimed again, which at-least-once delivery allows. So it need not wait for the
	// WAL flush (synchronous_commit off for its own transaction: the batch is one
	// implicit transaction), which under load took most of a claim's time.
	var b pgx.Batch
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(claimSQL, store.NormalizeTime(p.Now), p.Limit, leaseEnd, p.Owner, storeinput.Saturated(p), p.PerEndpoint,
		inFlightIDs, inFlight, storeinput.Probes(p), storeinput.ScanLimit(p, p.Limit))
	br := s.pool.SendBatch(ctx, &b)
	defer func() { _ = br.Close() }()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("postgres: delivery claim: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("postgres: delivery claim: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ClaimedDelivery, error) {
		var (
			dr deliveryRow
			er endpointRow
		)
		if err := row.Scan(append(dr.dest(), er.dest()...)...); err != nil {
			return store.ClaimedDelivery{}, err
		}
		c := store.ClaimedDelivery{Delivery: dr.finish(), Endpoint: er.finish()}
		if c.Endpoint.CircuitOpenUntil != nil {
			// A probe: its endpoint as claimSQL's probing left it.
			c.Endpoint.CircuitProbing, c.Endpoint.CircuitOpenUntil = true, &leaseEnd
			c.Endpoint.CircuitGeneration++
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: delivery claim: %w", mapError(err))
	}
	// RETURNING has no order of its own.
	slices.SortFunc(claimed, func(a, b store.ClaimedDelivery) int {
		return cmp.Or(a.Delivery.NextRetryAt.Compare(*b.Delivery.NextRetryAt), cmp.Compare(a.Delivery.ID, b.Delivery.ID))
	})
	return claimed, nil
}

// recordDeliveriesSQL writes a batch of outcomes, one array per column ($1-$11), in one
// statement. Only a delivery still in the queue takes its outcome: one that
// EndpointDelete failed, or that another worker delivered after this worker's lease
// expired, keeps what it has. A final outcome deletes the queue row, a retry moves its
// due_at to the next attempt (which also ends the lease); then the deliveries row is
// updated, a HOT update, as no index of deliveries names what an outcome changes
// (dead_lettered_at aside).
var recordDeliveriesSQL = `WITH r AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::timestamptz[], $5::integer[],
			$6::text[], $7::text[], $8::timestamptz[], $9::integer[], $10::timestamptz[], $11::timestamptz[])
			AS r (id, status, attempt_count, next_retry_at, response_status_code,
				response_body, error_message, delivered_at, duration_ms, dead_lettered_at, at)
	), finished AS (
		DELETE FROM delivery_queue q USING r
		WHERE q.id = r.id AND r.status <> 'retrying'
		RETURNING q.id
	), retried AS (
		UPDATE delivery_queue q SET due_at = r.next_retry_at, leased_by = NULL
		FROM r WHERE q.id = r.id AND r.status = 'retrying'
		RETURNING q.id
	)
	UPDATE deliveries d SET
		status = r.status, attempt_count = r.attempt_count, next_retry_at = r.next_retry_at,
		response_status_code = r.response_status_code, response_body = r.response_body,
		error_message = r.error_message, delivered_at = r.delivered_at, duration_ms = r.duration_ms,
		dead_lettered_at = r.dead_lettered_at, updated_at = r.at
	FROM r
	WHERE d.id = r.id AND d.id IN (SELECT id FROM finished UNION ALL SELECT id FROM retried)`

// recordEndpointSQL writes an endpoint's health as storeinput.ApplyOutcome left it.
const recordEndpointSQL = `UPDATE webhook_endpoints SET
		is_active = $2, disabled_reason = $3, updated_at = $4, is_healthy = $5,
		consecutive_failures = $6, recent_failures = $7, circuit_open_until = $8,
		circuit_probing = $9, circuit_generation = $10, last_delivery_at = $11, last_failure_at = $12
	WHERE id = $1`

// DeliveryRecord implements store.Store in one transaction: the endpoints' rows are
// locked (FOR NO KEY UPDATE, the lock an UPDATE takes, in ID order) and read, every
// outcome is applied to them in the order of records (storeinput.ApplyOutcome), and one
// pgx.Batch writes each endpoint once, sorted by ID, then every delivery in one
// statement (recordDeliveriesSQL). Every transaction locks endpoints before
// deliveries, and a delivery belongs to one endpoint, so two batches that could
// lock the same delivery first queue on its endpoint's row: concurrent batches and
// EndpointDelete cannot deadlock, and concurrent outcomes for one endpoint queue on its
// row lock instead of losing updates.
func (s *Store) DeliveryRecord(ctx context.Context, records []store.AttemptRecord) error {
	records, err := storeinput.NormalizeRecords(records)
	if err != nil {
		return fmt.Errorf("postgres: delivery record: %w", err)
	}
	if len(records) == 0 {
		return nil
	}
	ids := make([]string, 0, len(records))
	for _, r := range records {
		ids = append(ids, r.EndpointID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	byDelivery := oneOutcomeEach(records)

	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		endpoints, err := queryEndpoints(ctx, tx, `SELECT `+columns("", endpointColumns)+`
			FROM webhook_endpoints WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
		if err != nil {
			return err
		}
		byID := make(map[string]*store.Endpoint, len(endpoints))
		for i := range endpoints {
			byID[endpoints[i].ID] = &endpoints[i]
		}
		for _, r := range records {
			if e := byID[r.EndpointID]; e != nil { // a deleted endpoint has no health
				storeinput.ApplyOutcome(e, r)
			}
		}
		var b pgx.Batch
		for _, e := range endpoints {
			b.Queue(recordEndpointSQL, e.ID, e.IsActive, e.DisabledReason, store.NormalizeTime(e.UpdatedAt), e.IsHealthy,
				e.ConsecutiveFailures, nonNilTimes(e.RecentFailures), e.CircuitOpenUntil, e.CircuitProbing,
				e.CircuitGeneration, e.LastDeliveryAt, e.LastFailureAt)
		}
		b.Queue(recordDeliveriesSQL, outcomeArrays(byDelivery)...)
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: delivery record: %w", mapError(err))
	}
	return nil
}

// oneOutcomeEach is records with one outcome per delivery, sorted by delivery ID: the
// one that applying them in order would leave (recordDeliveriesSQL updates each row
// once). An outcome after a final one finds the delivery out of the queue, so the
// first final outcome stands; otherwise the last one does.
func oneOutcomeEach(records []store.AttemptRecord) []store.AttemptRecord {
	at := make(map[string]int, len(records))
	out := make([]store.AttemptRecord, 0, len(records))
	for _, r := range records {
		i, seen := at[r.DeliveryID]
		switch {
		case !seen:
			at[r.DeliveryID] = len(out)
			out = append(out, r)
		case out[i].Status == store.DeliveryRetrying:
			out[i] = r
		}
	}
	slices.SortFunc(out, func(a, b store.AttemptRecord) int { return cmp.Compare(a.DeliveryID, b.DeliveryID) })
	return out
}

// outcomeArrays turns records into the column arrays recordDeliveriesSQL takes.
func outcomeArrays(records []store.AttemptRecord) []any {
	n := len(records)
	var (
		ids            = make([]string, n)
		statuses       = make([]string, n)
		attempts       = make([]int, n)
		nextRetryAt    = make([]*time.Time, n)
		codes          = make([]*int, n)
		bodies         = make([]string, n)
		errorMessages  = make([]string, n)
		deliveredAt    = make([]*time.Time, n)
		durations      = make([]int, n)
		deadLetteredAt = make([]*time.Time, n)
		at             = make([]time.Time, n)
	)
	for i, r := range records {
		next, dead := storeinput.OutcomeTimes(r)
		ids[i], statuses[i], attempts[i], nextRetryAt[i] = r.DeliveryID, string(r.Status), r.AttemptCount, normalizePtr(next)
		codes[i], bodies[i], errorMessages[i] = r.ResponseStatusCode, r.ResponseBody, r.ErrorMessage
		deliveredAt[i], durations[i], deadLetteredAt[i] = normalizePtr(r.DeliveredAt), r.DurationMs, normalizePtr(dead)
		at[i] = store.NormalizeTime(r.At)
	}
	return []any{ids, statuses, attempts, nextRetryAt, codes, bodies, errorMessages, deliveredAt, durations, deadLetteredAt, at}
}

// nonNilTimes is times, or an empty list for nil (pgx sends a nil slice as NULL).
func nonNilTimes(times []time.Time) []time.Time {
	if times == nil {
		return []time.Time{}
	}
	return times
}

// DeliveryGet implements store.Store.
func (s *Store) DeliveryGet(ctx context.Context, id string) (store.Delivery, error) {
	if !storeinput.Key(id) {
		return store.Delivery{}, fmt.Errorf("postgres: delivery get %q: %w", id, store.ErrNotFound)
	}
	d, err := scanDelivery(s.pool.QueryRow(ctx,
		`SELECT `+columns("", deliveryColumns)+` FROM deliveries WHERE id = $1`, id))
	if err != nil {
		return store.Delivery{}, fmt.Errorf("postgres: delivery get %q: %w", id, mapError(err))
	}
	return d, nil
}

// DeliveryList implements store.Store.
func (s *Store) DeliveryList(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("postgres: delivery list: %w", err)
	}
	if !storeinput.Key(f.EndpointID) {
		return nil, 0, nil // no stored row can match
	}
	var w where
	if f.EndpointID != "" {
		w.add("endpoint_id = $%d", f.EndpointID)
	}
	if f.Status != "" {
		w.add("status = $%d", string(f.Status))
		if storeinput.Waiting(f.Status) {
			// No index of deliveries names status (outcomes stay HOT): the waiting ones
			// are found through the queue, which holds them and little else.
			w.add("id IN (SELECT id FROM delivery_queue)")
		}
	}
	deliveries, total, err := s.listDeliveries(ctx, w, "created_at DESC, id DESC", f.Page)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: delivery list: %w", err)
	}
	return deliveries, total, nil
}

// DeliveryRequeue implements store.Store. A delivery whose endpoint is gone is not
// requeued (ErrNotFound): no claim could ever pick it up. KEY SHARE keeps the endpoint
// from being deleted until the requeue commits.
func (s *Store) DeliveryRequeue(ctx context.Context, id string, at time.Time) (store.Delivery, error) {
	if !storeinput.Key(id) {
		return store.Delivery{}, fmt.Errorf("postgres: delivery requeue %q: %w", id, store.ErrNotFound)
	}
	if err := store.CheckTime(at); err != nil {
		return store.Delivery{}, fmt.Errorf("postgres: delivery requeue %q: %w", id, err)
	}
	at = store.NormalizeTime(at)
	var d store.Delivery
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var endpointID string
		if err := tx.QueryRow(ctx, `SELECT endpoint_id FROM deliveries WHERE id = $1`, id).Scan(&endpointID); err != nil {
			return err
		}
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR KEY SHARE`, endpointID).Scan(&one)
		if err != nil {
			return fmt.Errorf("endpoint %q: %w", endpointID, mapError(err))
		}
		// Back in the queue, or due now if it was still there (its lease, if any, ends).
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_queue (id, endpoint_id, due_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET due_at = $3, leased_by = NULL`, id, endpointID, at); err != nil {
			return err
		}
		d, err = scanDelivery(tx.QueryRow(ctx, `UPDATE deliveries SET
				status = 'pending', attempt_count = 0, next_retry_at = $1, dead_lettered_at = NULL, updated_at = $1
			WHERE id = $2
			RETURNING `+columns("", deliveryColumns), at, id))
		return err
	})
	if err != nil {
		return store.Delivery{}, fmt.Errorf("postgres: delivery requeue %q: %w", id, mapError(err))
	}
	return d, nil
}

// DeadLetterList implements store.Store. Newest first means most recently dead-lettered.
func (s *Store) DeadLetterList(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	if err := storeinput.CheckPage(f.Page); err != nil {
		return nil, 0, fmt.Errorf("postgres: dead letter list: %w", err)
	}
	if !storeinput.Key(f.EndpointID) {
		return nil, 0, nil // no stored row can match
	}
	var w where
	w.add("status = 'failed' AND dead_lettered_at IS NOT NULL")
	if f.EndpointID != "" {
		w.add("endpoint_id = $%d", f.EndpointID)
	}
	deliveries, total, err := s.listDeliveries(ctx, w, "dead_lettered_at DESC, id DESC", f.Page)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: dead letter list: %w", err)
	}
	return deliveries, total, nil
}

// DeadLetterPurge implements store.Store.
func (s *Store) DeadLetterPurge(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("postgres: dead letter purge: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM deliveries
		WHERE status = 'failed' AND dead_lettered_at IS NOT NULL AND dead_lettered_at < $1`,
		store.NormalizeTime(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: dead letter purge: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// QueueStats implements store.Store in one statement (one snapshot). Due counts what a
// claim could take now if every circuit were closed: waiting, due, and not leased (an
// in-flight delivery is not backlog). Nothing in it reads the history beyond the
// dead-letter index, so a metrics scrape costs the same with millions of deliveries kept.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	if err := store.CheckTime(now); err != nil {
		return store.QueueStats{}, fmt.Errorf("postgres: queue stats: %w", err)
	}
	var st store.QueueStats
	err := s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM deliveries WHERE status = 'failed' AND dead_lettered_at IS NOT NULL),
			(SELECT count(*) FROM webhook_endpoints WHERE is_active AND circuit_open_until IS NOT NULL),
			(SELECT count(*) FROM delivery_queue),
			count(*), min(d.next_retry_at)
		FROM delivery_queue q JOIN deliveries d ON d.id = q.id
		WHERE q.due_at <= $1`,
		store.NormalizeTime(now)).Scan(&st.DeadLetters, &st.OpenCircuits, &st.Waiting, &st.Due, &st.OldestDueSince)
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("postgres: queue stats: %w", err)
	}
	st.OldestDueSince = utcPtr(st.OldestDueSince)
	return st, nil
}

// InboundRecord implements store.Store. Only the (source, provider_id) constraint is
// absorbed; a duplicate ID with another provider ID is a conflict.
func (s *Store) InboundRecord(ctx context.Context, m store.InboundMessage) (bool, error) {
	m, err := storeinput.NormalizeInbound(m)
	if err != nil {
		return false, fmt.Errorf("postgres: inbound record: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO inbound_messages
			(id, source, provider_id, event_type, payload, headers, received_at, verification)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (source, provider_id) DO NOTHING`,
		m.ID, m.Source, m.ProviderID, m.EventType, m.Payload, m.Headers, m.ReceivedAt, m.Verification)
	if err != nil {
		return false, fmt.Errorf("postgres: inbound record %q: %w", m.ID, mapError(err))
	}
	return tag.RowsAffected() > 0, nil
}

// inboundColumns are read by scanInbound.
const inboundColumns = `id, source, provider_id, event_type, payload, headers, received_at, verification`

func scanInbound(row pgx.Row) (store.InboundMessage, error) {
	var m store.InboundMessage
	err := row.Scan(&m.ID, &m.Source, &m.ProviderID, &m.EventType, &m.Payload, &m.Headers, &m.ReceivedAt, &m.Verification)
	m.ReceivedAt = m.ReceivedAt.UTC()
	return m, err
}

// InboundGet implements store.Store.
func (s *Store) InboundGet(ctx context.Context, source, providerID string) (store.InboundMessage, error) {
	if !storeinput.Key(source) {
		return store.InboundMessage{}, fmt.Errorf("postgres: inbound get %q: %w", source, store.ErrNotFound)
	}
	m, err := scanInbound(s.pool.QueryRow(ctx, `SELECT `+inboundColumns+`
		FROM inbound_messages WHERE source = $1 AND provider_id = $2`, source, storeinput.InboundProviderID(providerID)))
	if err != nil {
		return store.InboundMessage{}, fmt.Errorf("postgres: inbound get %s/%q: %w", source, providerID, mapError(err))
	}
	return m, nil
}

// InboundGetByID implements store.Store.
func (s *Store) InboundGetByID(ctx context.Context, id string) (store.InboundMessage, error) {
	if !storeinput.Key(id) {
		return store.InboundMessage{}, fmt.Errorf("postgres: inbound get %q: %w", id, store.ErrNotFound)
	}
	m, err := scanInbound(s.pool.QueryRow(ctx, `SELECT `+inboundColumns+` FROM inbound_messages WHERE id = $1`, id))
	if err != nil {
		return store.InboundMessage{}, fmt.Errorf("postgres: inbound get %q: %w", id, mapError(err))
	}
	return m, nil
}

// InboundList implements store.Store. The cursor is looked up in the same snapshot as
// the page, so a cursor that exists is never reported missing.
func (s *Store) InboundList(ctx context.Context, f store.InboundFilter) ([]store.InboundMessage, error) {
	empty, err := storeinput.CheckInboundFilter(f)
	if err != nil {
		return nil, fmt.Errorf("postgres: inbound list: %w", err)
	}
	if empty {
		return nil, nil
	}
	var out []store.InboundMessage
	err = s.readTx(ctx, func(tx pgx.Tx) error {
		var w where
		if f.Source != "" {
			w.add("source = $%d", f.Source)
		}
		if f.Before != "" {
			var at time.Time
			if err := tx.QueryRow(ctx, `SELECT received_at FROM inbound_messages WHERE id = $1 AND ($2 = '' OR source = $2)`,
				f.Before, f.Source).Scan(&at); err != nil {
				return fmt.Errorf("message %q: %w", f.Before, mapError(err))
			}
			n := len(w.args)
			w.conds = append(w.conds, fmt.Sprintf("(received_at, id) < ($%d, $%d)", n+1, n+2))
			w.args = append(w.args, at, f.Before)
		}
		rows, err := tx.Query(ctx, `SELECT `+inboundColumns+` FROM inbound_messages`+w.String()+`
			ORDER BY received_at DESC, id DESC LIMIT `+strconv.Itoa(f.Limit), w.args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.InboundMessage, error) { return scanInbound(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: inbound list: %w", mapError(err))
	}
	return out, nil
}

// readTx runs fn in a read-only REPEATABLE READ transaction, so several queries see one
// snapshot (a page and its total agree).
func (s *Store) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// listDeliveries returns a page of the deliveries w selects in the given order, and the
// total.
func (s *Store) listDeliveries(ctx context.Context, w where, order string, p store.Page) ([]store.Delivery, int, error) {
	return listPage(ctx, s, "deliveries", deliveryColumns, w, order, p, scanDelivery)
}

// listPage returns the page of table's rows that w selects, in order, each read by scan,
// and how many rows w selects in all: one snapshot, so the page and its total agree.
func listPage[T any](ctx context.Context, s *Store, table string, cols []string, w where, order string, p store.Page, scan func(pgx.Row) (T, error)) ([]T, int, error) {
	var (
		items []T
		total int
	)
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table+w.String(), w.args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+columns("", cols)+` FROM `+table+w.String()+`
			ORDER BY `+order+` `+pageClause(p), w.args...)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
		return err
	})
	return items, total, err
}

// querier is what the pool and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func queryEndpoints(ctx context.Context, db querier, query string, args ...any) ([]store.Endpoint, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Endpoint, error) { return scanEndpoint(row) })
}

// where collects optional conditions of a list query and their arguments. A condition
// names its parameter $%d, numbered as it is added.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	if len(args) > 0 {
		cond = fmt.Sprintf(cond, len(w.args)+1)
	}
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// pageClause is the LIMIT and OFFSET of page p, inlined: both are integers storeinput.CheckPage
// bounded, and inlining keeps the same arguments for the count and the page.
func pageClause(p store.Page) string {
	return fmt.Sprintf("LIMIT %d OFFSET %d", p.Limit, storeinput.Offset(p))
}

// endpointRow scans the columns of endpointColumns.
type endpointRow struct{ e store.Endpoint }

func (r *endpointRow) dest() []any {
	e := &r.e
	return []any{
		&e.ID, &e.Name, &e.URL, &e.Secret, &e.PreviousSecret, &e.PreviousSecretUntil, &e.Events,
		&e.IsActive, &e.IsHealthy, &e.ConsecutiveFailures, &e.CircuitOpenUntil, &e.DisabledReason,
		&e.LastDeliveryAt, &e.LastFailureAt, &e.CreatedAt, &e.UpdatedAt,
		&e.CircuitProbing, &e.CircuitGeneration, &e.RecentFailures, &e.Managed,
	}
}

// finish puts the times in UTC (pgx returns timestamptz in the process's local zone).
func (r *endpointRow) finish() store.Endpoint {
	e := r.e
	e.Events = storeinput.NonNilStrings(e.Events)
	e.PreviousSecretUntil = utcPtr(e.PreviousSecretUntil)
	e.CircuitOpenUntil = utcPtr(e.CircuitOpenUntil)
	e.LastDeliveryAt = utcPtr(e.LastDeliveryAt)
	e.LastFailureAt = utcPtr(e.LastFailureAt)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	failures := make([]time.Time, len(e.RecentFailures))
	for i, f := range e.RecentFailures {
		failures[i] = f.UTC()
	}
	e.RecentFailures = failures
	return e
}

func scanEndpoint(row pgx.Row) (store.Endpoint, error) {
	var r endpointRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Endpoint{}, err
	}
	return r.finish(), nil
}

// deliveryRow scans the columns of deliveryColumns.
type deliveryRow struct{ d store.Delivery }

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{
		&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Payload, (*string)(&d.Status), &d.AttemptCount,
		&d.MaxAttempts, &d.NextRetryAt, &d.ResponseStatusCode, &d.ResponseBody, &d.ErrorMessage,
		&d.DeliveredAt, &d.DurationMs, &d.DeadLetteredAt, &d.CreatedAt, &d.UpdatedAt, &d.TraceParent,
	}
}

// finish puts the times in UTC (pgx returns timestamptz in the process's local zone).
func (r *deliveryRow) finish() store.Delivery {
	d := r.d
	d.NextRetryAt = utcPtr(d.NextRetryAt)
	d.DeliveredAt = utcPtr(d.DeliveredAt)
	d.DeadLetteredAt = utcPtr(d.DeadLetteredAt)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d
}

func scanDelivery(row pgx.Row) (store.Delivery, error) {
	var r deliveryRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Delivery{}, err
	}
	return r.finish(), nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// normalizePtr is store.NormalizeTime for an optional time.
func normalizePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := store.NormalizeTime(*t)
	return &n
}
