package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/eventroute"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/webhook"
)

// AddrDefault is where `junction serve` listens unless told otherwise: loopback only, so a
// first start never exposes the admin API to the network.
const AddrDefault = "127.0.0.1:8080"

// Options configure Serve. Zero values mean the documented defaults.
type Options struct {
	ConfigPaths     []string      // configuration files; none is allowed (an empty model)
	DatabaseURL     string        // see backend.Open; empty means SQLite junction.db
	RedisURL        string        // redis:// or rediss://; validated, used by later capabilities
	Addr            string        // listen address; AddrDefault when empty
	ShutdownTimeout time.Duration // server.DefaultShutdownTimeout when zero
	Logger          *slog.Logger
	// Stderr receives the first admin token, printed once, when the store has no token.
	Stderr io.Writer
	// LookupEnv resolves env(NAME) references; os.LookupEnv in production.
	LookupEnv config.LookupEnv
	// Reload triggers a configuration reload on each receive (SIGHUP in production).
	Reload <-chan struct{}
	// Listening, if set, is called with the bound address once the server accepts
	// connections (tests listen on port 0 and need the real port).
	Listening func(net.Addr)
}

// Serve runs Junction until ctx is cancelled: it loads the configuration, opens and
// migrates the store, makes the first admin token if there is none, and serves HTTP. It
// returns nil after a clean shutdown.
func Serve(ctx context.Context, opts Options) error {
	start := time.Now()
	if opts.Addr == "" {
		opts.Addr = AddrDefault
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = server.DefaultShutdownTimeout
	}
	if opts.Logger == nil || opts.LookupEnv == nil || opts.Stderr == nil {
		return errors.New("app: Logger, LookupEnv and Stderr are required")
	}
	log := opts.Logger
	if err := checkRedisURL(opts.RedisURL); err != nil {
		return err
	}

	cfg, err := loadConfig(opts.ConfigPaths, log)
	if err != nil {
		return err
	}

	st, err := backend.Open(ctx, opts.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open storage %s: %w", backend.Describe(opts.DatabaseURL), err)
	}
	defer st.Close()
	applied, err := st.MigrateUp(ctx)
	if err != nil {
		return fmt.Errorf("migrate storage: %w", err)
	}
	for _, m := range applied {
		log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	if err := announceFirstAdmin(ctx, st, opts.Stderr, log); err != nil {
		return err
	}

	rdb, err := openRedis(ctx, opts.RedisURL)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
	}
	bus := event.New(log)
	defer bus.Close()
	registry := telemetry.NewRegistry()
	metrics, err := integration.NewMetrics(registry)
	if err != nil {
		return err
	}
	newRuntime := func(cfg *config.Config) (*integration.Runtime, error) {
		return integration.New(cfg, integration.Options{
			LookupEnv: opts.LookupEnv, Logger: log, Metrics: metrics, Bus: bus, Redis: rdb,
		})
	}
	rt, err := newRuntime(cfg)
	if err != nil {
		return err
	}
	defer func() { rt.Close() }()

	// Calls (gateway, event routes, flows) use the current runtime; reload swaps it.
	var current atomic.Pointer[integration.Runtime]
	current.Store(rt)
	bridge := newFlowBridge(log, bus, nil, current.Load)

	webhookMetrics, err := webhook.NewMetrics(registry)
	if err != nil {
		return err
	}
	hooks, err := webhook.New(st, webhook.SettingsFrom(cfg), webhook.Options{Logger: log, Metrics: webhookMetrics, Bus: bus, Published: bridge.eventPublished})
	if err != nil {
		return err
	}
	bridge.hooks = hooks
	hooks.SetSources(webhook.NewSources(cfg, opts.LookupEnv, clock.Real{}))
	deliveryCtx, stopDelivery := context.WithCancel(context.WithoutCancel(ctx))
	deliveryDone := make(chan error, 1)
	go func() { deliveryDone <- hooks.Run(deliveryCtx) }()
	// After the HTTP server has drained: stop leasing, let attempts in flight finish.
	defer func() {
		stopDelivery()
		<-deliveryDone
	}()

	flowMetrics, err := flow.NewMetrics(registry)
	if err != nil {
		return err
	}
	flowMetrics.SetDeadLetters(st)
	newFlows := func(cfg *config.Config) (*flow.Engine, error) {
		return flow.New(cfg, flowOptions(opts.LookupEnv, log, bridge, st, flowMetrics))
	}
	engine, err := newFlows(cfg)
	if err != nil {
		return fmt.Errorf("flows:\n%w", err)
	}
	flows := &flowHost{bridge: bridge}
	flows.engine.Store(engine)
	_ = engine.Start() // a flow that cannot start says why in GET /flows/{name}
	defer flows.close()

	srv, err := server.New(server.Options{
		Tokens: auth.NewService(st, time.Now), Ready: server.StoreCheck(st),
		Logger: log, Registry: registry, Gateway: rt, Webhooks: hooks, Flows: flows,
	})
	if err != nil {
		return err
	}
	// Events with publish_to go to webhooks and integrations; reload swaps the routes.
	caller := callerFunc(func(ctx context.Context, in, op string, p map[string]any, co integration.CallOptions) (*integration.Result, error) {
		return current.Load().Call(ctx, in, op, p, co)
	})
	stopRoutes := eventroute.Start(bus, cfg, hooks, caller, log)
	defer func() { stopRoutes() }()

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	log.Info("junction serving",
		"addr", ln.Addr().String(),
		"storage", backend.Describe(opts.DatabaseURL),
		"integrations", len(cfg.Integrations),
		"flows", len(cfg.Flows),
		"startup", time.Since(start).Round(time.Millisecond).String())
	if opts.Listening != nil {
		opts.Listening(ln.Addr())
	}

	reloadDone := make(chan struct{})
	reloadCtx, stopReload := context.WithCancel(ctx)
	go func() {
		defer close(reloadDone)
		watchReload(reloadCtx, opts, func(cfg *config.Config) error {
			next, err := newRuntime(cfg)
			if err != nil {
				return err
			}
			nextFlows, err := newFlows(cfg)
			if err != nil {
				next.Close()
				return err
			}
			srv.SetGateway(next)
			current.Store(next)
			// Calls already running keep the old runtime until they finish; closing it
			// flushes its batches.
			rt.Close()
			rt = next
			stopRoutes()
			stopRoutes = eventroute.Start(bus, cfg, hooks, caller, log)
			// Inbound sources follow the new configuration; delivery settings (schedule,
			// workers) take effect at the next start.
			hooks.SetSources(webhook.NewSources(cfg, opts.LookupEnv, clock.Real{}))
			// Flows drain their messages in flight, then the new ones start.
			flows.replace(nextFlows)
			return nil
		})
	}()
	defer func() {
		stopReload()
		<-reloadDone
	}()

	if err := srv.Serve(ctx, ln, opts.ShutdownTimeout); err != nil {
		return err
	}
	log.Info("junction stopped")
	return nil
}

// callerFunc adapts a function to eventroute.Caller.
type callerFunc func(ctx context.Context, in, op string, p map[string]any, co integration.CallOptions) (*integration.Result, error)

func (f callerFunc) Call(ctx context.Context, in, op string, p map[string]any, co integration.CallOptions) (*integration.Result, error) {
	return f(ctx, in, op, p, co)
}

// watchReload re-reads the configuration on each reload request and hands it to apply.
// A configuration with errors is rejected as a whole and the running one stays in force.
func watchReload(ctx context.Context, opts Options, apply func(*config.Config) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-opts.Reload:
			if !ok {
				return
			}
			cfg, err := loadConfig(opts.ConfigPaths, opts.Logger)
			if err != nil {
				opts.Logger.Error("configuration reload rejected; keeping the running configuration", "error", err)
				continue
			}
			if err := apply(cfg); err != nil {
				opts.Logger.Error("configuration reload failed; keeping the running configuration", "error", err)
				continue
			}
			opts.Logger.Info("configuration reloaded", "integrations", len(cfg.Integrations))
		}
	}
}

// loadConfig loads the files, logging warnings; errors make it fail with every message.
func loadConfig(paths []string, log *slog.Logger) (*config.Config, error) {
	if len(paths) == 0 {
		return &config.Config{}, nil
	}
	cfg, diags := config.Load(paths...)
	if err := diags.Err(); err != nil {
		return nil, fmt.Errorf("configuration has errors:\n%w", err)
	}
	for _, d := range diags.Filter(config.SeverityWarning) {
		log.Warn(d.Message, "at", d.Pos.String())
	}
	return cfg, nil
}

// announceFirstAdmin makes an admin token when the store has none at all and prints it
// once on stderr: the only way into a fresh installation.
func announceFirstAdmin(ctx context.Context, st store.Store, stderr io.Writer, log *slog.Logger) error {
	secret, created, err := auth.EnsureFirstAdmin(ctx, st, time.Now())
	if err != nil {
		return fmt.Errorf("create first admin token: %w", err)
	}
	if created {
		fmt.Fprintf(stderr, "\nNo API token existed, so Junction created an admin token. It is shown only this once:\n\n    %s\n\nUse it as 'Authorization: Bearer <token>'. Make more with 'junction token create'.\n\n", secret)
		log.Info("first admin token created")
	}
	return nil
}

func checkRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("REDIS_URL: expected redis://host:port[/db] or rediss://…, found %q", redactURL(raw))
	}
	return nil
}

// openRedis connects to REDIS_URL when it is set. Rate limits and the response cache are
// then shared by every Junction process using that Redis; a Redis that does not answer
// at start-up stops the start, since running with local limits would silently multiply
// the allowed rate by the number of processes.
// It returns a nil interface (not a nil *redis.Client inside one) when REDIS_URL is unset,
// so that callers' `Redis != nil` checks mean what they say.
func openRedis(ctx context.Context, raw string) (redis.UniversalClient, error) {
	if raw == "" {
		return nil, nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %s: %w", redactURL(raw), err)
	}
	c := redis.NewClient(o)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("REDIS_URL %s does not answer: %w", redactURL(raw), err)
	}
	return c, nil
}

// redactURL hides a password in a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
