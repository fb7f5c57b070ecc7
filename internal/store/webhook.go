package store

import (
	"context"
	"time"

	"github.com/junctionhq/junction/internal/event"
)

// Webhook storage: endpoints, published events, the durable delivery queue (with its
// dead-letter part) and received inbound messages. Every accepted event and delivery is
// written before the caller is answered, so nothing acknowledged is lost in a crash.

// Endpoint is a customer's webhook endpoint (seed 003's WebhookEndpoint).
type Endpoint struct {
	ID     string
	Name   string
	URL    string
	Secret string // whsec_<base64>; signs deliveries
	// PreviousSecret still signs deliveries (beside Secret) until PreviousSecretUntil,
	// after a rotation, so receivers can switch over.
	PreviousSecret      string
	PreviousSecretUntil *time.Time
	Events              []string // event types, exact ("order.created") or wildcard ("order.*", "*")
	IsActive            bool
	IsHealthy           bool // false while the circuit is not closed
	ConsecutiveFailures int

	// The endpoint's circuit breaker (see AttemptRecord for how outcomes move it). It is
	// closed while CircuitOpenUntil is nil. While open, deliveries to the endpoint wait
	// instead of using up attempts; from CircuitOpenUntil on it is half-open, and the
	// next claim hands out the probe(s): CircuitProbing is then set and CircuitOpenUntil
	// is the end of the probes' lease, so no other claim, in any process, sends more.
	CircuitOpenUntil *time.Time
	CircuitProbing   bool
	// CircuitGeneration counts the circuit's transitions (open, probe, close, reset). An
	// outcome counts only in the generation its attempt started in, so an attempt made
	// before the circuit changed cannot open, extend or close it afterwards.
	CircuitGeneration int64
	// RecentFailures are the failures counted in a breaker window ("5 failures in 1m")
	// while the circuit is closed, oldest first; empty when failures are consecutive.
	RecentFailures []time.Time

	DisabledReason string // why IsActive became false on its own (410 Gone), "" otherwise
	// Managed endpoints are owned by the configuration (a `webhook NAME { … }` block):
	// the sync of declared webhooks makes, changes and deletes them, matched by Name,
	// which no two managed endpoints share (ErrConflict). It is set at creation and
	// never changes.
	Managed        bool
	LastDeliveryAt *time.Time
	LastFailureAt  *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// CircuitState names where an endpoint's circuit stands.
type CircuitState string

// The circuit states, as the API shows them.
const (
	CircuitClosed   CircuitState = "closed"
	CircuitOpen     CircuitState = "open"
	CircuitHalfOpen CircuitState = "half-open" // the open period is over, or a probe is out
)

// CircuitState is the endpoint's circuit state at now.
func (e Endpoint) CircuitState(now time.Time) CircuitState {
	switch {
	case e.CircuitOpenUntil == nil:
		return CircuitClosed
	case e.CircuitProbing || !now.Before(*e.CircuitOpenUntil):
		return CircuitHalfOpen
	}
	return CircuitOpen
}

// EndpointPatch changes the given fields of an endpoint (nil = unchanged).
type EndpointPatch struct {
	Name     *string
	URL      *string
	Events   *[]string
	IsActive *bool
	// Secret rotation: the new secret, and until when the old one keeps signing.
	Secret              *string
	PreviousSecret      *string
	PreviousSecretUntil *time.Time
	DisabledReason      *string
	// ResetCircuit closes the circuit by hand (a new generation, counts cleared, healthy).
	ResetCircuit bool
	UpdatedAt    time.Time
}

// Page selects a page of a list: Page is 1-based, Limit the page size (1..100).
type Page struct {
	Page  int
	Limit int
}

// EndpointFilter selects endpoints for EndpointList.
type EndpointFilter struct {
	IsActive *bool
	Page
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The delivery statuses (seed 003).
const (
	DeliveryPending   DeliveryStatus = "pending"   // not attempted yet
	DeliveryRetrying  DeliveryStatus = "retrying"  // attempted, failed, another attempt scheduled
	DeliveryDelivered DeliveryStatus = "delivered" // an attempt succeeded
	DeliveryFailed    DeliveryStatus = "failed"    // the last attempt failed (dead letter), or the endpoint is gone
)

// Delivery is one event to one endpoint (seed 003's WebhookDelivery), the unit of the
// durable queue. Its ID is the message id receivers see in webhook-id on every attempt.
type Delivery struct {
	ID                 string
	EndpointID         string
	EventID            string
	EventType          string
	Payload            []byte // the exact JSON body sent on every attempt
	Status             DeliveryStatus
	AttemptCount       int
	MaxAttempts        int
	NextRetryAt        *time.Time // when it is due; nil once delivered or failed
	ResponseStatusCode *int
	ResponseBody       string // of the last attempt, truncated by the caller
	ErrorMessage       string // of the last attempt
	DeliveredAt        *time.Time
	DurationMs         *int       // of the last attempt
	DeadLetteredAt     *time.Time // set when it failed for good; cleared by replay
	CreatedAt          time.Time
	UpdatedAt          time.Time
	// TraceParent is the W3C traceparent of the publish that made the delivery ("" when
	// it was not traced), so an attempt made later, by any process, joins its trace.
	TraceParent string
}

// DeliveryFilter selects deliveries for DeliveryList and DeadLetterList.
type DeliveryFilter struct {
	EndpointID string         // "" = all endpoints
	Status     DeliveryStatus // "" = all statuses (ignored by DeadLetterList)
	Page
}

// ClaimParams ask for due deliveries.
type ClaimParams struct {
	Now   time.Time
	Limit int
	// Lease is how long the claim holds: a worker that dies leaves its deliveries to be
	// claimed again after the lease, which is what makes delivery at-least-once.
	Lease time.Duration
	Owner string // claiming worker's id, stored for diagnosis

	// PerEndpoint, when positive, bounds the deliveries of one endpoint the claimer has
	// in flight: a claim takes at most PerEndpoint-InFlight[endpoint] of them, none of an
	// endpoint already at the bound. InFlight counts the claimer's own attempts running.
	PerEndpoint int
	InFlight    map[string]int
	// Probes is how many deliveries a half-open endpoint gets as probes (default 1).
	Probes int
}

// AttemptRecord is the outcome of one attempt, written with the endpoint's new health
// in the same transaction.
type AttemptRecord struct {
	DeliveryID         string
	Status             DeliveryStatus // retrying, delivered or failed
	AttemptCount       int
	NextRetryAt        *time.Time // for retrying
	ResponseStatusCode *int
	ResponseBody       string
	ErrorMessage       string
	DeliveredAt        *time.Time
	DurationMs         int
	DeadLetteredAt     *time.Time // for failed
	At                 time.Time  // when the attempt finished (UpdatedAt)

	// The endpoint's health, updated in the same transaction, in the order of the
	// records. A success sets LastDeliveryAt=At, a failure LastFailureAt=At. The rest
	// applies only if CircuitGeneration is the endpoint's current generation (the
	// attempt started in the circuit's current state):
	//
	//   - closed: a success sets ConsecutiveFailures to 0. A failure adds 1 to it and,
	//     with a BreakerWindow, is counted in RecentFailures (failures older than the
	//     window (At-BreakerWindow, At] drop out); once the count (consecutive, or in the
	//     window) reaches BreakerThreshold (>0) the circuit opens until
	//     At+BreakerResetAfter and the endpoint is unhealthy.
	//   - probing: a success closes the circuit (counts cleared, healthy); a failure adds
	//     1 to ConsecutiveFailures and opens it again until At+BreakerResetAfter.
	//   - open: nothing; an open circuit is never extended.
	//
	// Every transition starts a new generation.
	EndpointID        string
	Success           bool
	CircuitGeneration int64 // the endpoint's generation when the attempt started
	BreakerThreshold  int
	BreakerWindow     time.Duration // 0: BreakerThreshold counts consecutive failures
	BreakerResetAfter time.Duration
	DisableEndpoint   bool // 410 Gone: IsActive=false with DisabledReason
	DisabledReason    string
}

// ClaimedDelivery is a leased delivery with its endpoint as it is now.
type ClaimedDelivery struct {
	Delivery Delivery
	Endpoint Endpoint
}

// QueueStats describe the delivery queue for metrics.
type QueueStats struct {
	Due            int        // pending or retrying, due now
	Waiting        int        // pending or retrying, all
	OldestDueSince *time.Time // NextRetryAt of the oldest due delivery
	DeadLetters    int
	OpenCircuits   int // active endpoints whose circuit is not closed
}

// InboundMessage is a verified webhook received at /ingest/{source}.
type InboundMessage struct {
	ID         string
	Source     string
	ProviderID string // the provider's delivery id (X-GitHub-Delivery, Stripe event id, webhook-id); unique per source
	EventType  string
	Payload    []byte
	Headers    []byte // JSON object of the headers kept
	ReceivedAt time.Time
	// Verification is the scheme whose signature check the message passed (github,
	// stripe, hmac, standard_webhooks): nothing unverified is stored. "" for messages
	// stored before it was recorded.
	Verification string
}

// InboundFilter selects received messages for InboundList, newest first (by ReceivedAt,
// then ID).
type InboundFilter struct {
	Source string // "" = every source
	// Before is the ID of a message of the selection: only the messages listed after it
	// (older) are returned. A cursor, not an offset, so that messages arriving while a
	// client pages do not shift the pages. "" = from the newest. ErrNotFound if no message
	// of the selection has that ID.
	Before string
	Limit  int // 1..100
}

// EventPurgeBatch is how many events one batch of EventPurge deletes by default.
const EventPurgeBatch = 1000

// EventPurged counts what EventPurge deleted.
type EventPurged struct {
	Events            int
	Deliveries        int
	HandlerExecutions int
}

// Add adds o's counts to p's.
func (p *EventPurged) Add(o EventPurged) {
	p.Events += o.Events
	p.Deliveries += o.Deliveries
	p.HandlerExecutions += o.HandlerExecutions
}

// WebhookStore is the webhook part of Store.
type WebhookStore interface {
	EndpointCreate(ctx context.Context, e Endpoint) (Endpoint, error) // ErrConflict on duplicate ID
	EndpointGet(ctx context.Context, id string) (Endpoint, error)     // ErrNotFound
	// EndpointList returns the page and the total number of matching endpoints, newest first.
	EndpointList(ctx context.Context, f EndpointFilter) ([]Endpoint, int, error)
	// EndpointsActive returns every active endpoint (for fan-out), oldest first.
	EndpointsActive(ctx context.Context) ([]Endpoint, error)
	// EndpointsManagedOrNamed returns, oldest first, every managed endpoint and every
	// endpoint, managed or not, whose name is among names: what the sync of declared
	// webhooks compares with the configuration.
	EndpointsManagedOrNamed(ctx context.Context, names []string) ([]Endpoint, error)
	EndpointUpdate(ctx context.Context, id string, p EndpointPatch) (Endpoint, error) // ErrNotFound
	// EndpointDelete removes the endpoint; its deliveries that are still waiting become
	// failed ("endpoint deleted") so they leave the queue; history is kept.
	EndpointDelete(ctx context.Context, id string, at time.Time) error // ErrNotFound

	// EventPublish stores e, its deliveries and its handler executions atomically. If an
	// event with e.ID exists, nothing is written and created is false; count is then the
	// number of deliveries the first publication made.
	EventPublish(ctx context.Context, e event.Event, deliveries []Delivery, executions ...HandlerExecution) (created bool, count int, err error)
	EventGet(ctx context.Context, id string) (event.Event, error)
	// EventsAfter lists up to limit stored events that come after the event afterID in
	// the order events are kept (their time, then id), oldest first: what a client of
	// the event stream missed since that event. ErrNotFound when afterID is unknown.
	EventsAfter(ctx context.Context, afterID string, limit int) ([]event.Event, error)

	// DeliveryClaim leases up to Limit due deliveries (pending or retrying, NextRetryAt <=
	// Now, not leased or lease expired) of active endpoints, oldest due first, within
	// the PerEndpoint bound. Deliveries of an endpoint whose circuit is open wait. A
	// half-open endpoint gets up to Probes deliveries, the oldest due, and turns probing
	// (a new generation) until Now+Lease, atomically: exactly one claim, across
	// processes, sends its probes. Concurrent claimers never get the same delivery.
	DeliveryClaim(ctx context.Context, p ClaimParams) ([]ClaimedDelivery, error)
	// DeliveryRecord writes attempt outcomes (and endpoint health) and releases the
	// leases, all in one transaction.
	DeliveryRecord(ctx context.Context, records []AttemptRecord) error
	DeliveryGet(ctx context.Context, id string) (Delivery, error) // ErrNotFound
	// DeliveryList returns the page and total, newest first.
	DeliveryList(ctx context.Context, f DeliveryFilter) ([]Delivery, int, error)
	// DeliveryRequeue makes a delivery due again at `at` (manual retry, DLQ replay):
	// status pending, attempts reset to 0, dead-letter mark cleared. ErrNotFound; a
	// delivered delivery is requeued too (a manual resend).
	DeliveryRequeue(ctx context.Context, id string, at time.Time) (Delivery, error)

	// DeadLetterList lists failed deliveries with a dead-letter mark, newest first.
	DeadLetterList(ctx context.Context, f DeliveryFilter) ([]Delivery, int, error)
	// DeadLetterPurge deletes dead letters marked before `before` (retention); returns how many.
	DeadLetterPurge(ctx context.Context, before time.Time) (int, error)
	// EventPurge deletes the events stored before `before` (retention) that nothing
	// still needs, together with what only history keeps of them: an event goes when
	// every delivery of it is finished (delivered, or failed without a dead-letter mark)
	// and every handler execution of it done, all of them last changed before `before`;
	// those deliveries and executions go with it. An event with a waiting (pending,
	// retrying) or dead-lettered delivery, or with a pending, failed or dead execution,
	// stays, and so do its deliveries and executions. It works in batches of up to batch
	// events (EventPurgeBatch when batch <= 0), one transaction each, oldest first,
	// until none is left, so a large backlog never holds one long lock. On an error the
	// batches already committed stay purged and are counted in what it returns.
	EventPurge(ctx context.Context, before time.Time, batch int) (EventPurged, error)
	QueueStats(ctx context.Context, now time.Time) (QueueStats, error)

	// InboundRecord stores a received message unless one with the same (Source,
	// ProviderID) exists; created reports which.
	InboundRecord(ctx context.Context, m InboundMessage) (created bool, err error)
	// InboundGet returns the message stored for (source, providerID). ErrNotFound.
	InboundGet(ctx context.Context, source, providerID string) (InboundMessage, error)
	// InboundGetByID returns the message with Junction's id. ErrNotFound.
	InboundGetByID(ctx context.Context, id string) (InboundMessage, error)
	// InboundList returns up to f.Limit messages, newest first.
	InboundList(ctx context.Context, f InboundFilter) ([]InboundMessage, error)
}
