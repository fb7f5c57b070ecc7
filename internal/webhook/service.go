package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	neturl "net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/netguard"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/tlsfiles"
	"github.com/junctionhq/junction/internal/webhook/inflight"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// Options configure a Service.
type Options struct {
	Logger  *slog.Logger // required
	Metrics *Metrics     // required; see NewMetrics
	Bus     *event.Bus   // WebhookDeliveryFailed is published here; may be nil
	Clock   clock.Clock  // default clock.Real{}
	// WorkerID names this process in delivery leases (diagnosis only).
	WorkerID string
	// Lease is how long a claim holds a delivery; default 2×Timeout+30s, and it must be
	// longer than Timeout. Tests shorten it.
	Lease time.Duration
	// Resolver looks up endpoint hosts when they are registered (see checkDestination);
	// default net.DefaultResolver. Tests give names addresses of their choosing.
	Resolver netguard.Resolver
	// Rejections keeps the refused inbound webhooks; the runtime passes the previous
	// service's on reload so they survive it. Default: a new, empty one.
	Rejections *Rejections
	// PurgeHeld, if set, says whether this node does the cluster's retention (holds the
	// "retention" lease): dead letters past their retention are purged only while it
	// does, so several nodes do not run the same deletes. Nil: always (one process).
	PurgeHeld func() bool
	// EventRetention is how long stored events, and the finished deliveries and done
	// handler executions of them, are kept (store.WebhookStore.EventPurge says what
	// stays longer); they are purged beside the dead letters, under PurgeHeld. Zero:
	// kept forever.
	EventRetention time.Duration
	// PurgeEvery is how often the retention purges run; default 10 minutes. Tests
	// shorten it.
	PurgeEvery time.Duration
	// Peers shares the attempts in flight per endpoint with the other nodes (through
	// Redis), so per_endpoint_concurrency bounds an endpoint across the cluster; nil:
	// the bound is per node.
	Peers *inflight.Board
}

// Service is Junction's webhook platform: endpoints, publishing with fan-out, the durable
// delivery queue and its workers, dead letters. Every entry point (HTTP API, Go callers,
// event routing) goes through its methods.
type Service struct {
	store    store.Store
	settings Settings
	opts     Options
	guard    *netguard.Guard
	client   *http.Client
	lease    time.Duration // how long a claim holds a delivery
	wake     chan struct{}

	mu          sync.Mutex
	active      []store.Endpoint // cached EndpointsActive, for fan-out
	activeUntil time.Time

	sources    sourcesHolder // inbound sources, swapped on reload
	rejections *Rejections   // refused inbound webhooks (rejections.go)
	declared   declaredSet   // the configuration's webhooks, by name (declared.go)
	handlers   HandlerFanout // the configuration's event handlers (handlers.go); may be nil

	runMu   sync.Mutex
	stopRun context.CancelFunc // set by Start
	runDone chan struct{}      // closed when Run, started by Start, has returned
}

// activeCacheTTL bounds how long fan-out may use a cached endpoint list; changes made
// through this Service invalidate it at once, changes made by other processes within it.
const activeCacheTTL = time.Second

// New builds the service. It does not start delivering; call Run.
func New(st store.Store, s Settings, opts Options) (*Service, error) {
	if st == nil || opts.Logger == nil || opts.Metrics == nil {
		return nil, errors.New("webhook: store, Logger and Metrics are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Rejections == nil {
		opts.Rejections = NewRejections()
	}
	if opts.WorkerID == "" {
		opts.WorkerID = "junction-" + randomHex(4)
	}
	guard, err := netguard.New(s.AllowedNetworks)
	if err != nil {
		return nil, fmt.Errorf("webhook: allowed_networks: %w", err)
	}
	// A claimed delivery's attempt starts at once (see dispatch.go): the lease covers the
	// attempt, bounded by the timeout, and the recording of its outcome.
	lease := 2*s.Timeout + 30*time.Second
	if opts.Lease > 0 {
		lease = opts.Lease
	}
	if lease <= s.Timeout {
		return nil, fmt.Errorf("webhook: a lease of %v does not cover an attempt's timeout of %v", lease, s.Timeout)
	}
	client := guard.Client()
	if s.TLS != nil {
		tc, err := tlsfiles.ClientConfig(*s.TLS)
		if err != nil {
			return nil, fmt.Errorf("webhook: tls: %w", err)
		}
		client = guard.ClientTLS(tc)
	}
	client = keepConnections(client, s)
	svc := &Service{store: st, settings: s, opts: opts, guard: guard, client: client, lease: lease, wake: make(chan struct{}, 1), rejections: opts.Rejections}
	opts.Metrics.queue.setSource(st, opts.Clock)
	return svc, nil
}

// keepConnections lets the delivery client keep as many idle connections to a receiver
// as attempts may run to it at once (per_endpoint_concurrency, or workers without a
// bound). The guard's transport keeps 4 a host: with more attempts than that to one
// receiver, every attempt beyond them closed its connection after use and the next
// dialed (and for HTTPS handshook) a new one, which took a tenth of the process's CPU
// at 1,500 deliveries/s to 4 receivers. The clone keeps the guard's dialer, so its
// address checks still hold.
func keepConnections(c *http.Client, s Settings) *http.Client {
	t, ok := c.Transport.(*http.Transport)
	if !ok {
		return c
	}
	perHost := s.PerEndpointConcurrency
	if perHost <= 0 || perHost > s.Workers {
		perHost = s.Workers
	}
	if perHost <= t.MaxIdleConnsPerHost {
		return c
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = perHost
	t.MaxIdleConns = max(t.MaxIdleConns, s.Workers)
	kept := *c
	kept.Transport = t
	return &kept
}

// Settings returns the delivery settings in force.
func (s *Service) Settings() Settings { return s.settings }

// ValidationError lists what is wrong with an input, field by field.
type ValidationError struct {
	Fields map[string]string // field → problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for f, msg := range e.Fields {
		parts = append(parts, f+": "+msg)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// ErrPayloadTooLarge is returned by Publish for an event over Settings.MaxPayloadBytes.
var ErrPayloadTooLarge = errors.New("event payload too large")

// EndpointInput is what POST /webhooks takes.
type EndpointInput struct {
	Name   string
	URL    string
	Events []string
	Secret string // optional; generated (whsec_…) when empty
}

var eventPattern = regexp.MustCompile(`^(\*|[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*(\.\*)?)$`)

func validateEndpoint(name, url *string, events *[]string, secret *string) *ValidationError {
	v := &ValidationError{Fields: map[string]string{}}
	if name != nil && (strings.TrimSpace(*name) == "" || len(*name) > 200) {
		v.Fields["name"] = "required, at most 200 characters"
	}
	if url != nil {
		switch err := netguard.CheckURL(*url); {
		case err != nil:
			// A URL that does not parse is quoted in the error; it may carry a credential.
			v.Fields["url"] = redact.Error(err).Error()
		case strings.Contains(*url, redact.Mask), strings.Contains(*url, neturl.QueryEscape(redact.Mask)):
			v.Fields["url"] = "holds " + redact.Mask + " where a credential was hidden from a user token: give the whole URL"
		}
	}
	if events != nil {
		if len(*events) == 0 {
			v.Fields["events"] = "at least one event type, such as order.created, order.* or *"
		}
		for _, e := range *events {
			if !eventPattern.MatchString(e) {
				v.Fields["events"] = fmt.Sprintf("%q is not an event type (letters, digits, _ and - in dot-separated parts; a final .* or * alone matches many)", e)
				break
			}
		}
	}
	if secret != nil && *secret != "" {
		if err := signing.ValidSecret(*secret); err != nil {
			v.Fields["secret"] = err.Error()
		}
	}
	if len(v.Fields) > 0 {
		return v
	}
	return nil
}

// destinationLookupTimeout bounds the lookup of an endpoint's host at registration; a
// lookup that does not finish in time lets the endpoint be registered.
const destinationLookupTimeout = 2 * time.Second

// checkDestination refuses a URL every delivery to which the guard would refuse: its
// host is an address, localhost, or a name resolving only to addresses that are not
// public and that no allowed network covers. A name that does not resolve is accepted;
// its deliveries will say why they fail.
func (s *Service) checkDestination(ctx context.Context, url string) *ValidationError {
	ctx, cancel := context.WithTimeout(ctx, destinationLookupTimeout)
	defer cancel()
	var refused *netguard.RefusedError
	if err := s.guard.CheckDestination(ctx, url, s.opts.Resolver); errors.As(err, &refused) {
		return &ValidationError{Fields: map[string]string{
			"url": fmt.Sprintf("%s, so every delivery would be refused; to allow it, add allowed_networks: [%s] "+
				"to the configuration's type: webhook integration block (integration WebhookDelivery { type: webhook … })",
				refused.Error(), networksOf(refused.Addrs)),
		}}
	}
	return nil
}

// networksOf quotes, for allowed_networks, a network per address: all of loopback for a
// loopback address, the address alone otherwise.
func networksOf(addrs []netip.Addr) string {
	quoted := make([]string, len(addrs))
	for i, a := range addrs {
		p := netip.PrefixFrom(a.WithZone("").Unmap(), a.Unmap().BitLen())
		if a.Unmap().Is4() && a.IsLoopback() {
			p = netip.MustParsePrefix("127.0.0.0/8")
		}
		quoted[i] = strconv.Quote(p.String())
	}
	return strings.Join(dedupe(quoted), ", ")
}

// CreateEndpoint validates and stores a new endpoint, generating its secret if none is given.
func (s *Service) CreateEndpoint(ctx context.Context, in EndpointInput) (store.Endpoint, error) {
	if v := validateEndpoint(&in.Name, &in.URL, &in.Events, &in.Secret); v != nil {
		return store.Endpoint{}, v
	}
	if err := s.refuseDeclaredName(&in.Name); err != nil {
		return store.Endpoint{}, err
	}
	if v := s.checkDestination(ctx, in.URL); v != nil {
		return store.Endpoint{}, v
	}
	secret := in.Secret
	if secret == "" {
		var err error
		if secret, err = signing.NewSecret(); err != nil {
			return store.Endpoint{}, err
		}
	}
	now := s.opts.Clock.Now().UTC()
	ep, err := s.store.EndpointCreate(ctx, store.Endpoint{
		ID: newUUID(), Name: strings.TrimSpace(in.Name), URL: in.URL, Secret: secret, Events: dedupe(in.Events),
		IsActive: true, IsHealthy: true, CreatedAt: now, UpdatedAt: now,
	})
	s.invalidate()
	return ep, err
}

// EndpointUpdate is a partial update (PUT /webhooks/{id}).
type EndpointUpdate struct {
	Name     *string
	URL      *string
	Events   *[]string
	IsActive *bool
}

// UpdateEndpoint applies a partial update. Re-activating an endpoint clears the reason
// it was disabled for.
func (s *Service) UpdateEndpoint(ctx context.Context, id string, u EndpointUpdate) (store.Endpoint, error) {
	if v := validateEndpoint(u.Name, u.URL, u.Events, nil); v != nil {
		return store.Endpoint{}, v
	}
	cur, err := s.store.EndpointGet(ctx, id)
	if err != nil {
		return store.Endpoint{}, err
	}
	if err := s.refuseManaged(cur, "changed through the API"); err != nil {
		return store.Endpoint{}, err
	}
	if err := s.refuseDeclaredName(u.Name); err != nil {
		return store.Endpoint{}, err
	}
	if u.URL != nil && *u.URL != cur.URL {
		if v := s.checkDestination(ctx, *u.URL); v != nil {
			return store.Endpoint{}, v
		}
	}
	p := store.EndpointPatch{Name: u.Name, URL: u.URL, IsActive: u.IsActive, UpdatedAt: s.opts.Clock.Now().UTC()}
	if u.Events != nil {
		ev := dedupe(*u.Events)
		p.Events = &ev
	}
	if u.IsActive != nil && *u.IsActive {
		empty := ""
		p.DisabledReason = &empty
	}
	if u.URL != nil {
		// Another URL is another receiver: the old one's failures say nothing about it.
		p.ResetCircuit = cur.URL != *u.URL
	}
	ep, err := s.store.EndpointUpdate(ctx, id, p)
	s.invalidate()
	if err == nil && p.ResetCircuit {
		s.Wake()
	}
	return ep, err
}

// ResetCircuit closes an endpoint's circuit by hand (POST /webhooks/{id}/circuit/reset):
// its waiting deliveries that are due go out at once.
func (s *Service) ResetCircuit(ctx context.Context, id string) (store.Endpoint, error) {
	ep, err := s.store.EndpointUpdate(ctx, id, store.EndpointPatch{ResetCircuit: true, UpdatedAt: s.opts.Clock.Now().UTC()})
	if err != nil {
		return store.Endpoint{}, err
	}
	s.invalidate()
	s.Wake()
	return ep, nil
}

// RotateSecret gives the endpoint a new secret; the old one keeps signing deliveries
// (beside the new) for Settings.SecretOverlap, so the receiver can switch over.
func (s *Service) RotateSecret(ctx context.Context, id string) (store.Endpoint, error) {
	ep, err := s.store.EndpointGet(ctx, id)
	if err != nil {
		return store.Endpoint{}, err
	}
	if err := s.refuseManaged(ep, "given a new secret through the API (declare secret: env(NAME) instead)"); err != nil {
		return store.Endpoint{}, err
	}
	secret, err := signing.NewSecret()
	if err != nil {
		return store.Endpoint{}, err
	}
	now := s.opts.Clock.Now().UTC()
	until := now.Add(s.settings.SecretOverlap)
	ep, err = s.store.EndpointUpdate(ctx, id, store.EndpointPatch{Secret: &secret, PreviousSecret: &ep.Secret, PreviousSecretUntil: &until, UpdatedAt: now})
	s.invalidate()
	return ep, err
}

// GetEndpoint, ListEndpoints and DeleteEndpoint pass through to the store.
func (s *Service) GetEndpoint(ctx context.Context, id string) (store.Endpoint, error) {
	return s.store.EndpointGet(ctx, id)
}

// ListEndpoints returns a page of endpoints and the total.
func (s *Service) ListEndpoints(ctx context.Context, f store.EndpointFilter) ([]store.Endpoint, int, error) {
	return s.store.EndpointList(ctx, f)
}

// DeleteEndpoint removes an endpoint; its waiting deliveries fail. The configuration's
// endpoints are removed by removing their declaration.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) error {
	ep, err := s.store.EndpointGet(ctx, id)
	if err != nil {
		return err
	}
	if err := s.refuseManaged(ep, "deleted through the API (remove the webhook block instead)"); err != nil {
		return err
	}
	err = s.store.EndpointDelete(ctx, id, s.opts.Clock.Now().UTC())
	s.invalidate()
	return err
}

// PublishResult says what Publish did.
type PublishResult struct {
	EventID    string
	Deliveries int
	Duplicate  bool // the event id was published before; nothing new was created
}

// Publish stores the event, one delivery per active endpoint subscribed to its type
// and one execution per event handler it matches (SetHandlers), in one transaction,
// before it returns: an accepted event is never lost. The body every
// endpoint receives is {"id","type","timestamp","data"}. Of in, ID is optional
// (publishing an id again creates nothing), Source defaults to event.SourceAPI, and Time
// is set to now. A newly stored event is then published on the bus, where event routes
// and flows' events sources receive it.
func (s *Service) Publish(ctx context.Context, in event.Event) (PublishResult, error) {
	if err := s.checkPublish(&in); err != nil {
		return PublishResult{}, err
	}
	if in.ID == "" {
		in.ID = event.NewID()
	}
	if in.Source == "" {
		in.Source = event.SourceAPI
	}
	ctx, span := startPublishSpan(ctx, in.Type)
	defer span.End()
	now := s.opts.Clock.Now().UTC()
	in.Time = now
	body, err := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{in.ID, in.Type, now, in.Data})
	if err != nil {
		return PublishResult{}, err
	}
	deliveries, err := s.deliveriesOf(ctx, in, body, now)
	if err != nil {
		return PublishResult{}, err
	}
	if tp := telemetry.TraceParent(ctx); tp != "" {
		for i := range deliveries {
			deliveries[i].TraceParent = tp
		}
	}
	executions := s.handlerExecutions(ctx, in, now)
	created, count, err := s.store.EventPublish(ctx, in, deliveries, executions...)
	if err != nil {
		return PublishResult{}, err
	}
	if created && count > 0 {
		s.opts.Metrics.published.Add(float64(count))
		s.Wake()
	}
	if created && len(executions) > 0 {
		s.handlers.Wake()
	}
	if created && s.opts.Bus != nil {
		s.opts.Bus.Publish(in)
	}
	return PublishResult{EventID: in.ID, Deliveries: count, Duplicate: !created}, nil
}

// checkPublish checks an event given to Publish, whose data, when there is none, is
// null: a *ValidationError for what a caller gave wrong, ErrPayloadTooLarge for data
// over the limit.
func (s *Service) checkPublish(in *event.Event) error {
	v := &ValidationError{Fields: map[string]string{}}
	if !eventPattern.MatchString(in.Type) || strings.Contains(in.Type, "*") {
		v.Fields["type"] = "required: an event type such as order.created (letters, digits, _ and - in dot-separated parts)"
	}
	if in.ID != "" && (len(in.ID) > 200 || strings.ContainsAny(in.ID, " \t\r\n")) {
		v.Fields["id"] = "at most 200 characters, no spaces"
	}
	if len(in.Data) == 0 {
		in.Data = json.RawMessage("null")
	}
	if !json.Valid(in.Data) {
		v.Fields["data"] = "must be JSON"
	}
	if len(v.Fields) > 0 {
		return v
	}
	if int64(len(in.Data)) > s.settings.MaxPayloadBytes {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrPayloadTooLarge, len(in.Data), s.settings.MaxPayloadBytes)
	}
	return nil
}

// deliveriesOf makes one delivery of the event, whose body is body, per active endpoint
// subscribed to its type.
func (s *Service) deliveriesOf(ctx context.Context, in event.Event, body []byte, now time.Time) ([]store.Delivery, error) {
	endpoints, err := s.activeEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	var deliveries []store.Delivery
	for _, ep := range endpoints {
		if Subscribed(ep.Events, in.Type) {
			deliveries = append(deliveries, s.newDelivery(ep, in.ID, in.Type, body, now, now))
		}
	}
	return deliveries, nil
}

// newDelivery makes a delivery to ep, with the attempts its retry allows: a declared
// webhook's own, or the delivery settings'.
func (s *Service) newDelivery(ep store.Endpoint, eventID, eventType string, body []byte, due, now time.Time) store.Delivery {
	maxAttempts := s.settings.MaxAttempts
	if d := s.declaredOf(ep); d != nil {
		maxAttempts = d.MaxAttempts
	}
	return store.Delivery{
		ID: newDeliveryID(), EndpointID: ep.ID, EventID: eventID, EventType: eventType, Payload: body,
		Status: store.DeliveryPending, MaxAttempts: maxAttempts, NextRetryAt: &due,
		CreatedAt: now, UpdatedAt: now,
	}
}

// Subscribed reports whether an endpoint's event patterns cover an event type: exact
// names, "*" for everything, and "order.*" for order.created, order.item.added, ….
func Subscribed(patterns []string, eventType string) bool {
	for _, p := range patterns {
		switch {
		case p == "*", p == eventType:
			return true
		case strings.HasSuffix(p, ".*") && strings.HasPrefix(eventType, p[:len(p)-1]):
			return true
		}
	}
	return false
}

// announceTimeout bounds the storing of an event Junction announces on its own.
const announceTimeout = 10 * time.Second

// announce stores an event Junction makes on its own (a received webhook that is not
// published, a failed delivery) without deliveries or handler runs, since it is not
// published to endpoints, so that flows' events sources, which read the store, receive
// it; then it puts it on the bus. An event that cannot be stored is still announced on
// the bus (routes, the event stream), and the failure is logged.
func (s *Service) announce(ctx context.Context, e event.Event) {
	if e.ID == "" {
		e.ID = event.NewID()
	}
	if _, _, err := s.store.EventPublish(ctx, e, nil); err != nil {
		s.opts.Logger.Warn("storing an event failed; flows' events sources will not see it", "type", e.Type, "event", e.ID, "error", err)
	}
	if s.opts.Bus != nil {
		s.opts.Bus.Publish(e)
	}
}

// ValidPattern reports whether p is an event pattern that Subscribed understands: an
// event type, "*", or a type's prefix followed by ".*".
func ValidPattern(p string) bool { return eventPattern.MatchString(p) }

func (s *Service) activeEndpoints(ctx context.Context) ([]store.Endpoint, error) {
	now := s.opts.Clock.Now()
	s.mu.Lock()
	if now.Before(s.activeUntil) {
		eps := s.active
		s.mu.Unlock()
		return eps, nil
	}
	s.mu.Unlock()
	eps, err := s.store.EndpointsActive(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.active, s.activeUntil = eps, now.Add(activeCacheTTL)
	s.mu.Unlock()
	return eps, nil
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.activeUntil = time.Time{}
	s.mu.Unlock()
}

// ListDeliveries returns a page of an endpoint's deliveries (ErrNotFound for an unknown endpoint).
func (s *Service) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	if _, err := s.store.EndpointGet(ctx, f.EndpointID); err != nil {
		return nil, 0, err
	}
	return s.store.DeliveryList(ctx, f)
}

// Retry re-queues a delivery now (POST /webhooks/deliveries/{id}/retry and dead-letter
// replay): it gets a full set of attempts again.
func (s *Service) Retry(ctx context.Context, id string) (store.Delivery, error) {
	d, err := s.store.DeliveryRequeue(ctx, id, s.opts.Clock.Now().UTC())
	if err == nil {
		s.Wake()
	}
	return d, err
}

// ListDeadLetters returns a page of deliveries that failed for good.
func (s *Service) ListDeadLetters(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	return s.store.DeadLetterList(ctx, f)
}

// TestEndpoint sends a webhook.test event to one endpoint and returns the delivery after
// its first attempt, made during the call. Later attempts, if it failed, follow the
// schedule like any other delivery.
func (s *Service) TestEndpoint(ctx context.Context, id string) (store.Delivery, error) {
	ep, err := s.store.EndpointGet(ctx, id)
	if err != nil {
		return store.Delivery{}, err
	}
	now := s.opts.Clock.Now().UTC()
	eventID := "evt_test_" + randomHex(8)
	body, _ := json.Marshal(map[string]any{
		"id": eventID, "type": "webhook.test", "timestamp": now,
		"data": map[string]any{"endpoint_id": ep.ID, "message": "This is a test event from Junction."},
	})
	// Due only after this call's own attempt could have finished, so no worker takes it
	// meanwhile; if the process dies mid-call the workers deliver it later.
	due := now.Add(s.settings.Timeout + time.Minute)
	d := s.newDelivery(ep, eventID, "webhook.test", body, due, now)
	if _, _, err := s.store.EventPublish(ctx, event.Event{ID: eventID, Type: "webhook.test", Data: json.RawMessage(`{}`), Source: event.SourceTest, Time: now}, []store.Delivery{d}); err != nil {
		return store.Delivery{}, err
	}
	rec, failed := s.attempt(ctx, ep, d)
	if err := s.store.DeliveryRecord(ctx, []store.AttemptRecord{rec}); err != nil {
		return store.Delivery{}, err
	}
	if rec.DisableEndpoint {
		s.invalidate()
	}
	s.announceAttempts(outcome{rec: rec, failed: failed, eventType: d.EventType})
	if failed != nil {
		s.afterRecordFailed([]*store.Delivery{failed})
	}
	return s.store.DeliveryGet(ctx, d.ID)
}

// Wake tells the dispatcher that deliveries may be due now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID is a random (version 4) UUID.
func newUUID() string { return uuid.NewString() }

// newDeliveryID is a UUID version 7: time-ordered, so a store's indexes on delivery IDs
// take new ones at their end, in pages already in memory, rather than anywhere (on
// PostgreSQL, random IDs dirtied a page per insert of the primary keys of deliveries
// and of its queue). The random bits (74) still make IDs unguessable in practice.
func newDeliveryID() string { return uuid.Must(uuid.NewV7()).String() }
