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
	"github.com/junctionhq/junction/internal/lifecycle"
	"github.com/junctionhq/junction/internal/policy/cache"
	"github.com/junctionhq/junction/internal/policy/sharedbreaker"
	"github.com/junctionhq/junction/internal/report"
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
	HTTPClient       *http.Client          // upstream calls; default Previous's, else NewHTTPClient()
	Redis            redis.UniversalClient // nil: rate limits and cache are local to the process
	MaxResponseBytes int64                 // default MaxResponseBytesDefault
	Reports          *report.Recorder      // every finished call is recorded here; nil: none
	// Circuits shares circuit-breaker transitions with the other processes on the same
	// Redis; nil: each process's circuits are its own. It outlives runtimes (a reload
	// hands it on); its owner starts and closes it.
	Circuits *sharedbreaker.Sync
	// Previous is the runtime this one replaces on a reload, or nil. Every integration
	// whose settings and resolved secrets are unchanged keeps its state: circuit breaker,
	// call statistics, rate-limit counters and credentials; the response cache, the
	// shared-miss group and the default HTTP client (its connections) carry over as a
	// whole. An integration whose settings changed starts fresh. Previous stays usable
	// (calls in flight finish on it) and is closed as usual; closing it ends only what
	// it alone owns (its batchers). From then on, circuit events of an adopted breaker
	// are reported through this runtime's Logger, Metrics and Bus: build a runtime with
	// Previous only to replace Previous.
	Previous *Runtime
}

// Caller calls an integration's operation with all of its policies. *Runtime is one;
// whatever only calls operations (the gateway API, event routes, flow steps) asks for
// this, so that a reload can hand it the current runtime.
type Caller interface {
	Call(ctx context.Context, integration, operation string, params map[string]any, co CallOptions) (*Result, error)
}

var (
	_ Caller              = (*Runtime)(nil)
	_ lifecycle.Component = (*Runtime)(nil)
)

// Runtime holds the live client of every configured integration and is the one entry
// point for calling them: the gateway API, the proxy, `junction call` and flow steps all
// come through Call or Forward.
type Runtime struct {
	env     *env
	clients map[string]*client
	names   []string
	group   *cache.Group // env.group; a field of its own for tests
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

// New compiles a client for every integration of cfg: resolved settings and one call
// pipeline per operation. An integration whose secrets cannot be resolved is kept,
// marked misconfigured, and refuses calls: it never sends an empty secret. New fails
// only for programming errors (missing options). It starts nothing: a runtime that is
// never used needs no Stop.
func New(cfg *config.Config, opts Options) (*Runtime, error) {
	if opts.LookupEnv == nil || opts.Logger == nil || opts.Metrics == nil {
		return nil, fmt.Errorf("integration: LookupEnv, Logger and Metrics are required")
	}
	prev := opts.Previous
	e := &env{
		clock: opts.Clock, logger: opts.Logger, metrics: opts.Metrics, bus: opts.Bus,
		http: opts.HTTPClient, redis: opts.Redis, maxResponseBytes: opts.MaxResponseBytes,
		lookupEnv: opts.LookupEnv, reports: opts.Reports, circuits: opts.Circuits,
	}
	if e.clock == nil {
		e.clock = clock.Real{}
	}
	if e.http == nil {
		e.http = NewHTTPClient()
		if prev != nil {
			e.http = prev.env.http
		}
	}
	if e.maxResponseBytes <= 0 {
		e.maxResponseBytes = MaxResponseBytesDefault
	}
	switch {
	case prev != nil && prev.env.redis == e.redis:
		e.cache, e.group = prev.env.cache, prev.env.group
	case e.redis != nil:
		e.cache, e.group = cache.NewRedis(e.redis, "junction:cache:", e.clock), cache.NewGroup(sharedCallTimeout)
	default:
		e.cache, e.group = cache.NewMemory(cacheEntriesDefault, cacheBytesDefault, e.clock), cache.NewGroup(sharedCallTimeout)
	}
	r := &Runtime{env: e, clients: make(map[string]*client, len(cfg.Integrations)), group: e.group}
	for _, in := range cfg.Integrations {
		var before *client
		if prev != nil {
			before = prev.clients[in.Name]
		}
		r.clients[in.Name] = newClient(e, in, before)
		r.names = append(r.names, in.Name)
	}
	sort.Strings(r.names)
	return r, nil
}

// Start does nothing: clients are ready once New returns, and a batcher starts its timer
// with its first call. It is here so that the runtime is a lifecycle.Component.
func (r *Runtime) Start(context.Context) error { return nil }

// Stop is Close: batchers send what they hold and stop.
func (r *Runtime) Stop(context.Context) error {
	r.Close()
	return nil
}

// Close stops background work (batchers flush what they hold). State a later runtime
// adopted (breakers, statistics, caches, rate limits) is not touched.
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
	op, ok := c.ops[operation]
	if !ok {
		return nil, &Error{Kind: KindUnknownOperation, Integration: integration, Operation: operation, Detail: "no such operation"}
	}
	return c.call(ctx, op, params, co)
}

// OperationInfo is what a caller may need to know of an operation before calling it.
type OperationInfo struct {
	Integration string
	Name        string
	Method      string // GET, POST, …; "INTERNAL" for operations Junction computes
	// BodyType is "binary" when the operation takes its body raw (CallOptions.Body),
	// else "json".
	BodyType string
	op       *operation
}

// Operation describes an operation; ok is false when the integration or the operation
// does not exist.
func (r *Runtime) Operation(integration, operation string) (info OperationInfo, ok bool) {
	c, found := r.clients[integration]
	if !found {
		return OperationInfo{}, false
	}
	op, found := c.ops[operation]
	if !found {
		return OperationInfo{}, false
	}
	info = OperationInfo{Integration: integration, Name: operation, Method: op.method, BodyType: "json", op: op}
	if op.binary {
		info.BodyType = "binary"
	}
	return info, true
}

// ParamsFromStrings converts key=value pairs (from the command line, a query string)
// into typed parameters using the operation's declarations: integers, numbers, booleans,
// and JSON for lists, objects and json fields. Undeclared keys stay strings (and are
// then reported as unknown by the call).
func (o OperationInfo) ParamsFromStrings(kv map[string]string) (map[string]any, error) {
	if o.op == nil {
		return nil, fmt.Errorf("no operation %s.%s", o.Integration, o.Name)
	}
	return paramsFromStrings(o.op, kv)
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
	now := r.env.clock.Now()
	for _, name := range r.names {
		c := r.clients[name]
		snap := c.st.stats.snapshot(now)
		circuit := c.circuitState()
		out = append(out, Status{
			Name: name, Type: c.typ,
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
	snap := c.st.stats.snapshot(r.env.clock.Now())
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
	if c.st.breaker != nil {
		c.st.breaker.Reset()
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
