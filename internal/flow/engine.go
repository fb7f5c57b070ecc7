package flow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// Options are what the engine runs flows with.
type Options struct {
	Kinds       map[string]connector.Kind // connector types by name
	Connectors  map[string]*config.Connector
	Env         connector.Env // Env.Internal, if set, serves enrich steps too
	DeadLetters DeadLetterStore
	Metrics     *Metrics // nil: no metrics
	Watchers    Watchers // nil: no MessageEvent
	// Lease, if set, holds the lease "flow-source:<flow>" for each flow whose source is
	// a singleton (connector.Kind.Singleton), so that one node of a cluster opens it;
	// the others stand by. Nil: every source opens at once (one process, tools, tests).
	Lease LeaseFunc
	// Plugins runs plugin steps and the plugin functions of mapping expressions; nil:
	// their calls fail, saying no plugins run here.
	Plugins Plugins
}

// Plugins calls plugin functions (*plugin.Manager): one JSON value in, one out.
type Plugins interface {
	Call(ctx context.Context, plugin, function string, input []byte) ([]byte, error)
}

// Watchers are the people watching the event bus (*event.Bus): each message's outcome
// goes to them as a MessageEvent while anyone watches.
type Watchers interface {
	Watched() bool
	PublishWatched(event.Event)
}

func (o *Options) caller() Caller {
	if o.Env.Internal == nil {
		return nil
	}
	return o.Env.Internal
}

// Engine holds the flows of one configuration.
type Engine struct {
	opts  Options
	flows map[string]*Flow
	names []string

	sampler     sync.Once
	stopSampler context.CancelFunc
	samplerDone chan struct{}
}

// New compiles every flow of cfg; nothing is opened yet. All problems are reported
// together, with positions.
func New(cfg *config.Config, opts Options) (*Engine, error) {
	if opts.Env.Clock == nil || opts.Env.Logger == nil {
		return nil, errors.New("flow: Env.Clock and Env.Logger are required")
	}
	if opts.Connectors == nil {
		opts.Connectors = make(map[string]*config.Connector, len(cfg.Connectors))
		for _, c := range cfg.Connectors {
			opts.Connectors[c.Name] = c
		}
	}
	e := &Engine{opts: opts, flows: make(map[string]*Flow, len(cfg.Flows))}
	var errs []error
	for _, fc := range cfg.Flows {
		f, err := newFlow(fc, &e.opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.flows[fc.Name] = f
		e.names = append(e.names, fc.Name)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Strings(e.names)
	return e, nil
}

// CheckSteps compiles the steps of cfg's flows (expressions, paths, templates, schemas)
// without their connectors. `junction validate` runs it on a configuration that has
// other errors, where connectors may be missing: a step's mistakes are then reported in
// the same run rather than after every other one is fixed.
func CheckSteps(cfg *config.Config) error {
	noCaller := func() Caller { return nil }
	var errs []error
	for _, fc := range cfg.Flows {
		for _, s := range fc.Steps {
			if _, err := compileStep(s, noCaller, nil, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Start starts every flow. A flow whose sinks cannot be opened stays stopped with the
// reason as its last error; the others run.
func (e *Engine) Start() error {
	e.startSampler()
	var errs []error
	for _, name := range e.names {
		if err := e.flows[name].Start(); err != nil {
			e.opts.Env.Logger.Error("flow not started", "flow", name, "error", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops every flow, draining messages in flight until ctx ends.
func (e *Engine) Close(ctx context.Context) {
	var wg sync.WaitGroup
	for _, f := range e.flows {
		wg.Go(func() { f.Stop(ctx) })
	}
	wg.Wait()
	if e.stopSampler != nil {
		e.stopSampler()
		<-e.samplerDone
	}
}

// Flow returns a flow by name.
func (e *Engine) Flow(name string) (*Flow, error) {
	f := e.flows[name]
	if f == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return f, nil
}

// List returns every flow's status, by name.
func (e *Engine) List(ctx context.Context) []Status {
	counts := e.deadLetterCounts(ctx)
	out := make([]Status, 0, len(e.names))
	for _, name := range e.names {
		out = append(out, e.flows[name].status(counts[name]))
	}
	return out
}

// Status returns one flow's status.
func (e *Engine) Status(ctx context.Context, name string) (Status, error) {
	f, err := e.Flow(name)
	if err != nil {
		return Status{}, err
	}
	return f.status(e.deadLetterCounts(ctx)[name]), nil
}

func (e *Engine) deadLetterCounts(ctx context.Context) map[string]int {
	if e.opts.DeadLetters == nil {
		return nil
	}
	counts, err := e.opts.DeadLetters.FlowDeadLetterCounts(ctx)
	if err != nil {
		e.opts.Env.Logger.Warn("counting flow dead letters", "error", err)
	}
	return counts
}

// DeadLetters returns a page of dead letters, newest first, and how many match in all.
func (e *Engine) DeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, int, error) {
	if e.opts.DeadLetters == nil {
		return nil, 0, nil
	}
	return e.opts.DeadLetters.FlowDeadLetterList(ctx, f)
}

// Replay runs a dead letter through its flow again; see Flow.replay.
func (e *Engine) Replay(ctx context.Context, id string) error {
	if e.opts.DeadLetters == nil {
		return fmt.Errorf("%w: no dead-letter store", store.ErrNotFound)
	}
	dl, err := e.opts.DeadLetters.FlowDeadLetterGet(ctx, id)
	if err != nil {
		return err
	}
	f, err := e.Flow(dl.Flow)
	if err != nil {
		return fmt.Errorf("dead letter %s belongs to %w", id, err)
	}
	return f.replay(ctx, dl)
}

// startSampler samples every flow's counters once a second for the rates in Status.
func (e *Engine) startSampler() {
	e.sampler.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		e.stopSampler, e.samplerDone = cancel, make(chan struct{})
		go func() {
			defer close(e.samplerDone)
			// A real ticker even under a fake clock: sampling is observation, and a fake
			// clock that advances itself would spin here.
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				for _, f := range e.flows {
					f.rates.sample(time.Now(), f.counts.received.Load(), f.counts.delivered.Load())
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	})
}
