package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/registry"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/eventroute"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/handler"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/job"
	"github.com/junctionhq/junction/internal/lifecycle"
	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/policy/sharedbreaker"
	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/webhook/inflight"
	"github.com/junctionhq/junction/internal/workflow"
)

// Deps are what outlives every runtime of a process: storage, the event bus, Redis, the
// metrics (registered once), the logger, the clock and how env() references resolve.
type Deps struct {
	Store     store.Store
	Bus       *event.Bus
	Redis     redis.UniversalClient // nil: rate limits and caches are local
	Logger    *slog.Logger
	Clock     clock.Clock // default clock.Real{}
	LookupEnv config.LookupEnv
	Metrics   Metrics
	Registry  *prometheus.Registry // where Metrics are registered; served at /metrics
	// Reports records every finished integration call for the usage reports; nil: none.
	// It outlives the runtimes; its owner starts and stops it.
	Reports *report.Recorder
	// Circuits shares integration circuit breakers through Redis; nil: per process. It
	// outlives the runtimes; its owner starts and closes it.
	Circuits *sharedbreaker.Sync
	// WebhookLease overrides how long a delivery claim holds (tests); 0 is the default.
	WebhookLease time.Duration
	// JobOwner names this process in the claims of job ticks and the leases of workflow
	// runs; "" is a random name.
	JobOwner string
	// WorkflowPoll overrides how often due workflow runs are looked for (tests); 0 is
	// the default.
	WorkflowPoll time.Duration
	// Node is this process among the nodes sharing the store: a flow whose source is a
	// singleton (schedule, postgres) opens it only while the node holds the lease
	// "flow-source:<flow>". Nil: every source opens at once (one process, tests).
	Node *cluster.Node
	// RetentionHeld, if set, says whether this node does the cluster's retention (holds
	// the "retention" lease): the webhook dead-letter and event purges, and the
	// deletion of removed flows' events cursors, run only then. Nil: always.
	RetentionHeld func() bool
	// EventRetention is how long stored events and the finished webhook deliveries of
	// them are kept (webhook.Options.EventRetention); zero keeps them forever.
	EventRetention time.Duration
	// Plugins holds the process's plugins: those registered through the API, and those
	// the configuration declares, which each runtime's start loads. Nil: no plugins
	// (a configuration that declares one is refused).
	Plugins *plugin.Manager
}

// Metrics are the metric sets of the runtime's parts, registered once per process.
type Metrics struct {
	Integrations *integration.Metrics
	Webhooks     *webhook.Metrics
	Flows        *flow.Metrics
	Workflows    *workflow.Metrics // optional
}

func (d *Deps) check() error {
	var missing []string
	for name, ok := range map[string]bool{
		"Store": d.Store != nil, "Bus": d.Bus != nil, "Logger": d.Logger != nil, "LookupEnv": d.LookupEnv != nil,
		"Metrics.Integrations": d.Metrics.Integrations != nil, "Metrics.Webhooks": d.Metrics.Webhooks != nil, "Metrics.Flows": d.Metrics.Flows != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("runtime: missing dependencies: %v", missing)
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	return nil
}

// Runtime is every live part built from one configuration.
type Runtime struct {
	cfg          *config.Config
	integrations *integration.Runtime
	webhooks     *webhook.Service
	flows        *flow.Engine
	bridge       *bridge
	handlers     *handler.Set
	shapes       handler.Shapes
	jobs         *job.Scheduler
	workflows    *workflow.Engine
	calls        gate // integration calls in flight, so a reload can wait for them
	// rejections are the refused inbound webhooks, kept in memory; a reload hands them
	// on, so a user debugging a provider does not lose them by fixing the configuration.
	rejections *webhook.Rejections

	// workers are the parts that do work on their own (delivery workers, event
	// routes, flows), started in order and stopped in reverse. The integrations are
	// not among them: they serve calls, and are retired last.
	workers lifecycle.Group
}

// Build makes the runtime of cfg without side effects: nothing connects, listens or
// starts. prev, the runtime in force (nil at start-up), lends the state of integrations
// whose settings did not change. A configuration that cannot be built is an error, with
// every problem and its position.
func Build(cfg *config.Config, deps Deps, prev *Runtime) (*Runtime, error) {
	if err := deps.check(); err != nil {
		return nil, err
	}
	log := deps.Logger
	// Every declared connector against its type's options, used by a flow or not, as
	// `junction validate` checks them: what the language accepts runs or is refused.
	if errs := registry.Validate(cfg.Connectors, deps.LookupEnv); len(errs) > 0 {
		return nil, fmt.Errorf("connectors:\n%w", errors.Join(errs...))
	}
	rt := &Runtime{cfg: cfg, rejections: webhook.NewRejections()}
	plugins, err := readPlugins(cfg)
	if err != nil {
		return nil, fmt.Errorf("plugins:\n%w", err)
	}
	if len(plugins) > 0 && deps.Plugins == nil {
		return nil, errors.New("plugins: this command does not run plugins")
	}
	var pluginCalls pluginCaller
	if deps.Plugins != nil {
		pluginCalls = deps.Plugins
	}

	var previous *integration.Runtime
	if prev != nil {
		previous, rt.rejections = prev.integrations, prev.rejections
	}
	ints, err := integration.New(cfg, integration.Options{
		LookupEnv: deps.LookupEnv, Logger: log, Metrics: deps.Metrics.Integrations, Bus: deps.Bus,
		Redis: deps.Redis, Clock: deps.Clock, Previous: previous, Reports: deps.Reports,
		Circuits: deps.Circuits,
	})
	if err != nil {
		return nil, err
	}
	rt.integrations = ints

	hooks, err := webhook.New(deps.Store, webhook.SettingsFrom(cfg), webhook.Options{
		Logger: log, Metrics: deps.Metrics.Webhooks, Bus: deps.Bus, Clock: deps.Clock, Lease: deps.WebhookLease,
		Rejections: rt.rejections, PurgeHeld: deps.RetentionHeld, EventRetention: deps.EventRetention,
		Peers: deliveryPeers(deps, log),
	})
	if err != nil {
		ints.Close()
		return nil, err
	}
	hooks.SetSources(webhook.NewSources(cfg, deps.LookupEnv, deps.Clock, log))
	declared, err := webhook.Declare(cfg, hooks.Settings(), deps.LookupEnv)
	if err != nil {
		ints.Close()
		return nil, fmt.Errorf("webhooks:\n%w", err)
	}
	hooks.SetDeclared(declared)
	rt.webhooks = hooks
	workflows, err := workflow.New(cfg, workflow.Options{
		Store: deps.Store, Caller: ints, Publisher: hooks, Bus: deps.Bus, Clock: deps.Clock, Logger: log,
		Metrics: deps.Metrics.Workflows, Owner: deps.JobOwner, PollInterval: deps.WorkflowPoll, Plugins: pluginCalls,
	})
	if err != nil {
		ints.Close()
		return nil, fmt.Errorf("workflows:\n%w", err)
	}
	rt.workflows = workflows
	runner, err := rt.buildHandlers(cfg, deps, hooks)
	if err != nil {
		ints.Close()
		return nil, err
	}

	rt.bridge = newBridge(log, deps.Bus, hooks, ints, workflows, eventLog{store: deps.Store, bus: deps.Bus, now: deps.Clock.Now})
	engine, err := flow.New(cfg, flow.Options{
		Kinds:       registry.Kinds(),
		Env:         connector.Env{LookupEnv: deps.LookupEnv, Logger: log, Clock: deps.Clock, Internal: rt.bridge},
		DeadLetters: deps.Store,
		Metrics:     deps.Metrics.Flows,
		Watchers:    deps.Bus,
		Lease:       sourceLeases(deps.Node),
		Plugins:     pluginCalls,
	})
	if err != nil {
		ints.Close()
		return nil, fmt.Errorf("flows:\n%w", err)
	}
	rt.flows = engine

	// The declared webhooks' endpoints are put in the store first, then delivery, so
	// events that routes and flows publish are delivered; flows last, so everything they
	// publish to and call is running when their first message comes.
	if deps.Plugins != nil {
		rt.workers.Add("plugins", declaredPlugins{manager: deps.Plugins, plugins: plugins, refs: cfg.PluginRefs(), log: log})
	}
	rt.workers.Add("circuit events", &circuitRecorder{store: deps.Store, bus: deps.Bus, log: log})
	rt.workers.Add("declared webhooks", &declaredWebhooks{svc: hooks, node: deps.Node, log: log})
	rt.workers.Add("webhook delivery", hooks)
	rt.workers.Add("workflows", workflows)
	rt.workers.Add("event handlers", runner)
	rt.workers.Add("event routes", eventroute.New(deps.Bus, cfg, hooks, ints, log))
	rt.workers.Add("flows", flowsComponent{engine})
	rt.workers.Add("events cursors", newCursorJanitor(cfg.Flows, deps, log))

	// Scheduled jobs last: what they call and publish to is running by their first tick.
	jobs, err := job.New(cfg, job.Options{Store: deps.Store, Clock: deps.Clock, Logger: log, Caller: ints, Publisher: hooks, Workflows: workflows, Owner: deps.JobOwner, Watchers: deps.Bus})
	if err != nil {
		ints.Close()
		return nil, fmt.Errorf("jobs:\n%w", err)
	}
	rt.jobs = jobs
	rt.workers.Add("jobs", jobs)
	return rt, nil
}

// Start starts the workers. On failure the runtime is left stopped.
func (r *Runtime) Start(ctx context.Context) error { return r.workers.Start(ctx) }

// Stop stops the workers (flows drain their messages in flight within ctx), then waits
// for the integration calls in flight and closes the integrations.
func (r *Runtime) Stop(ctx context.Context) error {
	return errors.Join(r.workers.Stop(ctx), r.retire(ctx))
}

// retire waits, within ctx, for the calls in flight to end and closes the integrations
// (batches are flushed; state adopted by a newer runtime stays with it).
func (r *Runtime) retire(ctx context.Context) error {
	select {
	case <-r.calls.close():
	case <-ctx.Done():
		r.logger().Warn("integration calls still in flight when the runtime was retired")
	}
	r.integrations.Close()
	return nil
}

// Config is the configuration the runtime was built from.
func (r *Runtime) Config() *config.Config { return r.cfg }

func (r *Runtime) logger() *slog.Logger { return r.bridge.log }

// deliveryPeers shares the node's webhook attempts in flight with the other nodes
// through Redis; nil (a per-node bound) without Redis or without a cluster node.
func deliveryPeers(deps Deps, log *slog.Logger) *inflight.Board {
	if deps.Redis == nil || deps.Node == nil {
		return nil
	}
	return inflight.New(deps.Redis, deps.Node.ID(), log)
}

// sourceLeases hands the flows the node's leases for their singleton sources; nil
// without a node.
func sourceLeases(node *cluster.Node) flow.LeaseFunc {
	if node == nil {
		return nil
	}
	return func(name string, onChange func(bool)) (flow.SourceLease, error) {
		return node.Lease(context.Background(), name, onChange)
	}
}

// flowsComponent runs a flow engine as a lifecycle.Component.
type flowsComponent struct{ engine *flow.Engine }

// Start starts every flow. A flow that cannot start stays stopped and says why in its
// status (GET /flows/{name}); the others run, so one broken sink does not stop the rest.
func (c flowsComponent) Start(context.Context) error {
	_ = c.engine.Start()
	return nil
}

// Stop stops every flow, draining the messages in flight within ctx; what is left is
// handed back to the sources.
func (c flowsComponent) Stop(ctx context.Context) error {
	c.engine.Close(ctx)
	return nil
}
