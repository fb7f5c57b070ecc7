package integration

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/credential"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/policy/breaker"
	"github.com/junctionhq/junction/internal/policy/ratelimit"
	"github.com/junctionhq/junction/internal/policy/retry"
)

// client is one integration at run time: its resolved settings and live policies.
type client struct {
	rt            *Runtime
	cfg           *config.Integration
	misconfigured string // why it cannot be used; "" when it can

	baseURL       string
	base          *url.URL // baseURL parsed, for the proxy; nil with baseErr when it is not a URL
	baseErr       error
	staticHeaders http.Header
	cred          credential.Applier
	breaker       *breaker.Breaker  // nil without circuit_breaker
	limiter       ratelimit.Limiter // nil without rate_limit
	retry         retry.Policy
	batcher       *batcher // nil without batching
	stats         *stats
	openedAt      time.Time // when the circuit last opened, for IntegrationCircuitClosed
}

// newClient resolves an integration's settings. Anything unresolvable makes it
// misconfigured (with the reason) rather than failing the whole runtime.
func newClient(rt *Runtime, in *config.Integration) *client {
	c := &client{rt: rt, cfg: in, stats: newStats(), staticHeaders: http.Header{}}
	log := rt.opts.Logger.With("integration", in.Name)
	if problems := in.EnvProblems(rt.opts.LookupEnv); len(problems) > 0 {
		reasons := make([]string, len(problems))
		for i, p := range problems {
			reasons[i] = p.Setting + ": " + p.Err.Error()
		}
		c.misconfigured = strings.Join(reasons, "; ")
		log.Warn("integration disabled: configuration incomplete", "reason", c.misconfigured, "at", in.Pos.String())
		return c
	}
	if in.BaseURL != nil {
		c.baseURL, _ = in.BaseURL.Resolve(rt.opts.LookupEnv)
	}
	c.base, c.baseErr = parseHTTPURL(c.baseURL)
	for _, h := range in.Headers {
		v, _ := h.Value.Resolve(rt.opts.LookupEnv)
		c.staticHeaders.Set(h.Name, v)
	}
	var err error
	if c.cred, err = credential.New(in.Auth, rt.opts.LookupEnv, credential.Options{HTTPClient: rt.opts.HTTPClient, Clock: rt.opts.Clock}); err != nil {
		c.misconfigured = err.Error()
		log.Warn("integration disabled: credentials unusable", "reason", c.misconfigured)
		return c
	}
	if err := c.buildPolicies(); err != nil {
		c.misconfigured = err.Error()
		log.Error("integration disabled: policy settings rejected", "reason", c.misconfigured)
	}
	return c
}

func (c *client) buildPolicies() error {
	in, rt := c.cfg, c.rt
	if cb := in.CircuitBreaker; cb != nil {
		b, err := breaker.New(breaker.Config{
			Failures: cb.Failures, Window: cb.Window, Consecutive: cb.Consecutive,
			ResetAfter: cb.ResetAfter, HalfOpenProbes: cb.HalfOpenProbes, MaxConcurrent: cb.MaxConcurrent,
			Clock: rt.opts.Clock, OnStateChange: c.circuitChanged,
		})
		if err != nil {
			return err
		}
		c.breaker = b
		rt.opts.Metrics.circuitState.WithLabelValues(in.Name).Set(0)
	}
	if rl := in.RateLimit; rl != nil {
		cfg := ratelimit.Config{Requests: rl.Requests, Window: rl.Window, Clock: rt.opts.Clock}
		var err error
		if rt.opts.Redis != nil {
			c.limiter, err = ratelimit.NewRedis(rt.opts.Redis, "junction:ratelimit:"+in.Name, cfg)
		} else {
			c.limiter, err = ratelimit.NewLocal(cfg)
		}
		if err != nil {
			return err
		}
	}
	if in.Retry != nil {
		c.retry = retry.FromConfig(in.Retry)
	}
	if b := in.Batching; b != nil && b.Enabled {
		bt, err := newBatcher(c, b)
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
}

func (c *client) circuitState() string {
	if c.breaker == nil {
		return "closed"
	}
	return c.breaker.State().String()
}

// circuitChanged publishes IntegrationCircuitOpened / IntegrationCircuitClosed with the
// payload fields the configuration's event blocks declare, and updates the metrics.
func (c *client) circuitChanged(from, to breaker.State, failures int) {
	now := c.rt.opts.Clock.Now().UTC()
	name := c.cfg.Name
	m := c.rt.opts.Metrics
	m.transitions.WithLabelValues(name, to.String()).Inc()
	m.circuitState.WithLabelValues(name).Set(map[breaker.State]float64{breaker.Closed: 0, breaker.HalfOpen: 1, breaker.Open: 2}[to])
	c.rt.opts.Logger.Warn("circuit state changed", "integration", name, "from", from.String(), "to", to.String(), "failures", failures)
	bus := c.rt.opts.Bus
	switch {
	case to == breaker.Open && from == breaker.Closed:
		c.openedAt = now
		if bus != nil {
			bus.Publish(event.Make(event.IntegrationCircuitOpened, event.SourceJunction, now, map[string]any{
				"integration": name, "failures": failures, "opened_at": now,
			}))
		}
	case to == breaker.Closed:
		openFor := 0.0
		if !c.openedAt.IsZero() {
			openFor = now.Sub(c.openedAt).Seconds()
		}
		if bus != nil {
			bus.Publish(event.Make(event.IntegrationCircuitClosed, event.SourceJunction, now, map[string]any{
				"integration": name, "closed_at": now, "open_duration_seconds": int64(openFor),
			}))
		}
	}
}

// deadline gives a call without a deadline of its own the default one.
func deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DeadlineDefault)
}

// errorText renders a failure for health's last_error without internal wrapping noise.
func errorText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return string(e.Kind) + ": " + e.Detail
	}
	return err.Error()
}
