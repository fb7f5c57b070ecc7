package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/credential"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/policy/breaker"
	"github.com/junctionhq/junction/internal/policy/cache"
	"github.com/junctionhq/junction/internal/policy/ratelimit"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/policy/sharedbreaker"
	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/tlsfiles"
)

// env is what every client of a runtime shares: its dependencies, resolved once.
type env struct {
	clock            clock.Clock
	logger           *slog.Logger
	metrics          *Metrics
	bus              *event.Bus
	http             *http.Client
	redis            redis.UniversalClient
	maxResponseBytes int64
	lookupEnv        config.LookupEnv
	cache            cache.Cache
	group            *cache.Group
	reports          *report.Recorder    // nil: no usage reports
	circuits         *sharedbreaker.Sync // nil: circuits are this process's own
}

// client is one integration compiled for calls: its resolved settings, its live state and
// one compiled pipeline per operation (and one for the proxy). Nothing here reads the
// configuration model once the client is built.
type client struct {
	env           *env
	name          string
	typ           string
	misconfigured string // why it cannot be used; "" when it can

	baseURL       string
	base          *url.URL // baseURL parsed, for the proxy; nil with baseErr when it is not a URL
	baseErr       error
	staticHeaders http.Header
	signature     *bodySignature // `type: webhook` body signature; nil without
	retry         retry.Policy
	st            *state
	// version identifies the integration's settings without their secret values; it is
	// part of every cache key, so that changed settings never see the old ones' answers.
	version string

	ops     map[string]*operation
	proxy   *operation
	batcher *batcher // nil without batching
	socket  *socket  // a websocket integration's connections; nil for the other types
}

// state is what an integration keeps between calls, and what a reload carries over to
// the next runtime while the integration's settings and resolved secrets stay the same.
type state struct {
	key     [32]byte // settings and resolved values (see fingerprint)
	stats   *stats
	cred    credential.Applier // resolved credentials (an OAuth2 token cache)
	breaker *breaker.Breaker   // nil without circuit_breaker
	limiter ratelimit.Limiter  // nil without rate_limit
	circuit *circuit
	redis   redis.UniversalClient // the backend limiter lives on
	http    *http.Client          // the client cred fetches tokens with
	// calls is the client calls are sent with: http, or with `tls { … }` a client of the
	// integration's own (same transport settings and dialer, its TLS configuration).
	// The state's key covers the TLS files' contents, so rotated files make a new one.
	calls *http.Client
}

// circuit turns breaker transitions into events, logs and metrics. A breaker adopted by
// a later runtime reports through that runtime's env from then on.
type circuit struct {
	name     string
	env      atomic.Pointer[env]
	openedAt time.Time // when the circuit last opened; transitions arrive one at a time
}

// newClient compiles an integration. Anything unresolvable makes it misconfigured (with
// the reason) rather than failing the whole runtime. prev is the previous runtime's
// client of the same name, or nil: its state is adopted when the settings are equal.
func newClient(e *env, in *config.Integration, prev *client) *client {
	key, version := fingerprint(in, e.lookupEnv)
	c := &client{env: e, name: in.Name, typ: string(in.Type), staticHeaders: http.Header{}, version: version}
	c.ops = make(map[string]*operation, len(in.Operations))
	for _, decl := range in.Operations {
		c.ops[decl.Name] = newOperation(in, decl)
	}
	c.proxy = newProxyOperation(in)
	log := e.logger.With("integration", in.Name)
	if problems := in.EnvProblems(e.lookupEnv); len(problems) > 0 {
		reasons := make([]string, len(problems))
		for i, p := range problems {
			reasons[i] = p.Setting + ": " + p.Err.Error()
		}
		c.misconfigured = strings.Join(reasons, "; ")
		log.Warn("integration disabled: configuration incomplete", "reason", c.misconfigured, "at", in.Pos.String())
		c.st = &state{key: key, stats: newStats()}
		return c
	}
	if in.BaseURL != nil {
		c.baseURL, _ = in.BaseURL.Resolve(e.lookupEnv)
	}
	if in.Type == config.TypeWebSocket {
		c.base, c.baseErr = parseSocketURL(c.baseURL)
	} else {
		c.base, c.baseErr = parseHTTPURL(c.baseURL)
	}
	for _, h := range in.Headers {
		v, _ := h.Value.Resolve(e.lookupEnv)
		c.staticHeaders.Set(h.Name, v)
	}
	c.signature = newBodySignature(in.Signature)
	c.retry = retry.FromConfig(in.Retry)
	var err error
	if prev != nil && prev.misconfigured == "" && prev.st.key == key {
		c.st, err = adoptState(e, in, prev.st)
		log.Debug("integration unchanged: breaker, statistics, cache and rate limit carried over")
	} else {
		c.st, err = newState(e, in, key)
	}
	if err == nil {
		err = c.compile(in)
	}
	if err != nil {
		c.misconfigured = err.Error()
		log.Error("integration disabled: credentials or policy settings rejected", "reason", c.misconfigured)
	}
	return c
}

// newState resolves the credentials and builds the policies that keep state.
func newState(e *env, in *config.Integration, key [32]byte) (*state, error) {
	st := &state{key: key, stats: newStats(), circuit: &circuit{name: in.Name}}
	st.circuit.env.Store(e)
	var err error
	if st.cred, err = newCredentials(e, in); err != nil {
		return st, err
	}
	st.http = e.http
	if st.calls, err = newCallClient(e, in); err != nil {
		return st, err
	}
	if cb := in.CircuitBreaker; cb != nil {
		b, err := breaker.New(breaker.Config{
			Failures: cb.Failures, Window: cb.Window, Consecutive: cb.Consecutive,
			ResetAfter: cb.ResetAfter, HalfOpenProbes: cb.HalfOpenProbes, MaxConcurrent: cb.MaxConcurrent,
			Clock: e.clock, OnChange: st.circuit.changed,
		})
		if err != nil {
			return st, err
		}
		st.breaker = b
		if e.circuits != nil {
			e.circuits.Register(in.Name, b)
		}
		e.metrics.circuitState.WithLabelValues(in.Name).Set(0)
	}
	st.limiter, err = newLimiter(e, in)
	st.redis = e.redis
	return st, err
}

// adoptState hands the state of the previous runtime's client (same settings, same
// resolved secrets) to the new one. The breaker, the statistics and the circuit's
// history always carry over; the rate-limit counters only on the same backend, and the
// credentials (an OAuth2 token) only with the same HTTP client, which fetches tokens.
// From here on the breaker reports through the new runtime's env.
func adoptState(e *env, in *config.Integration, prev *state) (*state, error) {
	st := *prev
	if st.breaker != nil && e.circuits != nil && st.circuit.env.Load().circuits != e.circuits {
		e.circuits.Register(in.Name, st.breaker)
	}
	st.circuit.env.Store(e)
	var err error
	if st.redis != e.redis {
		if st.limiter, err = newLimiter(e, in); err != nil {
			return &st, err
		}
		st.redis = e.redis
	}
	if st.http != e.http {
		if st.cred, err = newCredentials(e, in); err != nil {
			return &st, err
		}
		if st.calls, err = newCallClient(e, in); err != nil {
			return &st, err
		}
		st.http = e.http
	}
	return &st, nil
}

// newCallClient is the client an integration's calls go through: the runtime's, or with
// `tls { … }` a copy of its transport (pool sizes, timeouts, proxy and dialer alike) with
// the block's CA, client certificate and server name. Credentials (an OAuth2 token
// endpoint, often another host) keep the runtime's client and the system's CAs.
func newCallClient(e *env, in *config.Integration) (*http.Client, error) {
	if in.TLS == nil {
		return e.http, nil
	}
	tc, err := tlsfiles.ClientConfig(in.TLS.ClientFiles())
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	var t *http.Transport
	switch base := e.http.Transport.(type) {
	case *http.Transport:
		t = base.Clone()
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	default:
		return nil, fmt.Errorf("tls: the runtime's HTTP transport (%T) cannot take a TLS configuration", base)
	}
	t.TLSClientConfig = tc
	return &http.Client{Transport: t, CheckRedirect: e.http.CheckRedirect, Jar: e.http.Jar, Timeout: e.http.Timeout}, nil
}

func newCredentials(e *env, in *config.Integration) (credential.Applier, error) {
	return credential.New(in.Auth, e.lookupEnv, credential.Options{HTTPClient: e.http, Clock: e.clock})
}

// newLimiter builds the rate limit: shared through Redis when the runtime has one,
// local to the process otherwise; nil without rate_limit.
func newLimiter(e *env, in *config.Integration) (ratelimit.Limiter, error) {
	rl := in.RateLimit
	if rl == nil {
		return nil, nil
	}
	cfg := ratelimit.Config{Requests: rl.Requests, Window: rl.Window, Clock: e.clock}
	if e.redis != nil {
		return ratelimit.NewRedis(e.redis, "junction:ratelimit:"+in.Name, cfg)
	}
	return ratelimit.NewLocal(cfg)
}

// compile builds the operations' pipelines and the batcher.
func (c *client) compile(in *config.Integration) error {
	if in.Type == config.TypeWebSocket {
		if c.baseErr != nil {
			return c.baseErr
		}
		s, err := newSocket(c, in)
		if err != nil {
			return err
		}
		c.socket = s
		for _, decl := range in.Operations {
			op := c.ops[decl.Name]
			if op.send, err = compileMessage(decl.Send.Message, decl.Send.Params, decl.Send.Reply); err != nil {
				return fmt.Errorf("operation %s: %w", decl.Name, err)
			}
		}
	}
	for _, decl := range in.Operations {
		op := c.ops[decl.Name]
		codec, err := operationCodec(in, decl, c.env.lookupEnv)
		if err != nil {
			return err
		}
		if codec != nil {
			op.codec, op.codecType = codec, []string{codec.ContentType()}
		}
	}
	for _, op := range c.ops {
		op.run = c.pipeline(in, op)
	}
	c.proxy.run = c.pipeline(in, c.proxy)
	if b := in.Batching; b != nil && b.Enabled {
		bt, err := newBatcher(c, in, b)
		if err != nil {
			return err
		}
		c.batcher = bt
	}
	return nil
}

func (c *client) close() {
	if c.batcher != nil {
		c.batcher.close()
	}
	if c.socket != nil {
		c.socket.caller.Close()
	}
}

func (c *client) circuitState() string {
	if c.st.breaker == nil {
		return "closed"
	}
	return c.st.breaker.State().String()
}

// changed publishes IntegrationCircuitOpened / IntegrationCircuitClosed with the payload
// fields the configuration's event blocks declare, and updates the metrics.
//
// A transition applied from another node (Remote) updates the metrics and is logged, but
// publishes no event: the node whose breaker made it publishes it, once for the cluster.
// This node's own transitions are announced to the others when circuits are shared.
func (ci *circuit) changed(c breaker.Change) {
	e := ci.env.Load()
	if e.circuits != nil && !c.Remote {
		e.circuits.Announce(ci.name, c)
	}
	from, to, failures := c.From, c.To, c.Failures
	if from == to {
		return // a reset of a closed circuit: only the other nodes need to hear of it
	}
	now := e.clock.Now().UTC()
	name := ci.name
	m := e.metrics
	m.transitions.WithLabelValues(name, to.String()).Inc()
	m.circuitState.WithLabelValues(name).Set(map[breaker.State]float64{breaker.Closed: 0, breaker.HalfOpen: 1, breaker.Open: 2}[to])
	e.logger.Warn("circuit state changed", "integration", name, "from", from.String(), "to", to.String(), "failures", failures, "remote", c.Remote)
	if c.Remote {
		if to == breaker.Open && from == breaker.Closed {
			ci.openedAt = now
		}
		return
	}
	switch {
	case to == breaker.Open && from == breaker.Closed:
		ci.openedAt = now
		if e.bus != nil {
			e.bus.Publish(event.Make(event.IntegrationCircuitOpened, event.SourceJunction, now, map[string]any{
				"integration": name, "failures": failures, "opened_at": now,
			}))
		}
	case to == breaker.Closed:
		openFor := 0.0
		if !ci.openedAt.IsZero() {
			openFor = now.Sub(ci.openedAt).Seconds()
		}
		if e.bus != nil {
			e.bus.Publish(event.Make(event.IntegrationCircuitClosed, event.SourceJunction, now, map[string]any{
				"integration": name, "closed_at": now, "open_duration_seconds": int64(openFor),
			}))
		}
	}
}

// deadline gives a call without a deadline of its own the default one.
func deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DeadlineDefault)
}

// errorText renders a failure for health's last_error without internal wrapping noise.
func errorText(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return string(e.Kind) + ": " + e.Detail
	}
	return err.Error()
}
