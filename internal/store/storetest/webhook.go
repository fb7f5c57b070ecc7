package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// runWebhook adds the store.WebhookStore subtests; migrated opens a fresh, migrated store.
func runWebhook(t *testing.T, migrated func(t *testing.T) store.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, store.Store)
	}{
		{"EndpointCreateGet", testEndpointCreateGet},
		{"EndpointUpdate", testEndpointUpdate},
		{"EndpointList", testEndpointList},
		{"EndpointManaged", testEndpointManaged},
		{"EndpointDelete", testEndpointDelete},
		{"EventPublish", testEventPublish},
		{"EventPublishDefaults", testEventPublishDefaults},
		{"EventPublishIdempotent", testEventPublishIdempotent},
		{"EventPublishConcurrent", testEventPublishConcurrent},
		{"EventPublishAtomic", testEventPublishAtomic},
		{"EventPublishLarge", testEventPublishLarge},
		{"DeliveryClaimOrder", testDeliveryClaimOrder},
		{"DeliveryClaimSkips", testDeliveryClaimSkips},
		{"DeliveryClaimLease", testDeliveryClaimLease},
		{"DeliveryClaimConcurrent", testDeliveryClaimConcurrent},
		{"DeliveryRecord", testDeliveryRecord},
		{"DeliveryRecordBreaker", testDeliveryRecordBreaker},
		{"DeliveryRecordBreakerWindow", testDeliveryRecordBreakerWindow},
		{"DeliveryClaimProbeConcurrent", testDeliveryClaimProbeConcurrent},
		{"DeliveryClaimPerEndpoint", testDeliveryClaimPerEndpoint},
		{"DeliveryRecordDisable", testDeliveryRecordDisable},
		{"DeliveryRecordStale", testDeliveryRecordStale},
		{"DeliveryRecordConcurrent", testDeliveryRecordConcurrent},
		{"DeliveryRecordInvalid", testDeliveryRecordInvalid},
		{"DeliveryRecordText", testDeliveryRecordText},
		{"DeliveryRequeue", testDeliveryRequeue},
		{"DeliveryList", testDeliveryList},
		{"DeadLetters", testDeadLetters},
		{"QueueStats", testQueueStats},
		{"EventPurge", testEventPurge},
		{"EventPurgeBatches", testEventPurgeBatches},
		{"EventPurgeConcurrentRequeue", testEventPurgeConcurrentRequeue},
		{"InboundRecord", testInboundRecord},
		{"InboundRecordConcurrent", testInboundRecordConcurrent},
		{"InboundList", testInboundList},
		{"WebhookCanceledContext", testWebhookCanceledContext},
		{"UnstorableNames", testUnstorableNames},
		{"UnstorableKeys", testUnstorableKeys},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, migrated(t)) })
	}
}

// cmpOptions compare stored values: a nil slice equals an empty one (a backend may read
// either back), and times must match to the nanosecond and be in UTC.
var cmpOptions = []cmp.Option{
	cmpopts.EquateEmpty(),
	cmp.Transformer("UTC", func(t time.Time) string { return t.Format(time.RFC3339Nano) + " " + t.Location().String() }),
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOptions...); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", what, d)
	}
}

func ptr[T any](v T) *T { return &v }

// newEndpoint is an active, healthy endpoint created at the given time.
func newEndpoint(id string, created time.Time) store.Endpoint {
	return store.Endpoint{
		ID: id, Name: "endpoint " + id, URL: "https://example.com/hooks/" + id,
		Secret: "whsec_c2VjcmV0IG9m" + id, Events: []string{"order.*", "invoice.paid"},
		IsActive: true, IsHealthy: true, CreatedAt: created, UpdatedAt: created,
	}
}

func mustEndpoint(t testing.TB, s store.Store, e store.Endpoint) store.Endpoint {
	t.Helper()
	got, err := s.EndpointCreate(context.Background(), e)
	if err != nil {
		t.Fatalf("EndpointCreate(%s): %v", e.ID, err)
	}
	return got
}

func mustGetEndpoint(t *testing.T, s store.Store, id string) store.Endpoint {
	t.Helper()
	e, err := s.EndpointGet(context.Background(), id)
	if err != nil {
		t.Fatalf("EndpointGet(%s): %v", id, err)
	}
	return e
}

// newDelivery is a pending delivery to endpoint, due at due, with every column a
// publication sets spelled out, so it reads back unchanged.
func newDelivery(id, endpoint, event string, due time.Time) store.Delivery {
	return store.Delivery{
		ID: id, EndpointID: endpoint, EventID: event, EventType: "order.created",
		Payload: []byte(`{"type": "order.created", "id":"` + id + `"}`), Status: store.DeliveryPending,
		MaxAttempts: 5, NextRetryAt: ptr(due), CreatedAt: due, UpdatedAt: due,
	}
}

func newEvent(id string, created time.Time) event.Event {
	return event.Event{ID: id, Type: "order.created", Data: []byte(`{"order": 42,  "b": [1, 2]}`), Source: "api", Time: created}
}

// mustPublish publishes an event with the given deliveries (whose EventID it sets) and
// returns them.
func mustPublish(t testing.TB, s store.Store, event string, at time.Time, ds ...store.Delivery) []store.Delivery {
	t.Helper()
	for i := range ds {
		ds[i].EventID = event
	}
	created, n, err := s.EventPublish(context.Background(), newEvent(event, at), ds)
	if err != nil || !created || n != len(ds) {
		t.Fatalf("EventPublish(%s) = %v, %d, %v; want true, %d, nil", event, created, n, err, len(ds))
	}
	return ds
}

func mustGetDelivery(t *testing.T, s store.Store, id string) store.Delivery {
	t.Helper()
	d, err := s.DeliveryGet(context.Background(), id)
	if err != nil {
		t.Fatalf("DeliveryGet(%s): %v", id, err)
	}
	return d
}

func mustClaim(t *testing.T, s store.Store, now time.Time, limit int, lease time.Duration) []store.ClaimedDelivery {
	t.Helper()
	claimed, err := s.DeliveryClaim(context.Background(), store.ClaimParams{Now: now, Limit: limit, Lease: lease, Owner: "worker-1"})
	if err != nil {
		t.Fatalf("DeliveryClaim: %v", err)
	}
	return claimed
}

func claimedIDs(claimed []store.ClaimedDelivery) []string {
	ids := make([]string, 0, len(claimed))
	for _, c := range claimed {
		ids = append(ids, c.Delivery.ID)
	}
	return ids
}

func deliveryIDs(ds []store.Delivery) []string {
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func endpointIDs(es []store.Endpoint) []string {
	ids := make([]string, 0, len(es))
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// checkClaimIDs checks which deliveries a claim returned, in order.
func checkClaimIDs(t *testing.T, what string, claimed []store.ClaimedDelivery, want ...string) {
	t.Helper()
	if got := claimedIDs(claimed); !slices.Equal(got, want) {
		t.Errorf("%s claimed %q, want %q", what, got, want)
	}
}

func mustRecord(t *testing.T, s store.Store, records ...store.AttemptRecord) {
	t.Helper()
	if err := s.DeliveryRecord(context.Background(), records); err != nil {
		t.Fatalf("DeliveryRecord: %v", err)
	}
}

// failure is a failed attempt at d that will be retried in an hour.
func failure(d store.Delivery, at time.Time, threshold int, resetAfter time.Duration) store.AttemptRecord {
	return store.AttemptRecord{
		DeliveryID: d.ID, EndpointID: d.EndpointID, Status: store.DeliveryRetrying, AttemptCount: d.AttemptCount + 1,
		NextRetryAt: ptr(at.Add(time.Hour)), ResponseStatusCode: ptr(503), ResponseBody: "busy",
		ErrorMessage: "HTTP 503", DurationMs: 30, At: at, BreakerThreshold: threshold, BreakerResetAfter: resetAfter,
	}
}

// success is a successful attempt at d.
func success(d store.Delivery, at time.Time) store.AttemptRecord {
	return store.AttemptRecord{
		DeliveryID: d.ID, EndpointID: d.EndpointID, Status: store.DeliveryDelivered, AttemptCount: d.AttemptCount + 1,
		ResponseStatusCode: ptr(200), ResponseBody: "ok", DeliveredAt: ptr(at), DurationMs: 12, At: at,
		Success: true, BreakerThreshold: 5, BreakerResetAfter: time.Minute,
	}
}

// deadLetter is a last, failed attempt at d.
func deadLetter(d store.Delivery, at time.Time) store.AttemptRecord {
	return store.AttemptRecord{
		DeliveryID: d.ID, EndpointID: d.EndpointID, Status: store.DeliveryFailed, AttemptCount: 5,
		ResponseStatusCode: ptr(500), ResponseBody: "boom", ErrorMessage: "HTTP 500", DurationMs: 40,
		DeadLetteredAt: ptr(at), At: at,
	}
}

func page(p, limit int) store.Page { return store.Page{Page: p, Limit: limit} }

// isValidationError reports whether err is an error that is neither nil nor one of the
// sentinels, which mean something else.
func isValidationError(err error) bool {
	return err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound)
}

func testEndpointCreateGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC-3", -3*3600)
	full := store.Endpoint{
		ID: "ep-full", Name: "Full", URL: "https://example.com/a?b=c", Secret: "whsec_new",
		PreviousSecret: "whsec_old", PreviousSecretUntil: ptr(time.Date(2025, 3, 15, 1, 2, 3, 456789999, zone)),
		Events: []string{"order.created", "order.*", "*"}, IsActive: false, IsHealthy: false, ConsecutiveFailures: 7,
		CircuitOpenUntil: ptr(t0.Add(time.Minute)), CircuitProbing: true, CircuitGeneration: 1 << 40,
		// Out of order and in another zone: they read back sorted, in UTC.
		RecentFailures: []time.Time{t0.Add(-time.Second).In(zone), t0.Add(-time.Minute + 1500)},
		DisabledReason: "410 Gone",
		LastDeliveryAt: ptr(t0.Add(-time.Hour)), LastFailureAt: ptr(t0.Add(-time.Second)),
		CreatedAt: time.Date(2025, 3, 14, 12, 0, 0, 999, zone), UpdatedAt: t0,
	}
	want := full
	want.PreviousSecretUntil = ptr(time.Date(2025, 3, 15, 4, 2, 3, 456789000, time.UTC))
	want.CreatedAt = time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	want.RecentFailures = []time.Time{t0.Add(-time.Minute + 1000), t0.Add(-time.Second)}

	got, err := s.EndpointCreate(ctx, full)
	if err != nil {
		t.Fatalf("EndpointCreate: %v", err)
	}
	check(t, "EndpointCreate result", got, want)
	check(t, "EndpointGet", mustGetEndpoint(t, s, full.ID), want)

	// No events, no optional times, no UpdatedAt (it becomes CreatedAt).
	minimal := store.Endpoint{ID: "ep-min", URL: "https://example.com/min", Secret: "whsec_x", IsActive: true, IsHealthy: true, CreatedAt: t0}
	wantMin := minimal
	wantMin.UpdatedAt = t0
	got, err = s.EndpointCreate(ctx, minimal)
	if err != nil {
		t.Fatalf("EndpointCreate(minimal): %v", err)
	}
	check(t, "EndpointCreate(minimal) result", got, wantMin)
	gotMin := mustGetEndpoint(t, s, minimal.ID)
	check(t, "EndpointGet(minimal)", gotMin, wantMin)
	if len(gotMin.Events) != 0 {
		t.Errorf("endpoint without events reads back events %q", gotMin.Events)
	}

	dup := newEndpoint(full.ID, t0)
	if _, err := s.EndpointCreate(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("EndpointCreate with a duplicate ID: err = %v, want ErrConflict", err)
	}
	check(t, "endpoint after a conflicting create", mustGetEndpoint(t, s, full.ID), want)

	if _, err := s.EndpointGet(ctx, "ep-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndpointGet of an unknown ID: err = %v, want ErrNotFound", err)
	}
	for name, e := range map[string]store.Endpoint{
		"empty id":               newEndpoint("", t0),
		"zero created time":      newEndpoint("ep-zero", time.Time{}),
		"year 10000":             newEndpoint("ep-late", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
		"bad circuit open until": func() store.Endpoint { e := newEndpoint("ep-c", t0); e.CircuitOpenUntil = &time.Time{}; return e }(),
		"probing without an end": func() store.Endpoint { e := newEndpoint("ep-p", t0); e.CircuitProbing = true; return e }(),
		"negative generation":    func() store.Endpoint { e := newEndpoint("ep-g", t0); e.CircuitGeneration = -1; return e }(),
		"zero recent failure":    func() store.Endpoint { e := newEndpoint("ep-f", t0); e.RecentFailures = []time.Time{{}}; return e }(),
	} {
		if _, err := s.EndpointCreate(ctx, e); !isValidationError(err) {
			t.Errorf("EndpointCreate with %s: err = %v, want a validation error", name, err)
		}
	}
	if _, total, err := s.EndpointList(ctx, store.EndpointFilter{Page: page(1, 100)}); err != nil || total != 2 {
		t.Errorf("EndpointList total = %d, %v; want 2 (invalid creates store nothing)", total, err)
	}
}

func testEndpointUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := mustEndpoint(t, s, newEndpoint("ep-1", t0))
	other := mustEndpoint(t, s, newEndpoint("ep-2", t0))

	at := t0.Add(time.Minute)
	got, err := s.EndpointUpdate(ctx, e.ID, store.EndpointPatch{Name: ptr("renamed"), UpdatedAt: at})
	if err != nil {
		t.Fatalf("EndpointUpdate(name): %v", err)
	}
	e.Name, e.UpdatedAt = "renamed", at
	check(t, "EndpointUpdate(name) result", got, e)
	check(t, "EndpointGet after a name update", mustGetEndpoint(t, s, e.ID), e)

	// Every field at once; the time not in UTC and finer than microseconds.
	until := time.Date(2025, 3, 20, 8, 0, 0, 1500, time.FixedZone("UTC+2", 7200))
	at = t0.Add(2 * time.Minute)
	got, err = s.EndpointUpdate(ctx, e.ID, store.EndpointPatch{
		Name: ptr("n"), URL: ptr("https://example.org/new"), Events: &[]string{"*"}, IsActive: ptr(false),
		Secret: ptr("whsec_rotated"), PreviousSecret: ptr(e.Secret), PreviousSecretUntil: &until,
		DisabledReason: ptr("paused by admin"), UpdatedAt: at,
	})
	if err != nil {
		t.Fatalf("EndpointUpdate(all): %v", err)
	}
	e.Name, e.URL, e.Events, e.IsActive = "n", "https://example.org/new", []string{"*"}, false
	e.PreviousSecret, e.Secret = e.Secret, "whsec_rotated"
	e.PreviousSecretUntil = ptr(time.Date(2025, 3, 20, 6, 0, 0, 1000, time.UTC))
	e.DisabledReason, e.UpdatedAt = "paused by admin", at
	check(t, "EndpointUpdate(all) result", got, e)
	check(t, "EndpointGet after updating everything", mustGetEndpoint(t, s, e.ID), e)

	// Back on, with no event types; unset fields stay.
	at = t0.Add(3 * time.Minute)
	got, err = s.EndpointUpdate(ctx, e.ID, store.EndpointPatch{Events: &[]string{}, IsActive: ptr(true), DisabledReason: ptr(""), UpdatedAt: at})
	if err != nil {
		t.Fatalf("EndpointUpdate(reactivate): %v", err)
	}
	e.Events, e.IsActive, e.DisabledReason, e.UpdatedAt = []string{}, true, "", at
	check(t, "EndpointUpdate(reactivate) result", got, e)
	check(t, "EndpointGet after reactivation", mustGetEndpoint(t, s, e.ID), e)
	check(t, "endpoint not updated", mustGetEndpoint(t, s, other.ID), other)

	// A circuit reset closes the circuit and starts a new generation; nothing else changes.
	open := newEndpoint("ep-open", t0)
	open.IsHealthy, open.ConsecutiveFailures, open.CircuitOpenUntil = false, 9, ptr(t0.Add(time.Hour))
	open.CircuitProbing, open.CircuitGeneration, open.RecentFailures = true, 4, []time.Time{t0}
	open.LastFailureAt = ptr(t0)
	open = mustEndpoint(t, s, open)
	got, err = s.EndpointUpdate(ctx, open.ID, store.EndpointPatch{ResetCircuit: true, UpdatedAt: at})
	if err != nil {
		t.Fatalf("EndpointUpdate(reset circuit): %v", err)
	}
	open.IsHealthy, open.ConsecutiveFailures, open.CircuitOpenUntil = true, 0, nil
	open.CircuitProbing, open.CircuitGeneration, open.RecentFailures, open.UpdatedAt = false, 5, nil, at
	check(t, "EndpointUpdate(reset circuit) result", got, open)
	check(t, "EndpointGet after a circuit reset", mustGetEndpoint(t, s, open.ID), open)

	if _, err := s.EndpointUpdate(ctx, "ep-unknown", store.EndpointPatch{Name: ptr("x"), UpdatedAt: at}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndpointUpdate of an unknown ID: err = %v, want ErrNotFound", err)
	}
	if _, err := s.EndpointUpdate(ctx, e.ID, store.EndpointPatch{Name: ptr("x")}); !isValidationError(err) {
		t.Errorf("EndpointUpdate without UpdatedAt: err = %v, want a validation error", err)
	}
	check(t, "endpoint after failed updates", mustGetEndpoint(t, s, e.ID), e)
}

func testEndpointList(t *testing.T, s store.Store) {
	ctx := context.Background()
	var all []store.Endpoint
	for i := range 5 {
		e := newEndpoint(fmt.Sprintf("ep-%d", i), t0.Add(time.Duration(i)*time.Second))
		e.IsActive = i%2 == 0
		all = append(all, mustEndpoint(t, s, e))
	}
	// Ties with ep-4 on time; newest first breaks ties by ID, descending.
	tie := mustEndpoint(t, s, newEndpoint("ep-5", all[4].CreatedAt))
	all = append(all, tie)

	list := func(f store.EndpointFilter) ([]string, int) {
		t.Helper()
		es, total, err := s.EndpointList(ctx, f)
		if err != nil {
			t.Fatalf("EndpointList(%+v): %v", f, err)
		}
		return endpointIDs(es), total
	}
	for _, c := range []struct {
		filter store.EndpointFilter
		want   []string
		total  int
	}{
		{store.EndpointFilter{Page: page(1, 2)}, []string{"ep-5", "ep-4"}, 6},
		{store.EndpointFilter{Page: page(2, 2)}, []string{"ep-3", "ep-2"}, 6},
		{store.EndpointFilter{Page: page(3, 2)}, []string{"ep-1", "ep-0"}, 6},
		{store.EndpointFilter{Page: page(4, 2)}, nil, 6},
		{store.EndpointFilter{Page: page(1, 100)}, []string{"ep-5", "ep-4", "ep-3", "ep-2", "ep-1", "ep-0"}, 6},
		{store.EndpointFilter{IsActive: ptr(true), Page: page(1, 3)}, []string{"ep-5", "ep-4", "ep-2"}, 4},
		{store.EndpointFilter{IsActive: ptr(true), Page: page(2, 3)}, []string{"ep-0"}, 4},
		{store.EndpointFilter{IsActive: ptr(false), Page: page(1, 10)}, []string{"ep-3", "ep-1"}, 2},
	} {
		got, total := list(c.filter)
		if !slices.Equal(got, c.want) || total != c.total {
			t.Errorf("EndpointList(%+v) = %q, total %d; want %q, total %d", c.filter, got, total, c.want, c.total)
		}
	}
	es, _, err := s.EndpointList(ctx, store.EndpointFilter{Page: page(1, 1)})
	if err != nil || len(es) != 1 {
		t.Fatalf("EndpointList(limit 1) = %v, %v", es, err)
	}
	check(t, "listed endpoint", es[0], tie)

	for _, p := range []store.Page{page(0, 10), page(1, 0), page(1, 101), page(-1, 10)} {
		if _, _, err := s.EndpointList(ctx, store.EndpointFilter{Page: p}); !isValidationError(err) {
			t.Errorf("EndpointList(%+v): err = %v, want a validation error", p, err)
		}
	}

	active, err := s.EndpointsActive(ctx)
	if err != nil {
		t.Fatalf("EndpointsActive: %v", err)
	}
	check(t, "EndpointsActive (oldest first)", active, []store.Endpoint{all[0], all[2], all[4], tie})
}

// Managed endpoints (owned by the configuration) keep their flag; no two share a name,
// while endpoints made through the API may; EndpointsManagedOrNamed finds what the sync
// of declared webhooks compares with the configuration.
func testEndpointManaged(t *testing.T, s store.Store) {
	ctx := context.Background()
	managed := func(id, name string, at time.Time) store.Endpoint {
		e := newEndpoint(id, at)
		e.Name, e.Managed = name, true
		return e
	}
	audit := mustEndpoint(t, s, managed("ep-audit", "audit", t0))
	check(t, "managed endpoint", mustGetEndpoint(t, s, "ep-audit"), audit)
	if !audit.Managed {
		t.Fatal("EndpointCreate lost the managed flag")
	}
	api1 := newEndpoint("ep-api1", t0.Add(time.Second))
	api1.Name = "shared"
	api1 = mustEndpoint(t, s, api1)
	api2 := newEndpoint("ep-api2", t0.Add(2*time.Second))
	api2.Name = "shared"
	api2 = mustEndpoint(t, s, api2) // API endpoints may share a name
	other := mustEndpoint(t, s, newEndpoint("ep-other", t0.Add(3*time.Second)))
	warehouse := mustEndpoint(t, s, managed("ep-wh", "warehouse", t0.Add(4*time.Second)))
	if _, err := s.EndpointCreate(ctx, managed("ep-audit2", "audit", t0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second managed endpoint named audit: err = %v, want ErrConflict", err)
	}
	// An API endpoint may take a managed one's name in the store; the service refuses it.
	sameAsManaged := newEndpoint("ep-api3", t0.Add(5*time.Second))
	sameAsManaged.Name = "warehouse"
	sameAsManaged = mustEndpoint(t, s, sameAsManaged)

	for _, c := range []struct {
		names []string
		want  []store.Endpoint
	}{
		{nil, []store.Endpoint{audit, warehouse}},
		{[]string{"shared", "nobody"}, []store.Endpoint{audit, api1, api2, warehouse}},
		{[]string{"warehouse"}, []store.Endpoint{audit, warehouse, sameAsManaged}},
	} {
		got, err := s.EndpointsManagedOrNamed(ctx, c.names)
		if err != nil {
			t.Fatalf("EndpointsManagedOrNamed(%q): %v", c.names, err)
		}
		check(t, fmt.Sprintf("EndpointsManagedOrNamed(%q)", c.names), got, c.want)
	}
	// Claims carry the flag too: the dispatcher adds a managed endpoint's headers.
	if err := s.EndpointDelete(ctx, other.ID, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EventPublish(ctx, newEvent("evt-m", t0), []store.Delivery{newDelivery("d-m", audit.ID, "evt-m", t0)}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: t0.Add(time.Minute), Limit: 10, Lease: time.Minute, Owner: "w"})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("DeliveryClaim = %v, %v", claimed, err)
	}
	if !claimed[0].Endpoint.Managed || claimed[0].Endpoint.Name != "audit" {
		t.Errorf("claimed endpoint %+v, want the managed endpoint audit", claimed[0].Endpoint)
	}
}

func testEndpointDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	b := mustEndpoint(t, s, newEndpoint("ep-b", t0))

	leased := newDelivery("d-a-leased", a.ID, "", t0.Add(-time.Second))
	pending := newDelivery("d-a-pending", a.ID, "", t0)
	retrying := newDelivery("d-a-retrying", a.ID, "", t0.Add(time.Hour))
	retrying.Status, retrying.AttemptCount = store.DeliveryRetrying, 2
	done := newDelivery("d-a-done", a.ID, "", t0)
	done.Status, done.NextRetryAt, done.DeliveredAt, done.AttemptCount = store.DeliveryDelivered, nil, ptr(t0), 1
	dead := newDelivery("d-a-dead", a.ID, "", t0)
	dead.Status, dead.NextRetryAt, dead.DeadLetteredAt, dead.AttemptCount = store.DeliveryFailed, nil, ptr(t0), 5
	other := newDelivery("d-b-pending", b.ID, "", t0)
	ds := mustPublish(t, s, "ev-1", t0, leased, pending, retrying, done, dead, other)
	leased, pending, retrying, done, dead, other = ds[0], ds[1], ds[2], ds[3], ds[4], ds[5]

	checkClaimIDs(t, "first claim", mustClaim(t, s, t0, 1, time.Hour), leased.ID)

	at := t0.Add(time.Minute)
	if err := s.EndpointDelete(ctx, a.ID, at); err != nil {
		t.Fatalf("EndpointDelete: %v", err)
	}
	if _, err := s.EndpointGet(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EndpointGet of a deleted endpoint: err = %v, want ErrNotFound", err)
	}
	if err := s.EndpointDelete(ctx, a.ID, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a deleted endpoint again: err = %v, want ErrNotFound", err)
	}
	for _, d := range []store.Delivery{leased, pending, retrying} {
		d.Status, d.ErrorMessage, d.NextRetryAt, d.UpdatedAt = store.DeliveryFailed, "endpoint deleted", nil, at
		check(t, "waiting delivery of a deleted endpoint", mustGetDelivery(t, s, d.ID), d)
	}
	for _, d := range []store.Delivery{done, dead, other} {
		check(t, "finished or unrelated delivery", mustGetDelivery(t, s, d.ID), d)
	}
	check(t, "other endpoint", mustGetEndpoint(t, s, b.ID), b)

	hist, total, err := s.DeliveryList(ctx, store.DeliveryFilter{EndpointID: a.ID, Page: page(1, 100)})
	if err != nil || total != 5 || len(hist) != 5 {
		t.Errorf("DeliveryList of the deleted endpoint = %d deliveries, total %d, %v; want its 5 (history kept)", len(hist), total, err)
	}
	dlq, total, err := s.DeadLetterList(ctx, store.DeliveryFilter{Page: page(1, 100)})
	if err != nil || total != 1 || !slices.Equal(deliveryIDs(dlq), []string{dead.ID}) {
		t.Errorf("DeadLetterList = %q, total %d, %v; want only %s (deleting an endpoint dead-letters nothing)", deliveryIDs(dlq), total, err, dead.ID)
	}

	// The worker that held the lease reports late: the delivery stays failed.
	mustRecord(t, s, success(leased, at.Add(time.Second)))
	if got := mustGetDelivery(t, s, leased.ID); got.Status != store.DeliveryFailed || got.ErrorMessage != "endpoint deleted" {
		t.Errorf("late outcome for a delivery of a deleted endpoint: status %s %q, want failed \"endpoint deleted\"", got.Status, got.ErrorMessage)
	}

	checkClaimIDs(t, "claim after the delete", mustClaim(t, s, t0.Add(2*time.Hour), 10, time.Hour), other.ID)

	// An event fanned out to the endpoint just before it was deleted: its delivery is
	// kept, but out of the queue.
	late := mustPublish(t, s, "ev-2", at.Add(time.Second),
		newDelivery("d-late-a", a.ID, "", at.Add(time.Second)), newDelivery("d-late-b", b.ID, "", at.Add(time.Second)))
	wantLate := late[0]
	wantLate.Status, wantLate.ErrorMessage, wantLate.NextRetryAt = store.DeliveryFailed, "endpoint deleted", nil
	check(t, "delivery published to a deleted endpoint", mustGetDelivery(t, s, late[0].ID), wantLate)
	check(t, "delivery published beside it", mustGetDelivery(t, s, late[1].ID), late[1])
	st, err := s.QueueStats(ctx, at.Add(time.Hour))
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	if st.Waiting != 2 {
		t.Errorf("QueueStats.Waiting = %d, want 2 (%s and %s)", st.Waiting, other.ID, late[1].ID)
	}

	if _, err := s.DeliveryRequeue(ctx, dead.ID, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeliveryRequeue of a deleted endpoint's delivery: err = %v, want ErrNotFound", err)
	}
}

func testEventPublish(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	mustEndpoint(t, s, newEndpoint("ep-b", t0))
	zone := time.FixedZone("UTC+9", 9*3600)
	e := event.Event{ID: "ev-1", Type: "order.created", Data: []byte("{\"z\": 1,\n \"a\": \"\u00e9\"}"), Source: "ingest:shop", Time: time.Date(2025, 3, 15, 0, 0, 0, 1999, zone)}
	wantEvent := e
	wantEvent.Time = time.Date(2025, 3, 14, 15, 0, 0, 1000, time.UTC)

	da := newDelivery("d-1", "ep-a", e.ID, t0)
	da.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" // the publish's span, for the attempts
	db := newDelivery("d-2", "ep-b", e.ID, t0.Add(time.Second))
	db.Payload = []byte(`{"different":true}`)
	created, n, err := s.EventPublish(ctx, e, []store.Delivery{da, db})
	if err != nil || !created || n != 2 {
		t.Fatalf("EventPublish = %v, %d, %v; want true, 2, nil", created, n, err)
	}
	got, err := s.EventGet(ctx, e.ID)
	if err != nil {
		t.Fatalf("EventGet: %v", err)
	}
	check(t, "EventGet", got, wantEvent)
	check(t, "first delivery", mustGetDelivery(t, s, da.ID), da)
	check(t, "second delivery", mustGetDelivery(t, s, db.ID), db)
	claimed := mustClaim(t, s, t0.Add(time.Second), 10, time.Minute)
	checkClaimIDs(t, "claim after the publish", claimed, da.ID, db.ID)
	for _, c := range claimed {
		if want := map[string]string{da.ID: da.TraceParent, db.ID: ""}[c.Delivery.ID]; c.Delivery.TraceParent != want {
			t.Errorf("claimed %s: TraceParent %q, want %q", c.Delivery.ID, c.Delivery.TraceParent, want)
		}
	}

	if _, err := s.EventGet(ctx, "ev-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EventGet of an unknown ID: err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeliveryGet(ctx, "d-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeliveryGet of an unknown ID: err = %v, want ErrNotFound", err)
	}
}

// testEventPublishDefaults covers what a delivery may leave out: the event's ID, type
// and time, status pending, due at once.
func testEventPublishDefaults(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	e := newEvent("ev-1", t0)
	d := store.Delivery{ID: "d-1", EndpointID: "ep-a", Payload: []byte(`{}`), MaxAttempts: 3}
	if created, n, err := s.EventPublish(ctx, e, []store.Delivery{d}); err != nil || !created || n != 1 {
		t.Fatalf("EventPublish = %v, %d, %v; want true, 1, nil", created, n, err)
	}
	want := d
	want.EventID, want.EventType, want.Status = e.ID, e.Type, store.DeliveryPending
	want.NextRetryAt, want.CreatedAt, want.UpdatedAt = ptr(t0), t0, t0
	check(t, "delivery with defaults", mustGetDelivery(t, s, d.ID), want)
	checkClaimIDs(t, "claim at the event's time", mustClaim(t, s, t0, 10, time.Minute), d.ID)
}

func testEventPublishIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	first := mustPublish(t, s, "ev-1", t0,
		newDelivery("d-1", "ep-a", "", t0), newDelivery("d-2", "ep-a", "", t0), newDelivery("d-3", "ep-a", "", t0))

	again := newEvent("ev-1", t0.Add(time.Hour))
	again.Data = []byte(`{"second": true}`)
	created, n, err := s.EventPublish(ctx, again, []store.Delivery{newDelivery("d-4", "ep-a", "ev-1", t0), newDelivery("d-5", "ep-a", "ev-1", t0)})
	if err != nil || created || n != len(first) {
		t.Errorf("publishing ev-1 again = %v, %d, %v; want false, %d (the first publication's count), nil", created, n, err, len(first))
	}
	for _, id := range []string{"d-4", "d-5"} {
		if _, err := s.DeliveryGet(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeliveryGet(%s) of a republication: err = %v, want ErrNotFound (nothing written)", id, err)
		}
	}
	if got, err := s.EventGet(ctx, "ev-1"); err != nil {
		t.Errorf("EventGet: %v", err)
	} else {
		check(t, "event after republication", got, newEvent("ev-1", t0))
	}

	// Republishing with the same delivery IDs is a no-op too, not a conflict.
	if created, n, err := s.EventPublish(ctx, newEvent("ev-1", t0), first); err != nil || created || n != 3 {
		t.Errorf("republishing ev-1 with its own deliveries = %v, %d, %v; want false, 3, nil", created, n, err)
	}

	// An event that went to no endpoint is remembered as well.
	if created, n, err := s.EventPublish(ctx, newEvent("ev-2", t0), nil); err != nil || !created || n != 0 {
		t.Errorf("EventPublish without deliveries = %v, %d, %v; want true, 0, nil", created, n, err)
	}
	if created, n, err := s.EventPublish(ctx, newEvent("ev-2", t0), []store.Delivery{newDelivery("d-6", "ep-a", "ev-2", t0)}); err != nil || created || n != 0 {
		t.Errorf("republishing ev-2 = %v, %d, %v; want false, 0, nil", created, n, err)
	}
	if _, total, err := s.DeliveryList(ctx, store.DeliveryFilter{Page: page(1, 10)}); err != nil || total != 3 {
		t.Errorf("DeliveryList total = %d, %v; want 3", total, err)
	}
}

func testEventPublishConcurrent(t *testing.T, s store.Store) {
	const publishers = 8
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	type result struct {
		created bool
		n       int
		err     error
	}
	results := make(chan result, publishers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range publishers {
		wg.Go(func() {
			<-start
			var ds []store.Delivery
			for j := range 4 {
				ds = append(ds, newDelivery(fmt.Sprintf("d-%d-%d", i, j), "ep-a", "ev-1", t0))
			}
			created, n, err := s.EventPublish(ctx, newEvent("ev-1", t0), ds)
			results <- result{created, n, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	winners := 0
	for r := range results {
		if r.err != nil {
			t.Errorf("EventPublish: %v", r.err)
			continue
		}
		if r.created {
			winners++
		}
		if r.n != 4 {
			t.Errorf("concurrent EventPublish returned count %d, want 4", r.n)
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent publications of one event created it %d times, want once", publishers, winners)
	}
	if _, total, err := s.DeliveryList(ctx, store.DeliveryFilter{Page: page(1, 10)}); err != nil || total != 4 {
		t.Errorf("DeliveryList total = %d, %v; want 4", total, err)
	}
}

func testEventPublishAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	mustPublish(t, s, "ev-1", t0, newDelivery("d-1", "ep-a", "", t0))

	// A delivery ID already taken fails the whole publication.
	_, _, err := s.EventPublish(ctx, newEvent("ev-2", t0), []store.Delivery{newDelivery("d-2", "ep-a", "ev-2", t0), newDelivery("d-1", "ep-a", "ev-2", t0)})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("EventPublish with a taken delivery ID: err = %v, want ErrConflict", err)
	}
	_, _, err = s.EventPublish(ctx, newEvent("ev-3", t0), []store.Delivery{newDelivery("d-3", "ep-a", "ev-3", t0), newDelivery("d-3", "ep-a", "ev-3", t0)})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("EventPublish with a delivery ID twice: err = %v, want ErrConflict", err)
	}
	for _, id := range []string{"ev-2", "ev-3"} {
		if _, err := s.EventGet(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("EventGet(%s) after a failed publication: err = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"d-2", "d-3"} {
		if _, err := s.DeliveryGet(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeliveryGet(%s) after a failed publication: err = %v, want ErrNotFound", id, err)
		}
	}
	// After a failed attempt, the same event can be published.
	mustPublish(t, s, "ev-2", t0, newDelivery("d-2", "ep-a", "", t0))

	bad := map[string]func() (event.Event, []store.Delivery){
		"empty event id":   func() (event.Event, []store.Delivery) { return newEvent("", t0), nil },
		"empty event type": func() (event.Event, []store.Delivery) { e := newEvent("ev-x", t0); e.Type = ""; return e, nil },
		"zero event time":  func() (event.Event, []store.Delivery) { return newEvent("ev-x", time.Time{}), nil },
		"empty delivery id": func() (event.Event, []store.Delivery) {
			return newEvent("ev-x", t0), []store.Delivery{newDelivery("", "ep-a", "", t0)}
		},
		"no endpoint": func() (event.Event, []store.Delivery) {
			return newEvent("ev-x", t0), []store.Delivery{newDelivery("d-x", "", "", t0)}
		},
		"other event's id": func() (event.Event, []store.Delivery) {
			return newEvent("ev-x", t0), []store.Delivery{newDelivery("d-x", "ep-a", "ev-1", t0)}
		},
		"unknown status": func() (event.Event, []store.Delivery) {
			d := newDelivery("d-x", "ep-a", "", t0)
			d.Status = "lost"
			return newEvent("ev-x", t0), []store.Delivery{d}
		},
		"zero next retry time": func() (event.Event, []store.Delivery) {
			d := newDelivery("d-x", "ep-a", "", t0)
			d.NextRetryAt = &time.Time{}
			return newEvent("ev-x", t0), []store.Delivery{d}
		},
	}
	for name, f := range bad {
		e, ds := f()
		if _, _, err := s.EventPublish(ctx, e, ds); !isValidationError(err) {
			t.Errorf("EventPublish with %s: err = %v, want a validation error", name, err)
		}
	}
	if _, err := s.EventGet(ctx, "ev-x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("invalid publications stored an event: err = %v, want ErrNotFound", err)
	}
}

// testEventPublishLarge fans one event out to thousands of endpoints' worth of
// deliveries, more than one statement's worth of parameters on SQLite.
func testEventPublishLarge(t *testing.T, s store.Store) {
	const n = 2500
	ctx := context.Background()
	for i := range 5 {
		mustEndpoint(t, s, newEndpoint(fmt.Sprintf("ep-%d", i), t0))
	}
	ds := make([]store.Delivery, n)
	for i := range ds {
		ds[i] = newDelivery(fmt.Sprintf("d-%05d", i), fmt.Sprintf("ep-%d", i%5), "", t0.Add(time.Duration(i)*time.Microsecond))
	}
	ds = mustPublish(t, s, "ev-big", t0, ds...)
	if created, count, err := s.EventPublish(ctx, newEvent("ev-big", t0), nil); err != nil || created || count != n {
		t.Errorf("republishing = %v, %d, %v; want false, %d, nil", created, count, err, n)
	}
	if _, total, err := s.DeliveryList(ctx, store.DeliveryFilter{EndpointID: "ep-3", Page: page(1, 1)}); err != nil || total != n/5 {
		t.Errorf("DeliveryList(ep-3) total = %d, %v; want %d", total, err, n/5)
	}
	for _, i := range []int{0, 499, 500, 1999, n - 1} {
		check(t, fmt.Sprintf("delivery %d", i), mustGetDelivery(t, s, ds[i].ID), ds[i])
	}
	st, err := s.QueueStats(ctx, t0.Add(time.Second))
	if err != nil || st.Waiting != n || st.Due != n {
		t.Errorf("QueueStats = %+v, %v; want %d waiting and due", st, err, n)
	}
}

func testDeliveryClaimOrder(t *testing.T, s store.Store) {
	a := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	b := mustEndpoint(t, s, newEndpoint("ep-b", t0))
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	done := newDelivery("d-done", a.ID, "", at(-10))
	done.Status, done.NextRetryAt, done.DeliveredAt = store.DeliveryDelivered, nil, ptr(at(-9))
	failed := newDelivery("d-failed", a.ID, "", at(-10))
	failed.Status, failed.NextRetryAt, failed.DeadLetteredAt = store.DeliveryFailed, nil, ptr(at(-9))
	retrying := newDelivery("d-3", b.ID, "", at(-30))
	retrying.Status, retrying.NextRetryAt, retrying.AttemptCount = store.DeliveryRetrying, ptr(at(-2)), 2
	// Created (and published) in a different order from their due times.
	ds := mustPublish(t, s, "ev-1", t0,
		newDelivery("d-1", a.ID, "", at(-3)), newDelivery("d-2", b.ID, "", at(-1)), retrying,
		newDelivery("d-4", a.ID, "", at(1)), newDelivery("d-5b", b.ID, "", at(-4)), newDelivery("d-5a", a.ID, "", at(-4)),
		done, failed)

	first := mustClaim(t, s, t0, 3, time.Minute)
	checkClaimIDs(t, "first claim (oldest due first, ties by ID)", first, "d-5a", "d-5b", "d-1")
	for _, c := range first {
		var want store.Delivery
		for _, d := range ds {
			if d.ID == c.Delivery.ID {
				want = d
			}
		}
		check(t, "claimed delivery", c.Delivery, want)
		check(t, "claimed delivery's endpoint", c.Endpoint, map[string]store.Endpoint{a.ID: a, b.ID: b}[want.EndpointID])
		check(t, "claimed delivery read back (a claim is not an attempt)", mustGetDelivery(t, s, c.Delivery.ID), want)
	}
	checkClaimIDs(t, "second claim (the rest that is due)", mustClaim(t, s, t0, 10, time.Minute), "d-3", "d-2")
	checkClaimIDs(t, "third claim (nothing due)", mustClaim(t, s, t0, 10, time.Minute))
	checkClaimIDs(t, "claim when d-4 is due, to the microsecond", mustClaim(t, s, at(1), 10, time.Minute), "d-4")

	for _, p := range []store.ClaimParams{
		{Now: t0, Limit: 0, Lease: time.Minute},
		{Now: t0, Limit: 1, Lease: 0},
		{Limit: 1, Lease: time.Minute},
	} {
		if _, err := s.DeliveryClaim(context.Background(), p); !isValidationError(err) {
			t.Errorf("DeliveryClaim(%+v): err = %v, want a validation error", p, err)
		}
	}
}

func testDeliveryClaimSkips(t *testing.T, s store.Store) {
	ctx := context.Background()
	open := newEndpoint("ep-open", t0)
	open.CircuitOpenUntil, open.IsHealthy = ptr(t0.Add(time.Minute)), false
	closed := newEndpoint("ep-was-open", t0)
	closed.CircuitOpenUntil = ptr(t0.Add(-time.Second))
	inactive := newEndpoint("ep-inactive", t0)
	inactive.IsActive = false
	for _, e := range []store.Endpoint{open, closed, inactive, newEndpoint("ep-ok", t0)} {
		mustEndpoint(t, s, e)
	}
	due := t0.Add(-time.Hour)
	mustPublish(t, s, "ev-1", t0,
		newDelivery("d-open", "ep-open", "", due), newDelivery("d-was-open", "ep-was-open", "", due.Add(time.Second)),
		newDelivery("d-inactive", "ep-inactive", "", due.Add(2*time.Second)), newDelivery("d-ok", "ep-ok", "", due.Add(3*time.Second)))

	checkClaimIDs(t, "claim while a circuit is open", mustClaim(t, s, t0, 10, time.Hour), "d-was-open", "d-ok")
	checkClaimIDs(t, "claim when the open period ends", mustClaim(t, s, t0.Add(time.Minute), 10, time.Hour), "d-open")
	if _, err := s.EndpointUpdate(ctx, inactive.ID, store.EndpointPatch{IsActive: ptr(true), UpdatedAt: t0}); err != nil {
		t.Fatalf("EndpointUpdate: %v", err)
	}
	checkClaimIDs(t, "claim after reactivation", mustClaim(t, s, t0.Add(time.Minute), 10, time.Hour), "d-inactive")
}

func testDeliveryClaimLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	ds := mustPublish(t, s, "ev-1", t0, newDelivery("d-1", "ep-a", "", t0))

	lease := 30 * time.Second
	checkClaimIDs(t, "first claim", mustClaim(t, s, t0, 10, lease), "d-1")
	checkClaimIDs(t, "claim during the lease", mustClaim(t, s, t0.Add(lease-time.Microsecond), 10, lease))
	// The worker died: at the end of its lease the delivery is claimable again.
	again, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: t0.Add(lease), Limit: 10, Lease: time.Minute, Owner: "worker-2"})
	if err != nil {
		t.Fatalf("DeliveryClaim: %v", err)
	}
	checkClaimIDs(t, "claim when the lease expired", again, "d-1")
	checkClaimIDs(t, "claim during the new lease", mustClaim(t, s, t0.Add(lease+59*time.Second), 10, lease))
	check(t, "delivery after two claims", mustGetDelivery(t, s, "d-1"), ds[0])
}

// testDeliveryClaimConcurrent has several workers drain one queue: every delivery must be
// claimed exactly once.
func testDeliveryClaimConcurrent(t *testing.T, s store.Store) {
	const (
		deliveries = 500
		workers    = 8
	)
	ctx := context.Background()
	for i := range 5 {
		mustEndpoint(t, s, newEndpoint(fmt.Sprintf("ep-%d", i), t0))
	}
	ds := make([]store.Delivery, deliveries)
	for i := range ds {
		ds[i] = newDelivery(fmt.Sprintf("d-%03d", i), fmt.Sprintf("ep-%d", i%5), "", t0.Add(-time.Duration(i)*time.Millisecond))
	}
	mustPublish(t, s, "ev-1", t0, ds...)

	var (
		mu      sync.Mutex
		claimed = make(map[string]int)
		total   int
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			<-start
			for {
				got, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: t0, Limit: 7, Lease: time.Hour, Owner: fmt.Sprintf("worker-%d", w)})
				if err != nil {
					t.Errorf("DeliveryClaim: %v", err)
					return
				}
				mu.Lock()
				for _, c := range got {
					claimed[c.Delivery.ID]++
				}
				total += len(got)
				// A store that hands out leased deliveries again would never run dry.
				done := len(got) == 0 || total > 2*deliveries
				mu.Unlock()
				if done {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for _, d := range ds {
		if n := claimed[d.ID]; n != 1 {
			t.Errorf("delivery %s claimed %d times, want once", d.ID, n)
		}
	}
	if len(claimed) != deliveries {
		t.Errorf("%d distinct deliveries claimed, want %d", len(claimed), deliveries)
	}
	checkClaimIDs(t, "claim after draining", mustClaim(t, s, t0, 10, time.Hour))
}

func testDeliveryRecord(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	ds := mustPublish(t, s, "ev-1", t0,
		newDelivery("d-retry", e.ID, "", t0), newDelivery("d-ok", e.ID, "", t0), newDelivery("d-dead", e.ID, "", t0))
	checkClaimIDs(t, "claim", mustClaim(t, s, t0, 10, 10*time.Minute), "d-dead", "d-ok", "d-retry")

	at := t0.Add(time.Second)
	retry := failure(ds[0], at, 0, 0)
	retry.NextRetryAt = ptr(t0.Add(time.Minute))
	ok := success(ds[1], at)
	ok.NextRetryAt = ptr(t0.Add(time.Hour)) // ignored: a delivered delivery is never due
	dead := deadLetter(ds[2], at)
	// In this order the endpoint's count goes 1, 0, 1.
	mustRecord(t, s, retry, ok, dead)

	want := ds[0]
	want.Status, want.AttemptCount, want.NextRetryAt, want.ResponseStatusCode = store.DeliveryRetrying, 1, retry.NextRetryAt, ptr(503)
	want.ResponseBody, want.ErrorMessage, want.DurationMs, want.UpdatedAt = "busy", "HTTP 503", ptr(30), at
	check(t, "retrying delivery", mustGetDelivery(t, s, want.ID), want)

	want = ds[1]
	want.Status, want.AttemptCount, want.NextRetryAt, want.ResponseStatusCode = store.DeliveryDelivered, 1, nil, ptr(200)
	want.ResponseBody, want.DeliveredAt, want.DurationMs, want.UpdatedAt = "ok", ptr(at), ptr(12), at
	check(t, "delivered delivery", mustGetDelivery(t, s, want.ID), want)

	want = ds[2]
	want.Status, want.AttemptCount, want.NextRetryAt, want.ResponseStatusCode = store.DeliveryFailed, 5, nil, ptr(500)
	want.ResponseBody, want.ErrorMessage, want.DurationMs = "boom", "HTTP 500", ptr(40)
	want.DeadLetteredAt, want.UpdatedAt = ptr(at), at
	check(t, "dead-lettered delivery", mustGetDelivery(t, s, want.ID), want)

	e.ConsecutiveFailures, e.LastDeliveryAt, e.LastFailureAt = 1, ptr(at), ptr(at)
	check(t, "endpoint after fail, succeed, fail", mustGetEndpoint(t, s, e.ID), e)

	// The leases are released: the retry is claimable when due, long before its old
	// lease would have ended; the others left the queue.
	checkClaimIDs(t, "claim before the retry is due", mustClaim(t, s, t0.Add(59*time.Second), 10, time.Minute))
	checkClaimIDs(t, "claim when the retry is due", mustClaim(t, s, t0.Add(time.Minute), 10, time.Minute), "d-retry")

	if err := s.DeliveryRecord(ctx, nil); err != nil {
		t.Errorf("DeliveryRecord(nil): %v", err)
	}
}

// claimOne claims at `at` and checks that exactly the deliveries want come back; it
// returns the claimed deliveries.
func claimOne(t *testing.T, s store.Store, at time.Time, limit int, what string, want ...string) []store.ClaimedDelivery {
	t.Helper()
	claimed := mustClaim(t, s, at, limit, time.Minute)
	checkClaimIDs(t, what, claimed, want...)
	return claimed
}

// attempted is an outcome of claimed c: the generation its endpoint had when claimed.
func attempted(c store.ClaimedDelivery, r func(store.Delivery) store.AttemptRecord) store.AttemptRecord {
	rec := r(c.Delivery)
	rec.CircuitGeneration = c.Endpoint.CircuitGeneration
	return rec
}

func testDeliveryRecordBreaker(t *testing.T, s store.Store) {
	const threshold, resetAfter = 3, time.Minute
	e := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	var ds []store.Delivery
	for i := range 8 {
		ds = append(ds, newDelivery(fmt.Sprintf("d-%d", i), e.ID, "", t0))
	}
	mustPublish(t, s, "ev-1", t0, ds...)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	fail := func(at time.Time) func(store.Delivery) store.AttemptRecord {
		return func(d store.Delivery) store.AttemptRecord { return failure(d, at, threshold, resetAfter) }
	}
	ok := func(at time.Time) func(store.Delivery) store.AttemptRecord {
		return func(d store.Delivery) store.AttemptRecord { return success(d, at) }
	}

	// Four attempts start while the circuit is closed.
	inFlight := claimOne(t, s, t0, 4, "claim while closed", "d-0", "d-1", "d-2", "d-3")
	mustRecord(t, s, attempted(inFlight[0], fail(sec(1))), attempted(inFlight[1], fail(sec(2))))
	e.ConsecutiveFailures, e.LastFailureAt = 2, ptr(sec(2))
	check(t, "endpoint below the threshold", mustGetEndpoint(t, s, e.ID), e)

	mustRecord(t, s, attempted(inFlight[2], fail(sec(3))))
	e.ConsecutiveFailures, e.LastFailureAt, e.IsHealthy = 3, ptr(sec(3)), false
	e.CircuitOpenUntil, e.CircuitGeneration = ptr(sec(3).Add(resetAfter)), 1
	check(t, "endpoint at the threshold", mustGetEndpoint(t, s, e.ID), e)

	// The fourth attempt, made before the circuit opened, fails while it is open: it does
	// not keep the circuit open longer.
	mustRecord(t, s, attempted(inFlight[3], fail(sec(30))))
	e.LastFailureAt = ptr(sec(30))
	check(t, "endpoint after a failure recorded while open", mustGetEndpoint(t, s, e.ID), e)
	claimOne(t, s, sec(62), 10, "claim while the circuit is open")

	// Half-open: exactly one probe, however many are due and whatever the limit; the
	// endpoint is probing until the probe's lease ends, so no other claim sends more.
	probe := claimOne(t, s, sec(63), 10, "claim when the circuit half-opens", "d-4")
	e.CircuitProbing, e.CircuitOpenUntil, e.CircuitGeneration = true, ptr(sec(63).Add(time.Minute)), 2
	check(t, "endpoint with a probe out", probe[0].Endpoint, e)
	check(t, "endpoint read back with a probe out", mustGetEndpoint(t, s, e.ID), e)
	claimOne(t, s, sec(64), 10, "claim while the probe is out")

	// A stale success (an attempt from before the circuit opened) does not close it.
	mustRecord(t, s, attempted(inFlight[0], ok(sec(65))))
	e.LastDeliveryAt = ptr(sec(65))
	check(t, "endpoint after a stale success", mustGetEndpoint(t, s, e.ID), e)

	// The probe fails: the circuit opens again from then.
	mustRecord(t, s, attempted(probe[0], fail(sec(70))))
	e.ConsecutiveFailures, e.LastFailureAt, e.CircuitOpenUntil = 4, ptr(sec(70)), ptr(sec(70).Add(resetAfter))
	e.CircuitProbing, e.CircuitGeneration = false, 3
	check(t, "endpoint after a failed probe", mustGetEndpoint(t, s, e.ID), e)

	// The next probe succeeds: closed, healthy, nothing counted.
	probe = claimOne(t, s, sec(130), 10, "claim after the second open period", "d-5")
	mustRecord(t, s, attempted(probe[0], ok(sec(131))))
	e.ConsecutiveFailures, e.IsHealthy, e.CircuitOpenUntil, e.CircuitProbing = 0, true, nil, false
	e.CircuitGeneration, e.LastDeliveryAt = 5, ptr(sec(131))
	check(t, "endpoint after a successful probe", mustGetEndpoint(t, s, e.ID), e)
	claimOne(t, s, sec(132), 10, "claim once closed again (d-0..d-3 retry later)", "d-6", "d-7")

	// Without a threshold the breaker never opens.
	f := mustEndpoint(t, s, newEndpoint("ep-f", t0))
	var fs []store.Delivery
	for i := range 5 {
		fs = append(fs, newDelivery(fmt.Sprintf("f-%d", i), f.ID, "", t0))
	}
	fs = mustPublish(t, s, "ev-2", t0, fs...)
	var records []store.AttemptRecord
	for _, d := range fs {
		records = append(records, failure(d, sec(5), 0, resetAfter))
	}
	mustRecord(t, s, records...)
	f.ConsecutiveFailures, f.LastFailureAt = 5, ptr(sec(5))
	check(t, "endpoint without a breaker threshold", mustGetEndpoint(t, s, f.ID), f)

	// One batch for one endpoint applies in order: succeed, fail, fail opens the circuit,
	// and the failure after that, from the same generation, is not counted.
	g := mustEndpoint(t, s, newEndpoint("ep-g", t0))
	var gs []store.Delivery
	for i := range 4 {
		gs = append(gs, newDelivery(fmt.Sprintf("g-%d", i), g.ID, "", t0))
	}
	gs = mustPublish(t, s, "ev-3", t0, gs...)
	mustRecord(t, s, success(gs[0], sec(1)), failure(gs[1], sec(2), 2, resetAfter),
		failure(gs[2], sec(3), 2, resetAfter), failure(gs[3], sec(4), 2, resetAfter))
	g.ConsecutiveFailures, g.LastFailureAt, g.LastDeliveryAt = 2, ptr(sec(4)), ptr(sec(1))
	g.IsHealthy, g.CircuitOpenUntil, g.CircuitGeneration = false, ptr(sec(3).Add(resetAfter)), 1
	check(t, "endpoint after one batch of mixed outcomes", mustGetEndpoint(t, s, g.ID), g)
}

// testDeliveryRecordBreakerWindow: with a window, the failures less than the window old
// count, successes do not erase them, and only reaching the count opens the circuit.
func testDeliveryRecordBreakerWindow(t *testing.T, s store.Store) {
	const threshold, window, resetAfter = 3, time.Minute, 5 * time.Minute
	e := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	var ds []store.Delivery
	for i := range 6 {
		ds = append(ds, newDelivery(fmt.Sprintf("d-%d", i), e.ID, "", t0))
	}
	ds = mustPublish(t, s, "ev-1", t0, ds...)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	fail := func(d store.Delivery, at time.Time) store.AttemptRecord {
		r := failure(d, at, threshold, resetAfter)
		r.BreakerWindow = window
		return r
	}

	mustRecord(t, s, fail(ds[0], sec(0)), fail(ds[1], sec(30)), success(ds[2], sec(40)))
	e.ConsecutiveFailures, e.LastFailureAt, e.LastDeliveryAt = 0, ptr(sec(30)), ptr(sec(40))
	e.RecentFailures = []time.Time{sec(0), sec(30)}
	check(t, "endpoint with two failures in the window and a success", mustGetEndpoint(t, s, e.ID), e)

	// At 60 s the first failure is exactly a window old: it has left (the window is
	// (now-1m, now]), so two failures count.
	mustRecord(t, s, fail(ds[3], sec(60)))
	e.ConsecutiveFailures, e.LastFailureAt, e.RecentFailures = 1, ptr(sec(60)), []time.Time{sec(30), sec(60)}
	check(t, "endpoint when the oldest failure left the window", mustGetEndpoint(t, s, e.ID), e)

	mustRecord(t, s, fail(ds[4], sec(61)))
	e.ConsecutiveFailures, e.LastFailureAt, e.RecentFailures = 2, ptr(sec(61)), nil
	e.IsHealthy, e.CircuitOpenUntil, e.CircuitGeneration = false, ptr(sec(61).Add(resetAfter)), 1
	check(t, "endpoint with three failures in the window", mustGetEndpoint(t, s, e.ID), e)
}

// testDeliveryClaimProbeConcurrent: many claimers at once find an endpoint half-open;
// exactly Probes deliveries go out, in total.
func testDeliveryClaimProbeConcurrent(t *testing.T, s store.Store) {
	for _, probes := range []int{0, 2} {
		ep := newEndpoint(fmt.Sprintf("ep-%d", probes), t0)
		ep.IsHealthy, ep.CircuitOpenUntil, ep.CircuitGeneration = false, ptr(t0.Add(-time.Second)), 1
		mustEndpoint(t, s, ep)
		var ds []store.Delivery
		for i := range 20 {
			ds = append(ds, newDelivery(fmt.Sprintf("d-%d-%02d", probes, i), ep.ID, "", t0.Add(-time.Duration(20-i)*time.Second)))
		}
		mustPublish(t, s, fmt.Sprint("ev-", probes), t0, ds...)

		var (
			mu      sync.Mutex
			claimed []store.ClaimedDelivery
			wg      sync.WaitGroup
			start   = make(chan struct{})
		)
		for w := range 8 {
			wg.Go(func() {
				<-start
				got, err := s.DeliveryClaim(context.Background(), store.ClaimParams{Now: t0, Limit: 10, Lease: time.Minute, Owner: fmt.Sprint("worker-", w), Probes: probes})
				if err != nil {
					t.Errorf("DeliveryClaim: %v", err)
				}
				mu.Lock()
				claimed = append(claimed, got...)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		want := max(probes, 1)
		if len(claimed) != want {
			t.Errorf("Probes %d: concurrent claims of a half-open endpoint took %q, want the %d oldest", probes, claimedIDs(claimed), want)
			continue
		}
		for i, c := range claimed {
			if c.Endpoint.CircuitGeneration != 2 || !c.Endpoint.CircuitProbing {
				t.Errorf("probe %s claimed with its endpoint at generation %d, probing %v; want 2, true", c.Delivery.ID, c.Endpoint.CircuitGeneration, c.Endpoint.CircuitProbing)
			}
			if c.Delivery.ID != ds[i].ID && c.Delivery.ID != ds[len(claimed)-1-i].ID {
				t.Errorf("probe %s is not one of the oldest due", c.Delivery.ID)
			}
		}
	}
}

// testDeliveryClaimPerEndpoint: a claim takes no more of an endpoint than the claimer's
// per-endpoint bound leaves, skipping over deliveries to endpoints at the bound.
func testDeliveryClaimPerEndpoint(t *testing.T, s store.Store) {
	var ds []store.Delivery
	for _, ep := range []string{"ep-a", "ep-b", "ep-c"} {
		mustEndpoint(t, s, newEndpoint(ep, t0))
	}
	// ep-b's deliveries come first, then a, c, a, c, …
	for i := range 5 {
		ds = append(ds, newDelivery(fmt.Sprintf("b-%d", i), "ep-b", "", t0.Add(time.Duration(-100+i)*time.Second)))
		ds = append(ds, newDelivery(fmt.Sprintf("a-%d", i), "ep-a", "", t0.Add(time.Duration(2*i)*time.Millisecond)))
		ds = append(ds, newDelivery(fmt.Sprintf("c-%d", i), "ep-c", "", t0.Add(time.Duration(2*i+1)*time.Millisecond)))
	}
	mustPublish(t, s, "ev-1", t0, ds...)
	now := t0.Add(time.Second)
	p := store.ClaimParams{Now: now, Limit: 10, Lease: time.Minute, Owner: "w", PerEndpoint: 2, InFlight: map[string]int{"ep-a": 1, "ep-b": 2}}
	got, err := s.DeliveryClaim(context.Background(), p)
	if err != nil {
		t.Fatalf("DeliveryClaim: %v", err)
	}
	checkClaimIDs(t, "claim with ep-b at its bound and ep-a one short", got, "a-0", "c-0", "c-1")

	p.Limit, p.InFlight = 2, nil
	got, err = s.DeliveryClaim(context.Background(), p)
	if err != nil {
		t.Fatalf("DeliveryClaim: %v", err)
	}
	checkClaimIDs(t, "claim with nothing in flight, limit 2", got, "b-0", "b-1")
	for _, bad := range []store.ClaimParams{
		{Now: now, Limit: 1, Lease: time.Minute, PerEndpoint: -1},
		{Now: now, Limit: 1, Lease: time.Minute, Probes: -1},
		{Now: now, Limit: 1, Lease: time.Minute, PerEndpoint: 1, InFlight: map[string]int{"ep-a": -1}},
	} {
		if _, err := s.DeliveryClaim(context.Background(), bad); !isValidationError(err) {
			t.Errorf("DeliveryClaim(%+v): err = %v, want a validation error", bad, err)
		}
	}
}

func testDeliveryRecordDisable(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := mustEndpoint(t, s, newEndpoint("ep-gone", t0))
	keep := mustEndpoint(t, s, newEndpoint("ep-keep", t0))
	ds := mustPublish(t, s, "ev-1", t0, newDelivery("d-1", e.ID, "", t0), newDelivery("d-2", e.ID, "", t0.Add(time.Second)),
		newDelivery("d-3", keep.ID, "", t0))

	at := t0.Add(time.Minute)
	gone := deadLetter(ds[0], at)
	gone.ResponseStatusCode, gone.ErrorMessage = ptr(410), "HTTP 410 Gone"
	gone.DisableEndpoint, gone.DisabledReason = true, "410 Gone"
	gone.BreakerThreshold, gone.BreakerResetAfter = 5, time.Minute
	mustRecord(t, s, gone)

	e.IsActive, e.DisabledReason, e.UpdatedAt = false, "410 Gone", at
	e.ConsecutiveFailures, e.LastFailureAt = 1, ptr(at)
	check(t, "endpoint after 410 Gone", mustGetEndpoint(t, s, e.ID), e)
	active, err := s.EndpointsActive(ctx)
	if err != nil {
		t.Fatalf("EndpointsActive: %v", err)
	}
	if got := endpointIDs(active); !slices.Equal(got, []string{keep.ID}) {
		t.Errorf("EndpointsActive = %q, want only %s", got, keep.ID)
	}
	checkClaimIDs(t, "claim after the endpoint was disabled", mustClaim(t, s, at, 10, time.Minute), "d-3")
}

// testDeliveryRecordStale: a worker whose lease expired reports after another worker
// delivered; the delivery stays delivered.
func testDeliveryRecordStale(t *testing.T, s store.Store) {
	e := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	ds := mustPublish(t, s, "ev-1", t0, newDelivery("d-1", e.ID, "", t0))
	checkClaimIDs(t, "first claim", mustClaim(t, s, t0, 1, time.Minute), "d-1")
	checkClaimIDs(t, "claim after the lease expired", mustClaim(t, s, t0.Add(time.Minute), 1, time.Minute), "d-1")
	mustRecord(t, s, success(ds[0], t0.Add(70*time.Second)))
	mustRecord(t, s, failure(ds[0], t0.Add(80*time.Second), 0, 0))
	if got := mustGetDelivery(t, s, "d-1"); got.Status != store.DeliveryDelivered || got.NextRetryAt != nil {
		t.Errorf("delivery after a stale failure = %s due %v, want delivered and never due", got.Status, got.NextRetryAt)
	}
	// The stale attempt still happened, and the endpoint's health counts it.
	if got := mustGetEndpoint(t, s, e.ID); got.ConsecutiveFailures != 1 {
		t.Errorf("ConsecutiveFailures = %d, want 1", got.ConsecutiveFailures)
	}
}

// testDeliveryRecordConcurrent: failures recorded at once by several workers all count
// (the increment happens in SQL), and batches touching two endpoints in either order do
// not deadlock.
func testDeliveryRecordConcurrent(t *testing.T, s store.Store) {
	const (
		workers = 8
		batches = 5
	)
	ctx := context.Background()
	one := mustEndpoint(t, s, newEndpoint("ep-1", t0))
	two := mustEndpoint(t, s, newEndpoint("ep-2", t0))
	var ds []store.Delivery
	for w := range workers {
		for b := range batches {
			for _, ep := range []string{one.ID, two.ID} {
				for k := range 2 {
					ds = append(ds, newDelivery(fmt.Sprintf("d-%d-%d-%s-%d", w, b, ep, k), ep, "", t0))
				}
			}
		}
	}
	ds = mustPublish(t, s, "ev-1", t0, ds...)

	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		mine := ds[w*batches*4 : (w+1)*batches*4]
		wg.Go(func() {
			<-start
			for b := range batches {
				var records []store.AttemptRecord
				for _, d := range mine[b*4 : (b+1)*4] {
					records = append(records, failure(d, t0.Add(time.Second), 1000, time.Minute))
				}
				if w%2 == 1 {
					slices.Reverse(records)
				}
				if err := s.DeliveryRecord(ctx, records); err != nil {
					t.Errorf("DeliveryRecord: %v", err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for _, e := range []store.Endpoint{one, two} {
		if got := mustGetEndpoint(t, s, e.ID); got.ConsecutiveFailures != workers*batches*2 {
			t.Errorf("endpoint %s: ConsecutiveFailures = %d after %d concurrent failures", e.ID, got.ConsecutiveFailures, workers*batches*2)
		}
	}
	if _, total, err := s.DeliveryList(ctx, store.DeliveryFilter{Status: store.DeliveryRetrying, Page: page(1, 1)}); err != nil || total != len(ds) {
		t.Errorf("retrying deliveries = %d, %v; want %d", total, err, len(ds))
	}
}

func testDeliveryRecordInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	ds := mustPublish(t, s, "ev-1", t0, newDelivery("d-1", e.ID, "", t0), newDelivery("d-2", e.ID, "", t0))
	valid := failure(ds[0], t0, 0, 0)
	bad := map[string]func(r *store.AttemptRecord){
		"pending outcome":    func(r *store.AttemptRecord) { r.Status = store.DeliveryPending },
		"unknown status":     func(r *store.AttemptRecord) { r.Status = "lost" },
		"retry without time": func(r *store.AttemptRecord) { r.NextRetryAt = nil },
		"zero time":          func(r *store.AttemptRecord) { r.At = time.Time{} },
		"no delivery":        func(r *store.AttemptRecord) { r.DeliveryID = "" },
		"no endpoint":        func(r *store.AttemptRecord) { r.EndpointID = "" },
	}
	for name, spoil := range bad {
		r := failure(ds[1], t0, 0, 0)
		spoil(&r)
		if err := s.DeliveryRecord(ctx, []store.AttemptRecord{valid, r}); !isValidationError(err) {
			t.Errorf("DeliveryRecord with %s: err = %v, want a validation error", name, err)
		}
	}
	check(t, "delivery after rejected batches", mustGetDelivery(t, s, ds[0].ID), ds[0])
	check(t, "endpoint after rejected batches", mustGetEndpoint(t, s, e.ID), e)
}

// testDeliveryRecordText: a response body cut at a byte limit (or a binary one) is not
// valid UTF-8 and may hold NUL. Such an outcome must still be recorded (PostgreSQL's text
// refuses both), the same way on every backend.
func testDeliveryRecordText(t *testing.T, s store.Store) {
	e := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	ds := mustPublish(t, s, "ev-1", t0, newDelivery("d-1", e.ID, "", t0))
	r := failure(ds[0], t0, 0, 0)
	r.ResponseBody, r.ErrorMessage = "caf\xc3 \x00end", "read: \xff\xfe"
	mustRecord(t, s, r)
	got := mustGetDelivery(t, s, "d-1")
	if want := "caf\uFFFD \uFFFDend"; got.ResponseBody != want {
		t.Errorf("ResponseBody = %q, want %q", got.ResponseBody, want)
	}
	if want := "read: \uFFFD"; got.ErrorMessage != want {
		t.Errorf("ErrorMessage = %q, want %q", got.ErrorMessage, want)
	}
}

func testDeliveryRequeue(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := mustEndpoint(t, s, newEndpoint("ep-a", t0))
	ds := mustPublish(t, s, "ev-1", t0, newDelivery("d-dead", e.ID, "", t0), newDelivery("d-done", e.ID, "", t0))
	failedAt := t0.Add(time.Second)
	mustRecord(t, s, deadLetter(ds[0], failedAt), success(ds[1], failedAt))

	at := t0.Add(time.Hour)
	got, err := s.DeliveryRequeue(ctx, "d-dead", at)
	if err != nil {
		t.Fatalf("DeliveryRequeue: %v", err)
	}
	want := ds[0]
	want.Status, want.AttemptCount, want.NextRetryAt, want.DeadLetteredAt, want.UpdatedAt = store.DeliveryPending, 0, ptr(at), nil, at
	// The last attempt's details stay until the next attempt replaces them.
	want.ResponseStatusCode, want.ResponseBody, want.ErrorMessage, want.DurationMs = ptr(500), "boom", "HTTP 500", ptr(40)
	check(t, "DeliveryRequeue result", got, want)
	check(t, "requeued delivery", mustGetDelivery(t, s, "d-dead"), want)
	if _, total, err := s.DeadLetterList(ctx, store.DeliveryFilter{Page: page(1, 10)}); err != nil || total != 0 {
		t.Errorf("DeadLetterList total after replay = %d, %v; want 0", total, err)
	}

	// A manual resend of a delivered delivery.
	got, err = s.DeliveryRequeue(ctx, "d-done", at)
	if err != nil {
		t.Fatalf("DeliveryRequeue(delivered): %v", err)
	}
	if got.Status != store.DeliveryPending || got.AttemptCount != 0 || got.NextRetryAt == nil || !got.NextRetryAt.Equal(at) {
		t.Errorf("requeued delivered delivery = %s, %d attempts, due %v; want pending, 0, %v", got.Status, got.AttemptCount, got.NextRetryAt, at)
	}
	checkClaimIDs(t, "claim before the requeue time", mustClaim(t, s, at.Add(-time.Second), 10, time.Minute))
	checkClaimIDs(t, "claim at the requeue time", mustClaim(t, s, at, 10, time.Minute), "d-dead", "d-done")

	if _, err := s.DeliveryRequeue(ctx, "d-unknown", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeliveryRequeue of an unknown ID: err = %v, want ErrNotFound", err)
	}
}

func testDeliveryList(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	mustEndpoint(t, s, newEndpoint("ep-b", t0))
	mk := func(id, endpoint string, status store.DeliveryStatus, sec int) store.Delivery {
		d := newDelivery(id, endpoint, "", t0.Add(time.Duration(sec)*time.Second))
		d.Status = status
		if !(status == store.DeliveryPending || status == store.DeliveryRetrying) {
			d.NextRetryAt = nil
		}
		return d
	}
	mustPublish(t, s, "ev-1", t0,
		mk("a1", "ep-a", store.DeliveryPending, 1), mk("a2", "ep-a", store.DeliveryPending, 2),
		mk("a3", "ep-a", store.DeliveryDelivered, 3), mk("a4", "ep-a", store.DeliveryFailed, 4),
		mk("b1", "ep-b", store.DeliveryPending, 5), mk("b2", "ep-b", store.DeliveryRetrying, 6),
		mk("b3", "ep-b", store.DeliveryDelivered, 6)) // ties with b2: newest first, then ID descending

	for _, c := range []struct {
		filter store.DeliveryFilter
		want   []string
		total  int
	}{
		{store.DeliveryFilter{Page: page(1, 3)}, []string{"b3", "b2", "b1"}, 7},
		{store.DeliveryFilter{Page: page(2, 3)}, []string{"a4", "a3", "a2"}, 7},
		{store.DeliveryFilter{Page: page(3, 3)}, []string{"a1"}, 7},
		{store.DeliveryFilter{Page: page(4, 3)}, nil, 7},
		{store.DeliveryFilter{EndpointID: "ep-a", Page: page(1, 10)}, []string{"a4", "a3", "a2", "a1"}, 4},
		{store.DeliveryFilter{Status: store.DeliveryPending, Page: page(1, 2)}, []string{"b1", "a2"}, 3},
		{store.DeliveryFilter{EndpointID: "ep-a", Status: store.DeliveryPending, Page: page(1, 10)}, []string{"a2", "a1"}, 2},
		{store.DeliveryFilter{EndpointID: "ep-b", Status: store.DeliveryDelivered, Page: page(1, 10)}, []string{"b3"}, 1},
		{store.DeliveryFilter{EndpointID: "ep-unknown", Page: page(1, 10)}, nil, 0},
	} {
		ds, total, err := s.DeliveryList(ctx, c.filter)
		if err != nil {
			t.Fatalf("DeliveryList(%+v): %v", c.filter, err)
		}
		if got := deliveryIDs(ds); !slices.Equal(got, c.want) || total != c.total {
			t.Errorf("DeliveryList(%+v) = %q, total %d; want %q, total %d", c.filter, got, total, c.want, c.total)
		}
	}
	ds, _, err := s.DeliveryList(ctx, store.DeliveryFilter{EndpointID: "ep-a", Page: page(1, 1)})
	if err != nil || len(ds) != 1 {
		t.Fatalf("DeliveryList = %v, %v", ds, err)
	}
	check(t, "listed delivery", ds[0], mustGetDelivery(t, s, "a4"))
	for _, p := range []store.Page{page(0, 10), page(1, 0), page(1, 101)} {
		if _, _, err := s.DeliveryList(ctx, store.DeliveryFilter{Page: p}); !isValidationError(err) {
			t.Errorf("DeliveryList(%+v): err = %v, want a validation error", p, err)
		}
	}
}

func testDeadLetters(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	mustEndpoint(t, s, newEndpoint("ep-b", t0))
	// A failed delivery without a dead-letter mark (its endpoint went away) is no dead letter.
	unmarked := newDelivery("d-unmarked", "ep-a", "", t0)
	unmarked.Status, unmarked.NextRetryAt = store.DeliveryFailed, nil
	ds := mustPublish(t, s, "ev-1", t0, newDelivery("x1", "ep-a", "", t0), newDelivery("x2", "ep-a", "", t0),
		newDelivery("x3", "ep-b", "", t0), newDelivery("d-pending", "ep-a", "", t0), unmarked)
	hour := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	mustRecord(t, s, deadLetter(ds[1], hour(2)), deadLetter(ds[0], hour(1)), deadLetter(ds[2], hour(3)))

	for _, c := range []struct {
		filter store.DeliveryFilter
		want   []string
		total  int
	}{
		{store.DeliveryFilter{Page: page(1, 2)}, []string{"x3", "x2"}, 3},
		{store.DeliveryFilter{Page: page(2, 2)}, []string{"x1"}, 3},
		{store.DeliveryFilter{EndpointID: "ep-a", Page: page(1, 10)}, []string{"x2", "x1"}, 2},
		{store.DeliveryFilter{Status: store.DeliveryDelivered, Page: page(1, 10)}, []string{"x3", "x2", "x1"}, 3}, // status is ignored
	} {
		got, total, err := s.DeadLetterList(ctx, c.filter)
		if err != nil {
			t.Fatalf("DeadLetterList(%+v): %v", c.filter, err)
		}
		if ids := deliveryIDs(got); !slices.Equal(ids, c.want) || total != c.total {
			t.Errorf("DeadLetterList(%+v) = %q, total %d; want %q, total %d", c.filter, ids, total, c.want, c.total)
		}
	}
	if _, _, err := s.DeadLetterList(ctx, store.DeliveryFilter{Page: page(1, 1000)}); !isValidationError(err) {
		t.Errorf("DeadLetterList with limit 1000: err = %v, want a validation error", err)
	}

	// Retention: marks before the cutoff go, a mark exactly at it stays.
	n, err := s.DeadLetterPurge(ctx, hour(2))
	if err != nil || n != 1 {
		t.Errorf("DeadLetterPurge = %d, %v; want 1, nil", n, err)
	}
	if _, err := s.DeliveryGet(ctx, "x1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeliveryGet of a purged dead letter: err = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"x2", "x3", "d-pending", "d-unmarked"} {
		mustGetDelivery(t, s, id)
	}
	if n, err := s.DeadLetterPurge(ctx, hour(2)); err != nil || n != 0 {
		t.Errorf("second DeadLetterPurge = %d, %v; want 0, nil", n, err)
	}
	if _, total, err := s.DeadLetterList(ctx, store.DeliveryFilter{Page: page(1, 10)}); err != nil || total != 2 {
		t.Errorf("DeadLetterList total after the purge = %d, %v; want 2", total, err)
	}
	if n, err := s.DeadLetterPurge(ctx, hour(100)); err != nil || n != 2 {
		t.Errorf("DeadLetterPurge of everything = %d, %v; want 2, nil", n, err)
	}
}

func testQueueStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	st, err := s.QueueStats(ctx, t0)
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	check(t, "QueueStats of an empty queue", st, store.QueueStats{})

	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	for i, until := range []time.Time{t0.Add(time.Hour), t0.Add(-time.Hour)} { // open, half-open
		ep := newEndpoint(fmt.Sprint("ep-open-", i), t0)
		ep.CircuitOpenUntil = &until
		mustEndpoint(t, s, ep)
	}
	off := newEndpoint("ep-off", t0)
	off.CircuitOpenUntil, off.IsActive = ptr(t0.Add(time.Hour)), false
	mustEndpoint(t, s, off)
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	retrying := newDelivery("d-retrying", "ep-a", "", minute(-10))
	retrying.Status, retrying.NextRetryAt = store.DeliveryRetrying, ptr(minute(-1))
	done := newDelivery("d-done", "ep-a", "", minute(-10))
	done.Status, done.NextRetryAt = store.DeliveryDelivered, nil
	unmarked := newDelivery("d-failed", "ep-a", "", minute(-10))
	unmarked.Status, unmarked.NextRetryAt = store.DeliveryFailed, nil
	dead := newDelivery("d-dead", "ep-a", "", minute(-10))
	dead.Status, dead.NextRetryAt, dead.DeadLetteredAt = store.DeliveryFailed, nil, ptr(minute(-5))
	mustPublish(t, s, "ev-1", minute(-10),
		newDelivery("d-leased", "ep-a", "", minute(-3)), newDelivery("d-due", "ep-a", "", minute(-2)),
		newDelivery("d-later", "ep-a", "", minute(1)), retrying, done, unmarked, dead)
	checkClaimIDs(t, "claim", mustClaim(t, s, t0, 1, 10*time.Minute), "d-leased")

	st, err = s.QueueStats(ctx, t0)
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	// Due: d-due and d-retrying; d-leased is in flight, d-later not yet due.
	check(t, "QueueStats", st, store.QueueStats{Due: 2, Waiting: 4, OldestDueSince: ptr(minute(-2)), DeadLetters: 1, OpenCircuits: 2})

	// Once the lease has expired and d-later is due, everything waiting is due.
	st, err = s.QueueStats(ctx, minute(10))
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	check(t, "QueueStats after the lease", st, store.QueueStats{Due: 4, Waiting: 4, OldestDueSince: ptr(minute(-3)), DeadLetters: 1, OpenCircuits: 2})
}

func testInboundRecord(t *testing.T, s store.Store) {
	ctx := context.Background()
	msg := func(id, source, provider string) store.InboundMessage {
		return store.InboundMessage{ID: id, Source: source, ProviderID: provider, EventType: "push",
			Payload: []byte("payload=%7B%7D"), Headers: []byte(`{"X-GitHub-Event":"push"}`), ReceivedAt: t0, Verification: "github"}
	}
	for _, c := range []struct {
		m    store.InboundMessage
		want bool
	}{
		{msg("in-1", "github", "delivery-1"), true},
		{msg("in-2", "github", "delivery-1"), false}, // the provider redelivered
		{msg("in-1", "github", "delivery-1"), false}, // the same message again
		{msg("in-3", "stripe", "delivery-1"), true},  // another source may use the same ID
		{msg("in-4", "github", "delivery-2"), true},
	} {
		created, err := s.InboundRecord(ctx, c.m)
		if err != nil || created != c.want {
			t.Errorf("InboundRecord(%s, %s/%s) = %v, %v; want %v, nil", c.m.ID, c.m.Source, c.m.ProviderID, created, err, c.want)
		}
	}
	got, err := s.InboundGet(ctx, "github", "delivery-1")
	check(t, "InboundGet of a redelivered message (the first one stored)", got, msg("in-1", "github", "delivery-1"))
	if err != nil {
		t.Errorf("InboundGet: %v", err)
	}
	for _, key := range [][2]string{{"github", "delivery-9"}, {"gitlab", "delivery-1"}} {
		if _, err := s.InboundGet(ctx, key[0], key[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("InboundGet(%s, %s): err = %v, want ErrNotFound", key[0], key[1], err)
		}
	}
	if _, err := s.InboundRecord(ctx, msg("in-1", "github", "delivery-3")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("InboundRecord with a taken ID: err = %v, want ErrConflict", err)
	}
	for name, m := range map[string]store.InboundMessage{
		"empty id":          msg("", "github", "delivery-9"),
		"empty source":      msg("in-9", "", "delivery-9"),
		"empty provider id": msg("in-9", "github", ""),
		"zero time": func() store.InboundMessage {
			m := msg("in-9", "github", "delivery-9")
			m.ReceivedAt = time.Time{}
			return m
		}(),
	} {
		if _, err := s.InboundRecord(ctx, m); !isValidationError(err) {
			t.Errorf("InboundRecord with %s: err = %v, want a validation error", name, err)
		}
	}
	if created, err := s.InboundRecord(ctx, msg("in-9", "github", "delivery-9")); err != nil || !created {
		t.Errorf("InboundRecord after rejected ones = %v, %v; want true, nil", created, err)
	}
	// Header values need not be UTF-8; the message is stored, and deduplicated, anyway.
	odd := msg("in-10", "github", "delivery-\xff\x00")
	odd.EventType = "push\xfe"
	for _, want := range []bool{true, false} {
		if created, err := s.InboundRecord(ctx, odd); err != nil || created != want {
			t.Errorf("InboundRecord with a non-UTF-8 provider ID = %v, %v; want %v, nil", created, err, want)
		}
		odd.ID = "in-11"
	}
	if got, err := s.InboundGet(ctx, "github", odd.ProviderID); err != nil || got.ID != "in-10" {
		t.Errorf("InboundGet with a non-UTF-8 provider ID = %s, %v; want in-10", got.ID, err)
	}
}

func testInboundList(t *testing.T, s store.Store) {
	ctx := context.Background()
	msg := func(id, source string, at time.Time) store.InboundMessage {
		return store.InboundMessage{ID: id, Source: source, ProviderID: "p-" + id, EventType: source + ".event",
			Payload: []byte(`{"id":"` + id + `"}`), Headers: []byte(`{}`), ReceivedAt: at, Verification: "hmac"}
	}
	// in04 and in05 arrive in the same microsecond: the id orders them.
	all := []store.InboundMessage{
		msg("in01", "github", t0),
		msg("in02", "stripe", t0.Add(time.Minute)),
		msg("in03", "github", t0.Add(2*time.Minute)),
		msg("in04", "github", t0.Add(3*time.Minute)),
		msg("in05", "github", t0.Add(3*time.Minute)),
		msg("in06", "stripe", t0.Add(4*time.Minute)),
	}
	for _, m := range all {
		if created, err := s.InboundRecord(ctx, m); err != nil || !created {
			t.Fatalf("InboundRecord(%s) = %v, %v", m.ID, created, err)
		}
	}
	ids := func(ms []store.InboundMessage) []string {
		out := []string{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	list := func(f store.InboundFilter) []string {
		t.Helper()
		got, err := s.InboundList(ctx, f)
		if err != nil {
			t.Fatalf("InboundList(%+v): %v", f, err)
		}
		return ids(got)
	}
	got, err := s.InboundList(ctx, store.InboundFilter{Limit: 100})
	if err != nil {
		t.Fatalf("InboundList: %v", err)
	}
	want := slices.Clone(all)
	slices.Reverse(want)
	check(t, "InboundList of every source (newest first, whole messages)", got, want)

	// Paging one source with the cursor: each page starts after the previous one's last.
	var pages [][]string
	for before := ""; ; {
		page := list(store.InboundFilter{Source: "github", Before: before, Limit: 2})
		if len(page) == 0 {
			break
		}
		pages = append(pages, page)
		before = page[len(page)-1]
	}
	check(t, "pages of github", pages, [][]string{{"in05", "in04"}, {"in03", "in01"}})
	check(t, "stripe after in06", list(store.InboundFilter{Source: "stripe", Before: "in06", Limit: 10}), []string{"in02"})
	check(t, "every source after in04", list(store.InboundFilter{Before: "in04", Limit: 10}), []string{"in03", "in02", "in01"})
	// A message arriving while a client pages does not shift the next page.
	if _, err := s.InboundRecord(ctx, msg("in07", "github", t0.Add(5*time.Minute))); err != nil {
		t.Fatal(err)
	}
	check(t, "github after in05, once in07 arrived", list(store.InboundFilter{Source: "github", Before: "in05", Limit: 10}), []string{"in04", "in03", "in01"})
	check(t, "an unknown source", list(store.InboundFilter{Source: "gitlab", Limit: 10}), []string{})
	check(t, "a source no write could store", list(store.InboundFilter{Source: "git\x00hub", Limit: 10}), []string{})

	for name, f := range map[string]store.InboundFilter{
		"an unknown cursor":               {Before: "in99", Limit: 10},
		"a cursor of another source":      {Source: "stripe", Before: "in01", Limit: 10},
		"a cursor no write could store":   {Before: "in\x0001", Limit: 10},
		"a cursor and an unstored source": {Source: "git\x00hub", Before: "in01", Limit: 10},
	} {
		if _, err := s.InboundList(ctx, f); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("InboundList with %s: err = %v, want ErrNotFound", name, err)
		}
	}
	for _, limit := range []int{0, -1, 101} {
		if _, err := s.InboundList(ctx, store.InboundFilter{Limit: limit}); !isValidationError(err) {
			t.Errorf("InboundList with limit %d: err = %v, want a validation error", limit, err)
		}
	}

	m, err := s.InboundGetByID(ctx, "in04")
	check(t, "InboundGetByID", m, all[3])
	if err != nil {
		t.Errorf("InboundGetByID: %v", err)
	}
	for _, id := range []string{"in99", "in\x0004", ""} {
		if _, err := s.InboundGetByID(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("InboundGetByID(%q): err = %v, want ErrNotFound", id, err)
		}
	}
}

func testInboundRecordConcurrent(t *testing.T, s store.Store) {
	const receivers = 10
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		start   = make(chan struct{})
	)
	for i := range receivers {
		wg.Go(func() {
			<-start
			ok, err := s.InboundRecord(ctx, store.InboundMessage{ID: fmt.Sprintf("in-%d", i), Source: "github",
				ProviderID: "delivery-1", Payload: []byte("{}"), Headers: []byte("{}"), ReceivedAt: t0})
			if err != nil {
				t.Errorf("InboundRecord: %v", err)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if created != 1 {
		t.Errorf("%d concurrent InboundRecord calls for one provider message created %d, want 1", receivers, created)
	}
}

func testWebhookCanceledContext(t *testing.T, s store.Store) {
	mustEndpoint(t, s, newEndpoint("ep-a", t0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.EventPublish(ctx, newEvent("ev-1", t0), []store.Delivery{newDelivery("d-1", "ep-a", "ev-1", t0)}); err == nil {
		t.Error("EventPublish with a canceled context succeeded")
	}
	if _, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: t0, Limit: 1, Lease: time.Minute}); err == nil {
		t.Error("DeliveryClaim with a canceled context succeeded")
	}
	if _, err := s.EventGet(context.Background(), "ev-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EventPublish with a canceled context stored the event: err = %v", err)
	}
}
