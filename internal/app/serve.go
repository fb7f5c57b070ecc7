package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/policy/sharedbreaker"
	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/runtime"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/tlsfiles"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/workflow"
)

// AddrDefault is where `junction serve` listens unless told otherwise: loopback only, so a
// first start never exposes the admin API to the network.
const AddrDefault = "127.0.0.1:8080"

// Options configure Serve. Zero values mean the documented defaults.
type Options struct {
	ConfigPaths []string // configuration files; none is allowed (an empty model)
	DatabaseURL string   // see backend.Open; empty means SQLite junction.db
	RedisURL    string   // redis:// or rediss://; what nodes share (see Options.RedisTLS)
	// RedisTLS are the files of a rediss:// REDIS_URL's TLS: a private CA, a client
	// certificate and key (--redis-ca, --redis-cert, --redis-key); empty: the system's
	// CAs, no client certificate.
	RedisTLS        tlsfiles.Client
	Addr            string        // listen address; AddrDefault when empty
	ShutdownTimeout time.Duration // server.DefaultShutdownTimeout when zero
	// ReportRetention is how long the usage reports' minutes are kept;
	// report.RetentionDefault when zero.
	ReportRetention time.Duration
	// EventRetention is how long stored events, and the finished webhook deliveries and
	// done handler executions of them, are kept; zero keeps them forever (the serve
	// command's default is webhook.EventRetentionDefault).
	EventRetention time.Duration
	Logger         *slog.Logger
	// Stderr receives the first admin token, printed once, when the store has no token.
	Stderr io.Writer
	// LookupEnv resolves env(NAME) references; os.LookupEnv in production.
	LookupEnv config.LookupEnv
	// Reload triggers a configuration reload on each receive (SIGHUP in production).
	Reload <-chan struct{}
	// Listening, if set, is called with the bound address once the server accepts
	// connections (tests listen on port 0 and need the real port).
	Listening func(net.Addr)
	// Version is the binary's version, for /openapi.json and GET /cluster.
	Version string
	// TLSCert and TLSKey, both or neither, make the API answer HTTPS only; each Reload
	// re-reads them. TLSClientCA (which needs them) lets clients authenticate with a
	// certificate signed by that CA instead of a bearer token.
	TLSCert, TLSKey, TLSClientCA string
	// NodeID names this process among the nodes sharing the database; random (host name
	// and a suffix) when empty.
	NodeID string
	// AdvertiseAddr is the address GET /cluster shows for this node; the bound listen
	// address when empty.
	AdvertiseAddr string
	// LeaseTTL is how long a node's leases outlive its last renewal (and how long it may
	// miss heartbeats before it is shown as down); cluster.TTLDefault when zero.
	LeaseTTL time.Duration
	// LeaseRenew is how often the node heartbeats and renews its leases; LeaseTTL/3 when
	// zero.
	LeaseRenew time.Duration
}

// Serve runs Junction until ctx is cancelled: it loads the configuration, binds the
// listen address, connects to Redis, opens and migrates the store, makes the first admin
// token if there is none, builds and starts the runtime, and serves HTTP; a reload
// request swaps the runtime. It returns nil after a clean shutdown.
//
// Everything that can be wrong with the settings is checked before the store is touched,
// so a mistyped address or an unreachable Redis leaves no migrated database and no admin
// token behind, and each error is reported once, by the caller.
func Serve(ctx context.Context, opts Options) error {
	start := time.Now()
	if err := opts.check(); err != nil {
		return err
	}
	log := opts.Logger
	cfg, err := loadConfig(opts.ConfigPaths, log)
	if err != nil {
		return err
	}
	tlsFiles, err := loadTLS(opts)
	if err != nil {
		return err
	}
	stopTracing, err := startTracing(ctx, opts, cfg)
	if err != nil {
		return err
	}
	defer stopTracing() // last: after the runtime stopped, its spans are flushed
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	defer ln.Close() // on an early return; the HTTP server closes it otherwise
	rdb, err := openRedis(ctx, opts.RedisURL, opts.RedisTLS)
	if err != nil {
		return err
	}
	st, err := openStorage(ctx, opts)
	if err != nil {
		if rdb != nil {
			rdb.Close()
		}
		return err
	}
	defer st.Close()
	node, err := startNode(ctx, opts, st, rdb != nil, ln.Addr(), configVersion(opts.ConfigPaths))
	if err != nil {
		if rdb != nil {
			rdb.Close()
		}
		return err
	}
	// Runs after the runtime and the report recorder have stopped (deferred before
	// them): the node's leases are given up when nothing runs under them any more.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if err := node.Stop(sctx); err != nil {
			log.Warn("stopping the cluster node", "error", err)
		}
	}()
	// One node of the cluster purges what is past its retention (report minutes, webhook
	// dead letters, events with their finished deliveries); the others would only repeat
	// its deletes.
	retention, err := node.Lease(ctx, RetentionLease, nil)
	if err != nil {
		if rdb != nil {
			rdb.Close()
		}
		return err
	}
	reports, err := report.NewRecorder(report.Options{Store: st, Logger: log, Retention: opts.ReportRetention, PurgeHeld: retention.Held})
	if err != nil {
		if rdb != nil {
			rdb.Close()
		}
		return err
	}
	_ = reports.Start(ctx)
	// Runs after the runtime has stopped, so the calls that finished last are written,
	// and before the store closes.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if err := reports.Stop(sctx); err != nil {
			log.Warn("the last minutes of the usage reports were not written", "error", err)
		}
	}()
	deps, closeDeps, err := processDeps(opts, st, rdb)
	if err != nil {
		return err
	}
	deps.Reports = reports
	deps.Node, deps.RetentionHeld = node, retention.Held
	deps.EventRetention = opts.EventRetention
	defer closeDeps()

	// Plugins outlive the runtimes: those registered through the API are loaded from the
	// store before the first runtime starts, so its flows find them, and kept in step
	// with the other nodes' registrations by a poll; the configuration's own are loaded
	// by each runtime's start. They are unloaded (post_shutdown) after the last runtime.
	// The plugin series are registered here rather than with the runtime's (newMetrics)
	// because the manager belongs to the process, not to a runtime.
	pluginMetrics, err := plugin.NewMetrics(deps.Registry)
	if err != nil {
		return err
	}
	plugins := plugin.NewManager(plugin.Options{Logger: log, LookupEnv: opts.LookupEnv, Metrics: pluginMetrics})
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		plugins.Close(sctx)
	}()
	deps.Plugins = plugins
	registry := plugin.NewRegistry(plugins, st, log)
	var inForce atomic.Pointer[config.Config]
	inForce.Store(cfg)
	registry.SetDeclared(func(name string) bool { return inForce.Load().Plugin(name) != nil })
	if err := registry.Sync(ctx); err != nil {
		log.Error("registered plugins did not all load", "error", err)
	}

	host, err := runtime.Start(ctx, cfg, deps)
	if err != nil {
		return err
	}
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		registry.Run(syncCtx, plugin.SyncInterval)
	}()
	defer func() { stopSync(); <-syncDone }()
	// Runs after the HTTP server has drained: flows drain, attempts in flight finish.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if err := host.Stop(sctx); err != nil {
			log.Warn("stopping", "error", err)
		}
	}()
	srv, err := server.New(server.Options{
		Tokens: auth.NewService(st, time.Now), Ready: server.StoreCheck(st),
		Logger: log, Registry: deps.Registry, Version: opts.Version,
		Gateway: host, Webhooks: host.Webhooks(), Flows: host.Flows(), Handlers: host.Handlers(), Jobs: host.Jobs(), Workflows: host.Workflows(),
		Events: deps.Bus, EventLog: st,
		Reports: reports, Cluster: node, Plugins: registry,
		TLS: tlsConfig(tlsFiles),
	})
	if err != nil {
		return err
	}
	log.Info("junction serving",
		"addr", ln.Addr().String(),
		"scheme", scheme(tlsFiles),
		"storage", backend.Describe(opts.DatabaseURL),
		"integrations", len(cfg.Integrations),
		"flows", len(cfg.Flows),
		"node", node.ID(),
		"startup", time.Since(start).Round(time.Millisecond).String())
	if opts.Listening != nil {
		opts.Listening(ln.Addr())
	}
	defer watchReload(ctx, opts, host, tlsFiles, node, &inForce)() // stops watching before the runtime stops

	if err := srv.Serve(ctx, ln, opts.ShutdownTimeout); err != nil {
		return err
	}
	log.Info("junction stopped")
	return nil
}

// check fills in defaults and rejects what Serve cannot run with.
func (o *Options) check() error {
	if o.Addr == "" {
		o.Addr = AddrDefault
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = server.DefaultShutdownTimeout
	}
	if o.ReportRetention < 0 {
		return fmt.Errorf("report retention must not be negative, got %s", o.ReportRetention)
	}
	if o.EventRetention < 0 {
		return fmt.Errorf("event retention must not be negative, got %s", o.EventRetention)
	}
	if o.Logger == nil || o.LookupEnv == nil || o.Stderr == nil {
		return errors.New("app: Logger, LookupEnv and Stderr are required")
	}
	if o.LeaseTTL < 0 || (o.LeaseTTL > 0 && o.LeaseTTL < time.Second) {
		return fmt.Errorf("lease time to live must be at least 1s, got %s", o.LeaseTTL)
	}
	if ttl := cmpOr(o.LeaseTTL, cluster.TTLDefault); o.LeaseRenew < 0 || o.LeaseRenew >= ttl {
		return fmt.Errorf("lease renew interval must be positive and shorter than the lease time to live %s, got %s", ttl, o.LeaseRenew)
	}
	if err := checkRedisURL(o.RedisURL, o.RedisTLS); err != nil {
		return err
	}
	return backend.Validate(o.DatabaseURL)
}

// openStorage opens and migrates the store and makes the first admin token.
func openStorage(ctx context.Context, opts Options) (store.Store, error) {
	st, err := backend.Open(ctx, opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %w", backend.Describe(opts.DatabaseURL), err)
	}
	applied, err := st.MigrateUp(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate storage: %w", err)
	}
	for _, m := range applied {
		opts.Logger.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	if err := announceFirstAdmin(ctx, st, opts.Stderr, opts.Logger); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// processDeps are what every runtime of this process shares: Redis (nil when not used),
// the event bus, the metrics registry and the metrics registered on it. The returned
// function closes them, Redis included.
func processDeps(opts Options, st store.Store, rdb redis.UniversalClient) (runtime.Deps, func(), error) {
	bus := event.New(opts.Logger)
	// Circuits are shared through Redis when there is one: a circuit opened on one node
	// is open on every node (see package sharedbreaker).
	var circuits *sharedbreaker.Sync
	if rdb != nil {
		circuits = sharedbreaker.New(sharedbreaker.Options{Redis: rdb, Logger: opts.Logger})
		circuits.Start()
	}
	closeAll := func() {
		if circuits != nil {
			circuits.Close()
		}
		bus.Close()
		if rdb != nil {
			rdb.Close()
		}
	}
	registry := telemetry.NewRegistry()
	metrics, err := newMetrics(registry, st)
	if err != nil {
		closeAll()
		return runtime.Deps{}, nil, err
	}
	return runtime.Deps{
		Store: st, Bus: bus, Redis: rdb, Logger: opts.Logger, LookupEnv: opts.LookupEnv,
		Metrics: metrics, Registry: registry, Circuits: circuits,
	}, closeAll, nil
}

// stopTimeout bounds how long stopping a runtime (at shutdown or on reload) waits for
// flows to drain their messages in flight and for integration calls in flight to end.
const stopTimeout = 60 * time.Second

// flushTimeout bounds the sending of the last spans at shutdown: a collector that does
// not answer must not hold the process up.
const flushTimeout = 5 * time.Second

// newMetrics registers the metrics of the runtime's parts, once per process.
func newMetrics(reg *prometheus.Registry, st store.Store) (runtime.Metrics, error) {
	ints, err := integration.NewMetrics(reg)
	if err != nil {
		return runtime.Metrics{}, err
	}
	hooks, err := webhook.NewMetrics(reg)
	if err != nil {
		return runtime.Metrics{}, err
	}
	flows, err := flow.NewMetrics(reg)
	if err != nil {
		return runtime.Metrics{}, err
	}
	flows.SetDeadLetters(st)
	wfs, err := workflow.NewMetrics(reg)
	if err != nil {
		return runtime.Metrics{}, err
	}
	wfs.SetStore(st)
	return runtime.Metrics{Integrations: ints, Webhooks: hooks, Flows: flows, Workflows: wfs}, nil
}

// watchReload re-reads the configuration on each reload request and puts it in force.
// A configuration with errors is rejected as a whole and the running one stays. The
// returned function stops watching, after a reload under way has finished.
func watchReload(ctx context.Context, opts Options, host *runtime.Host, tlsFiles *tlsfiles.Server, node *cluster.Node, inForce *atomic.Pointer[config.Config]) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-opts.Reload:
				if !ok {
					return
				}
				reloadTLS(opts.Logger, tlsFiles)
				reload(ctx, opts, host, node)
				inForce.Store(host.Current().Config())
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func reload(ctx context.Context, opts Options, host *runtime.Host, node *cluster.Node) {
	cfg, err := loadConfig(opts.ConfigPaths, opts.Logger)
	if err != nil {
		opts.Logger.Error("configuration reload rejected; keeping the running configuration", "error", err)
		return
	}
	// A reload under way finishes even when the server is stopping.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if err := host.Reload(rctx, cfg); err != nil {
		opts.Logger.Error("configuration reload failed; keeping the running configuration", "error", err)
		return
	}
	node.SetConfigVersion(configVersion(opts.ConfigPaths))
	opts.Logger.Info("configuration reloaded", "integrations", len(cfg.Integrations), "flows", len(cfg.Flows))
	reconfigureTracing(rctx, opts.Logger, cfg)
}

// loadTLS loads the server's certificate and key and the client CA, when given, before
// anything is opened: a wrong file stops the start with an error naming it.
func loadTLS(opts Options) (*tlsfiles.Server, error) {
	if opts.TLSCert == "" && opts.TLSKey == "" {
		if opts.TLSClientCA != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates are only asked for over TLS")
		}
		return nil, nil
	}
	s, err := tlsfiles.NewServer(opts.TLSCert, opts.TLSKey, opts.TLSClientCA)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return s, nil
}

// reloadTLS re-reads the certificate, key and client CA; a bad new set is logged and
// the one in force stays, so a botched rotation does not take the API down. It runs
// before the configuration reload and whatever that reload's fate.
func reloadTLS(log *slog.Logger, s *tlsfiles.Server) {
	if s == nil {
		return
	}
	if err := s.Reload(); err != nil {
		log.Error("TLS certificate reload rejected; keeping the certificate in force", "error", err, "serial", s.Certificate().SerialNumber.String())
		return
	}
	c := s.Certificate()
	log.Info("TLS certificate reloaded", "subject", c.Subject.String(), "serial", c.SerialNumber.String(), "not_after", c.NotAfter.UTC().Format(time.RFC3339))
}

func tlsConfig(s *tlsfiles.Server) *tls.Config {
	if s == nil {
		return nil
	}
	return s.Config()
}

func scheme(s *tlsfiles.Server) string {
	switch {
	case s == nil:
		return "http"
	case s.ClientCertificates():
		return "https (client certificates accepted)"
	default:
		return "https"
	}
}

// reconfigureTracing applies a reloaded configuration's `monitoring { tracing }`: a new
// collector endpoint at once; turning tracing on or off is said to wait for a restart.
func reconfigureTracing(ctx context.Context, log *slog.Logger, cfg *config.Config) {
	endpoint, on := cfg.TracingEndpoint()
	moved, err := telemetry.ReconfigureTracing(ctx, telemetry.TracingSettings{On: on, Endpoint: endpoint})
	switch {
	case errors.Is(err, telemetry.ErrTracingNeedsRestart):
		log.Warn("tracing settings changed: "+err.Error(), "tracing_declared", on)
	case err != nil:
		log.Error("tracing settings rejected; spans go where they went", "error", err)
	case moved:
		log.Info("tracing: spans now go to the new collector", "endpoint", redactURL(endpoint))
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

func checkRedisURL(raw string, files tlsfiles.Client) error {
	withFiles := files != (tlsfiles.Client{})
	if raw == "" {
		if withFiles {
			return errors.New("--redis-ca, --redis-cert and --redis-key need a rediss:// REDIS_URL")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("REDIS_URL: expected redis://host:port[/db] or rediss://…, found %q", redactURL(raw))
	}
	if withFiles && u.Scheme != "rediss" {
		// Files given for a plain-text URL would be silently unused.
		return fmt.Errorf("--redis-ca, --redis-cert and --redis-key are for TLS: REDIS_URL %s must start with rediss://", redactURL(raw))
	}
	return nil
}

// openRedis connects to REDIS_URL when it is set. Rate limits and the response cache are
// then shared by every Junction process using that Redis; a Redis that does not answer
// at start-up stops the start, since running with local limits would silently multiply
// the allowed rate by the number of processes.
// It returns a nil interface (not a nil *redis.Client inside one) when REDIS_URL is unset,
// so that callers' `Redis != nil` checks mean what they say.
func openRedis(ctx context.Context, raw string, files tlsfiles.Client) (redis.UniversalClient, error) {
	if err := checkRedisURL(raw, files); err != nil || raw == "" {
		return nil, err
	}
	// go-redis logs each failed dial itself; the error returned here says it once.
	redis.SetLogger(silentRedisLog{})
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %s: %w", redactURL(raw), err)
	}
	if files != (tlsfiles.Client{}) {
		// rediss:// (checked above): ParseURL set the server name from the host.
		files.ServerName = cmp.Or(files.ServerName, o.TLSConfig.ServerName)
		if o.TLSConfig, err = tlsfiles.ClientConfig(files); err != nil {
			return nil, fmt.Errorf("REDIS_URL TLS: %w", err)
		}
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

// silentRedisLog discards go-redis's own log lines: its failures reach Junction as errors,
// which are reported (once) where they matter.
type silentRedisLog struct{}

func (silentRedisLog) Printf(context.Context, string, ...any) {}

// redactURL hides a password in a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// startTracing turns tracing on when the OTEL_* variables or a flow's `monitoring {
// tracing }` ask for it (telemetry.StartTracing says how), before the runtime is built:
// the flows pick their tracers when they are made. A reload can move the collector
// (reconfigureTracing). The returned function flushes the spans left.
func startTracing(ctx context.Context, opts Options, cfg *config.Config) (func(), error) {
	getenv := func(name string) string { v, _ := opts.LookupEnv(name); return v }
	endpoint, on := cfg.TracingEndpoint()
	shutdown, err := telemetry.StartTracing(ctx, getenv, telemetry.TracingSettings{On: on, Endpoint: endpoint, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	if telemetry.TracingEnabled() {
		opts.Logger.Info("tracing on", "exporter", "otlp", "protocol", "http/protobuf")
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			opts.Logger.Warn("flushing spans", "error", err)
		}
	}, nil
}
