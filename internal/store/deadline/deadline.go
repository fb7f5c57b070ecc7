package deadline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// Deadlines of store calls, by kind of call. They stay well below the HTTP server's 60 s
// write timeout, so a request the database leaves waiting still gets its 503.
const (
	// CallDefault bounds a call that reads or writes a few rows: a token lookup, one
	// endpoint or delivery, a ping. A healthy database answers in milliseconds.
	CallDefault = 5 * time.Second
	// BatchDefault bounds a call whose work grows with the data: an event's fan-out to
	// every subscribed endpoint, claiming or recording a batch of deliveries, a page with
	// its total count, queue statistics, deleting an endpoint with its waiting
	// deliveries.
	BatchDefault = 10 * time.Second
	// PurgeDefault bounds the retention purges (dead letters, events, report minutes),
	// which may delete a large part of a table and run in the background, not for a
	// request.
	PurgeDefault = 2 * time.Minute
	// MigrateDefault bounds a migration, which may rewrite tables and first waits for
	// another process's migration to finish (the migration lock).
	MigrateDefault = 15 * time.Minute
)

// Timeouts are the deadlines a Store applies; a zero field takes its default.
type Timeouts struct {
	Call    time.Duration // CallDefault
	Batch   time.Duration // BatchDefault
	Purge   time.Duration // PurgeDefault
	Migrate time.Duration // MigrateDefault
}

// Unavailable reports whether an error of the wrapped store is a failure of the
// database rather than of the request; each backend has one (its Unavailable method).
type Unavailable func(error) bool

// Store is a store.Store that runs every call of the store it wraps under a deadline,
// and adds store.ErrUnavailable to the errors that are failures of the database: the
// deadline passing, and whatever the backend's Unavailable says. The store's sentinels
// (ErrNotFound, ErrConflict) and the caller's own cancellation or deadline pass through
// unchanged.
//
// Every method of store.Store is written out below. The embedded interface is only
// there so that the type keeps compiling when store.Store gains a method; that method
// would then run without a deadline, which TestEveryMethodHasADeadline catches.
type Store struct {
	store.Store

	inner       store.Store
	timeouts    Timeouts
	unavailable Unavailable
}

var _ store.Store = (*Store)(nil)

// New wraps inner. unavailable is the backend's classification of its errors; nil
// means only the deadline passing counts as unavailable.
func New(inner store.Store, unavailable Unavailable, t Timeouts) *Store {
	if unavailable == nil {
		unavailable = func(error) bool { return false }
	}
	t.Call = cmpOr(t.Call, CallDefault)
	t.Batch = cmpOr(t.Batch, BatchDefault)
	t.Purge = cmpOr(t.Purge, PurgeDefault)
	t.Migrate = cmpOr(t.Migrate, MigrateDefault)
	return &Store{Store: inner, inner: inner, timeouts: t, unavailable: unavailable}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() store.Store { return s.inner }

// run calls call under a deadline of d and classifies its error.
func (s *Store) run(ctx context.Context, d time.Duration, call func(context.Context) error) error {
	callCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := call(callCtx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		// The caller gave up or its own, shorter deadline passed: that is the caller's
		// business (a client that went away, /readyz's 2 s), not a database failure.
		return err
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
		return err
	case callCtx.Err() != nil:
		return fmt.Errorf("%w: no answer within %s: %w", store.ErrUnavailable, d, err)
	case s.unavailable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// get is run for a call with one result besides the error.
func get[T any](s *Store, ctx context.Context, d time.Duration, call func(context.Context) (T, error)) (T, error) {
	var v T
	err := s.run(ctx, d, func(ctx context.Context) (err error) {
		v, err = call(ctx)
		return err
	})
	return v, err
}

// Backend implements store.Store.
func (s *Store) Backend() string { return s.inner.Backend() }

// Close implements store.Store. Closing does not wait on the database.
func (s *Store) Close() error { return s.inner.Close() }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	return s.run(ctx, s.timeouts.Call, s.inner.Ping)
}

// MigrateUp implements store.Store.
func (s *Store) MigrateUp(ctx context.Context) ([]store.Migration, error) {
	return get(s, ctx, s.timeouts.Migrate, s.inner.MigrateUp)
}

// MigrateStatus implements store.Store. PostgreSQL's waits for a migration in progress
// (the migration lock), so it gets a migration's deadline.
func (s *Store) MigrateStatus(ctx context.Context) ([]store.Migration, error) {
	return get(s, ctx, s.timeouts.Migrate, s.inner.MigrateStatus)
}

// TokenCreate implements store.Store.
func (s *Store) TokenCreate(ctx context.Context, p store.TokenCreateParams) (store.Token, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.Token, error) { return s.inner.TokenCreate(ctx, p) })
}

// TokenCreateIfNone implements store.Store.
func (s *Store) TokenCreateIfNone(ctx context.Context, p store.TokenCreateParams) (bool, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (bool, error) { return s.inner.TokenCreateIfNone(ctx, p) })
}

// TokenGetByHash implements store.Store.
func (s *Store) TokenGetByHash(ctx context.Context, hash []byte) (store.Token, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.Token, error) { return s.inner.TokenGetByHash(ctx, hash) })
}

// TokenList implements store.Store. Tokens are few: people and systems, not traffic.
func (s *Store) TokenList(ctx context.Context) ([]store.Token, error) {
	return get(s, ctx, s.timeouts.Call, s.inner.TokenList)
}

// TokenRevoke implements store.Store.
func (s *Store) TokenRevoke(ctx context.Context, id string, at time.Time) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.TokenRevoke(ctx, id, at) })
}

// EndpointCreate implements store.Store.
func (s *Store) EndpointCreate(ctx context.Context, e store.Endpoint) (store.Endpoint, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.Endpoint, error) { return s.inner.EndpointCreate(ctx, e) })
}

// EndpointGet implements store.Store.
func (s *Store) EndpointGet(ctx context.Context, id string) (store.Endpoint, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.Endpoint, error) { return s.inner.EndpointGet(ctx, id) })
}

// EndpointList implements store.Store. A batch: the total counts every matching row.
func (s *Store) EndpointList(ctx context.Context, f store.EndpointFilter) ([]store.Endpoint, int, error) {
	var total int
	eps, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (eps []store.Endpoint, err error) {
		eps, total, err = s.inner.EndpointList(ctx, f)
		return eps, err
	})
	return eps, total, err
}

// EndpointsActive implements store.Store. A batch: every active endpoint.
func (s *Store) EndpointsActive(ctx context.Context) ([]store.Endpoint, error) {
	return get(s, ctx, s.timeouts.Batch, s.inner.EndpointsActive)
}

// EndpointsManagedOrNamed implements store.Store. A batch: every managed endpoint.
func (s *Store) EndpointsManagedOrNamed(ctx context.Context, names []string) ([]store.Endpoint, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]store.Endpoint, error) {
		return s.inner.EndpointsManagedOrNamed(ctx, names)
	})
}

// EndpointUpdate implements store.Store.
func (s *Store) EndpointUpdate(ctx context.Context, id string, p store.EndpointPatch) (store.Endpoint, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.Endpoint, error) { return s.inner.EndpointUpdate(ctx, id, p) })
}

// EndpointDelete implements store.Store. A batch: the endpoint's waiting deliveries
// are failed in the same transaction.
func (s *Store) EndpointDelete(ctx context.Context, id string, at time.Time) error {
	return s.run(ctx, s.timeouts.Batch, func(ctx context.Context) error { return s.inner.EndpointDelete(ctx, id, at) })
}

// EventPublish implements store.Store. A batch: one delivery per subscribed endpoint.
// When the deadline passes during the commit the caller cannot know whether the event
// was stored; publishing it again with the same ID is a no-op if it was.
func (s *Store) EventPublish(ctx context.Context, e event.Event, deliveries []store.Delivery, executions ...store.HandlerExecution) (bool, int, error) {
	var count int
	created, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (created bool, err error) {
		created, count, err = s.inner.EventPublish(ctx, e, deliveries, executions...)
		return created, err
	})
	return created, count, err
}

// EventsAfter implements store.Store.
func (s *Store) EventsAfter(ctx context.Context, afterID string, limit int) ([]event.Event, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) ([]event.Event, error) { return s.inner.EventsAfter(ctx, afterID, limit) })
}

// EventGet implements store.Store.
func (s *Store) EventGet(ctx context.Context, id string) (event.Event, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (event.Event, error) { return s.inner.EventGet(ctx, id) })
}

// DeliveryClaim implements store.Store. A batch: up to p.Limit deliveries.
func (s *Store) DeliveryClaim(ctx context.Context, p store.ClaimParams) ([]store.ClaimedDelivery, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]store.ClaimedDelivery, error) { return s.inner.DeliveryClaim(ctx, p) })
}

// DeliveryRecord implements store.Store. A batch: one outcome per record.
func (s *Store) DeliveryRecord(ctx context.Context, records []store.AttemptRecord) error {
	return s.run(ctx, s.timeouts.Batch, func(ctx context.Context) error { return s.inner.DeliveryRecord(ctx, records) })
}

// DeliveryGet implements store.Store.
func (s *Store) DeliveryGet(ctx context.Context, id string) (store.Delivery, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.Delivery, error) { return s.inner.DeliveryGet(ctx, id) })
}

// DeliveryList implements store.Store. A batch: the total counts every matching row.
func (s *Store) DeliveryList(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	var total int
	ds, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (ds []store.Delivery, err error) {
		ds, total, err = s.inner.DeliveryList(ctx, f)
		return ds, err
	})
	return ds, total, err
}

// DeliveryRequeue implements store.Store.
func (s *Store) DeliveryRequeue(ctx context.Context, id string, at time.Time) (store.Delivery, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.Delivery, error) { return s.inner.DeliveryRequeue(ctx, id, at) })
}

// DeadLetterList implements store.Store. A batch: the total counts every matching row.
func (s *Store) DeadLetterList(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	var total int
	ds, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (ds []store.Delivery, err error) {
		ds, total, err = s.inner.DeadLetterList(ctx, f)
		return ds, err
	})
	return ds, total, err
}

// DeadLetterPurge implements store.Store, with the purge deadline.
func (s *Store) DeadLetterPurge(ctx context.Context, before time.Time) (int, error) {
	return get(s, ctx, s.timeouts.Purge, func(ctx context.Context) (int, error) { return s.inner.DeadLetterPurge(ctx, before) })
}

// EventPurge implements store.Store, with the purge deadline: it runs in the background,
// batch after batch, until the backlog is gone. A backlog larger than the deadline
// allows is cut short with the batches done so far committed and counted; the next
// purge goes on from there.
func (s *Store) EventPurge(ctx context.Context, before time.Time, batch int) (store.EventPurged, error) {
	return get(s, ctx, s.timeouts.Purge, func(ctx context.Context) (store.EventPurged, error) {
		return s.inner.EventPurge(ctx, before, batch)
	})
}

// QueueStats implements store.Store. A batch: it counts the whole queue.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (store.QueueStats, error) { return s.inner.QueueStats(ctx, now) })
}

// InboundRecord implements store.Store.
func (s *Store) InboundRecord(ctx context.Context, m store.InboundMessage) (bool, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (bool, error) { return s.inner.InboundRecord(ctx, m) })
}

// InboundGet implements store.Store.
func (s *Store) InboundGet(ctx context.Context, source, providerID string) (store.InboundMessage, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.InboundMessage, error) {
		return s.inner.InboundGet(ctx, source, providerID)
	})
}

// InboundGetByID implements store.Store.
func (s *Store) InboundGetByID(ctx context.Context, id string) (store.InboundMessage, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.InboundMessage, error) { return s.inner.InboundGetByID(ctx, id) })
}

// InboundList implements store.Store. A batch: a page of payloads, which can be large.
func (s *Store) InboundList(ctx context.Context, f store.InboundFilter) ([]store.InboundMessage, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]store.InboundMessage, error) { return s.inner.InboundList(ctx, f) })
}

// FlowDeadLetterAdd implements store.Store.
func (s *Store) FlowDeadLetterAdd(ctx context.Context, d store.FlowDeadLetter) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.FlowDeadLetterAdd(ctx, d) })
}

// FlowDeadLetterGet implements store.Store.
func (s *Store) FlowDeadLetterGet(ctx context.Context, id string) (store.FlowDeadLetter, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.FlowDeadLetter, error) { return s.inner.FlowDeadLetterGet(ctx, id) })
}

// FlowDeadLetterList implements store.Store. A batch: the total counts every matching
// row.
func (s *Store) FlowDeadLetterList(ctx context.Context, f store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	var total int
	ds, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (ds []store.FlowDeadLetter, err error) {
		ds, total, err = s.inner.FlowDeadLetterList(ctx, f)
		return ds, err
	})
	return ds, total, err
}

// FlowDeadLetterSetAccepted implements store.Store.
func (s *Store) FlowDeadLetterSetAccepted(ctx context.Context, id string, accepted [][]string) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.FlowDeadLetterSetAccepted(ctx, id, accepted) })
}

// FlowDeadLetterDelete implements store.Store.
func (s *Store) FlowDeadLetterDelete(ctx context.Context, id string) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.FlowDeadLetterDelete(ctx, id) })
}

// FlowDeadLetterCounts implements store.Store. A batch: it counts every dead letter.
func (s *Store) FlowDeadLetterCounts(ctx context.Context) (map[string]int, error) {
	return get(s, ctx, s.timeouts.Batch, s.inner.FlowDeadLetterCounts)
}

// JobRunClaim implements store.Store. One small row.
func (s *Store) JobRunClaim(ctx context.Context, r store.JobRun) (store.JobRun, bool, error) {
	var won bool
	out, err := get(s, ctx, s.timeouts.Call, func(ctx context.Context) (out store.JobRun, err error) {
		out, won, err = s.inner.JobRunClaim(ctx, r)
		return out, err
	})
	return out, won, err
}

// JobRunRenew implements store.Store.
func (s *Store) JobRunRenew(ctx context.Context, id, owner string, until time.Time) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.JobRunRenew(ctx, id, owner, until) })
}

// JobRunFinish implements store.Store.
func (s *Store) JobRunFinish(ctx context.Context, r store.JobRun) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.JobRunFinish(ctx, r) })
}

// JobRunList implements store.Store. A batch: the total counts every matching row.
func (s *Store) JobRunList(ctx context.Context, f store.JobRunFilter) ([]store.JobRun, int, error) {
	var total int
	rs, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (rs []store.JobRun, err error) {
		rs, total, err = s.inner.JobRunList(ctx, f)
		return rs, err
	})
	return rs, total, err
}

// JobLastTick implements store.Store. One indexed row.
func (s *Store) JobLastTick(ctx context.Context, job string) (time.Time, bool, error) {
	var ok bool
	t, err := get(s, ctx, s.timeouts.Call, func(ctx context.Context) (t time.Time, err error) {
		t, ok, err = s.inner.JobLastTick(ctx, job)
		return t, err
	})
	return t, ok, err
}

// ReportRollupAdd implements store.Store. A batch: one row or more per operation
// called in the minutes flushed.
func (s *Store) ReportRollupAdd(ctx context.Context, rs []store.ReportRollup) error {
	return s.run(ctx, s.timeouts.Batch, func(ctx context.Context) error { return s.inner.ReportRollupAdd(ctx, rs) })
}

// ReportRollupList implements store.Store. A batch: every minute of the range.
func (s *Store) ReportRollupList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportRollup, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]store.ReportRollup, error) { return s.inner.ReportRollupList(ctx, f) })
}

// ReportHourList implements store.Store. A batch: every hour of the range.
func (s *Store) ReportHourList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportHour, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]store.ReportHour, error) { return s.inner.ReportHourList(ctx, f) })
}

// ReportRollupPurge implements store.Store. The retention purge, in the background.
func (s *Store) ReportRollupPurge(ctx context.Context, before time.Time) (int, error) {
	return get(s, ctx, s.timeouts.Purge, func(ctx context.Context) (int, error) { return s.inner.ReportRollupPurge(ctx, before) })
}

// PluginPut implements store.Store. One row, whose module may be megabytes.
func (s *Store) PluginPut(ctx context.Context, p store.Plugin) error {
	return s.run(ctx, s.timeouts.Batch, func(ctx context.Context) error { return s.inner.PluginPut(ctx, p) })
}

// PluginGet implements store.Store. One row, whose module may be megabytes.
func (s *Store) PluginGet(ctx context.Context, name string) (store.Plugin, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (store.Plugin, error) { return s.inner.PluginGet(ctx, name) })
}

// PluginList implements store.Store. A few small rows, without modules.
func (s *Store) PluginList(ctx context.Context) ([]store.Plugin, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) ([]store.Plugin, error) { return s.inner.PluginList(ctx) })
}

// PluginDelete implements store.Store. One row.
func (s *Store) PluginDelete(ctx context.Context, name string) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.PluginDelete(ctx, name) })
}
