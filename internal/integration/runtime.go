package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/policy/cache"
)

// Defaults of the runtime.
const (
	// TimeoutDefault is the per-attempt timeout when neither the operation nor the
	// integration sets one.
	TimeoutDefault = 30 * time.Second
	// DeadlineDefault bounds a whole logical call (attempts, back-off, rate-limit waits)
	// when the caller's context has no deadline of its own. The HTTP API gives calls
	// without X-Junction-Timeout this deadline too; it stays well below the server's
	// write timeout, so that an answer is never lost for want of time to write it.
	DeadlineDefault = 30 * time.Second
	// sharedCallTimeout bounds a cache miss shared by concurrent callers (cache.Group):
	// it serves callers with different deadlines, so it is no caller's deadline, only a
	// safety limit above the HTTP API's largest (server.MaxCallTimeout).
	sharedCallTimeout = 60 * time.Second
	// KeepStaleDefault is how long a response stays available for `fallback: cache`
	// after its cache TTL has passed.
	KeepStaleDefault = 24 * time.Hour
	// MaxResponseBytesDefault bounds an upstream response body.
	MaxResponseBytesDefault = 10 << 20
	// cacheEntriesDefault and cacheBytesDefault bound the in-memory response cache.
	cacheEntriesDefault = 10_000
	cacheBytesDefault   = 64 << 20
)

// Options configure a Runtime. Zero values mean the documented defaults.
type Options struct {
	LookupEnv        config.LookupEnv      // resolves env(NAME); required
	Logger           *slog.Logger          // required
	Metrics          *Metrics              // required; see NewMetrics
	Bus              *event.Bus            // circuit events are published here; may be nil
	Clock            clock.Clock           // default clock.Real{}
	HTTPClient       *http.Client          // upstream calls; default NewHTTPClient()
	Redis            redis.UniversalClient // nil: rate limits and cache are local to the process
	MaxResponseBytes int64                 // default MaxResponseBytesDefault
}

// Runtime holds the live client of every configured integration and is the one entry
// point for calling them: the gateway API, the proxy, `junction call` and flow steps all
// come through Call or Forward.
type Runtime struct {
	opts    Options
	clients map[string]*client
	names   []string
	cache   cache.Cache
	group   *cache.Group
}

// NewHTTPClient is the upstream client: connection reuse sized for a gateway, no
// redirects followed silently (the caller sees the 3xx), no overall timeout (each attempt
// has its own).
func NewHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// New builds a client for every integration of cfg. An integration whose secrets cannot
// be resolved is kept, marked misconfigured, and refuses calls: it never sends an empty
// secret. New fails only for programming errors (missing options).
func New(cfg *config.Config, opts Options) (*Runtime, error) {
	if opts.LookupEnv == nil || opts.Logger == nil || opts.Metrics == nil {
		return nil, fmt.Errorf("integration: LookupEnv, Logger and Metrics are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewHTTPClient()
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = MaxResponseBytesDefault
	}
	r := &Runtime{opts: opts, clients: map[string]*client{}, group: cache.NewGroup(sharedCallTimeout)}
	if opts.Redis != nil {
		r.cache = cache.NewRedis(opts.Redis, "junction:cache:", opts.Clock)
	} else {
		r.cache = cache.NewMemory(cacheEntriesDefault, cacheBytesDefault, opts.Clock)
	}
	for _, in := range cfg.Integrations {
		c := newClient(r, in)
		r.clients[in.Name] = c
		r.names = append(r.names, in.Name)
	}
	sort.Strings(r.names)
	return r, nil
}

// Close stops background work (batchers flush what they hold).
func (r *Runtime) Close() {
	for _, c := range r.clients {
		c.close()
	}
}

// CallOptions are per-call settings beside the parameters.
type CallOptions struct {
	// IdempotencyKey is passed through instead of a generated one (B10: a caller's key wins).
	IdempotencyKey string
	// Body is the raw body of a `body_type: binary` operation.
	Body []byte
}

// Call invokes an operation with all of its integration's policies. params holds the
// path, query, body, header and GraphQL-variable parameters by name. An upstream answer
// of any status is a Result; Junction's own failures are *Error.
func (r *Runtime) Call(ctx context.Context, integration, operation string, params map[string]any, co CallOptions) (*Result, error) {
	c, err := r.client(integration)
	if err != nil {
		return nil, err
	}
	op := c.cfg.Operation(operation)
	if op == nil {
		return nil, &Error{Kind: KindUnknownOperation, Integration: integration, Operation: operation, Detail: "no such operation"}
	}
	return c.call(ctx, op, params, co)
}

// Operation returns the declaration of an operation, or nil.
func (r *Runtime) Operation(integration, operation string) *config.Operation {
	c, ok := r.clients[integration]
	if !ok {
		return nil
	}
	return c.cfg.Operation(operation)
}

// ForwardRequest is a raw request for an integration's base URL (the proxy, B12).
type ForwardRequest struct {
	Method string // one of ForwardMethods
	// Path is the escaped path (as received: r.URL.EscapedPath(), never the decoded
	// one) to append to the base URL's, starting with "/". It is cleaned and must stay
	// under the base path; encoded '/', '?' and '#' stay encoded.
	Path     string
	RawQuery string
	// Header holds the end-to-end headers to pass on (no Authorization: credentials are
	// the integration's). The integration's static headers and credentials replace a
	// header of the same name.
	Header http.Header
	Body   []byte
}

// Forward sends a raw request to an integration's base URL with its credentials and all
// of its policies. A path that would leave the base path, or a method not in
// ForwardMethods, is refused as KindInvalidParams before anything is sent.
func (r *Runtime) Forward(ctx context.Context, integration string, fr ForwardRequest) (*Result, error) {
	c, err := r.client(integration)
	if err != nil {
		return nil, err
	}
	return c.forward(ctx, fr)
}

func (r *Runtime) client(name string) (*client, error) {
	c, ok := r.clients[name]
	if !ok {
		return nil, &Error{Kind: KindUnknownIntegration, Integration: name, Detail: "no such integration"}
	}
	return c, nil
}

// Status is one row of GET /integrations/status.
type Status struct {
	Name          string
	Type          string
	Status        string // healthy, degraded, down, misconfigured
	CircuitState  string // closed, open, half-open
	ErrorRate     float64
	LastSuccessAt *time.Time
	LastFailureAt *time.Time
	Reason        string // why misconfigured
}

// Health is GET /integrations/{name}/health.
type Health struct {
	Name                string
	Status              string
	CircuitState        string
	LatencyP50          time.Duration
	LatencyP99          time.Duration
	SuccessRate         float64
	LastError           string // "" when none
	Calls               int    // in the window
	ContractMismatches  int    // in the window
	LastContractProblem string
	Reason              string
}

// Statuses lists every integration, sorted by name.
func (r *Runtime) Statuses() []Status {
	out := make([]Status, 0, len(r.names))
	now := r.opts.Clock.Now()
	for _, name := range r.names {
		c := r.clients[name]
		snap := c.stats.snapshot(now)
		circuit := c.circuitState()
		out = append(out, Status{
			Name: name, Type: string(c.cfg.Type),
			Status:        status(c.misconfigured != "", circuit, snap),
			CircuitState:  circuit,
			ErrorRate:     1 - snap.SuccessRate,
			LastSuccessAt: timePtr(snap.LastSuccess),
			LastFailureAt: timePtr(snap.LastFailure),
			Reason:        c.misconfigured,
		})
	}
	return out
}

// Health reports one integration's health over the sliding window.
func (r *Runtime) Health(name string) (Health, error) {
	c, err := r.client(name)
	if err != nil {
		return Health{}, err
	}
	snap := c.stats.snapshot(r.opts.Clock.Now())
	circuit := c.circuitState()
	return Health{
		Name: name, Status: status(c.misconfigured != "", circuit, snap), CircuitState: circuit,
		LatencyP50: snap.P50, LatencyP99: snap.P99, SuccessRate: snap.SuccessRate,
		LastError: snap.LastError, Calls: snap.Calls, ContractMismatches: snap.Mismatches,
		LastContractProblem: snap.LastMismatch, Reason: c.misconfigured,
	}, nil
}

// ResetCircuit closes an integration's circuit by hand and returns the new state.
func (r *Runtime) ResetCircuit(name string) (string, error) {
	c, err := r.client(name)
	if err != nil {
		return "", err
	}
	if c.breaker != nil {
		c.breaker.Reset()
	}
	return c.circuitState(), nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
