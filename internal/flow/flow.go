package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/transform"
)

// Defaults of a flow's settings.
const (
	DefaultMaxInFlight = 64
	// reopenDelay is the wait before opening a source again after it failed or closed.
	reopenDelay = 2 * time.Second
)

// State is where a flow stands.
type State string

// The states of a flow.
const (
	StateStopped  State = "stopped"
	StateStarting State = "starting" // opening its source (or waiting to retry after a failure)
	StateRunning  State = "running"
	StateStopping State = "stopping" // draining messages in flight
	// StateStandby is a flow whose source is a singleton (connector.Kind.Singleton) held
	// by another node of the cluster: its sinks are open, its source is not, and it
	// takes over when that node dies or stops the flow.
	StateStandby State = "standby"
	// StateMisconfigured is a flow whose connectors read environment variables (or
	// files) that are not set: it cannot start, like a misconfigured integration.
	StateMisconfigured State = "misconfigured"
)

// Flow is one flow at run time.
type Flow struct {
	cfg    *config.Flow
	opts   *Options
	steps  []*step
	decode func([]byte) (any, error) // the source's codec, or the first step's DecodeFor
	// srcFormat names the source's format in errors ("JSON" by default).
	srcFormat string
	srcCodec  format.Codec // the source's codec; nil for JSON
	// codecs encode messages for the sinks: codecs[0] is JSON, and sinkCodec gives the
	// index of each sink's, so a message is encoded once per format, not per sink.
	codecs    []format.Codec
	sinkCodec map[string]int
	policy    retry.Policy
	queue     string // dead-letter queue name
	inFlight  int
	logs      *logRing
	// misconfigured says why the flow cannot start ("" when it can).
	misconfigured string
	counts        counters
	rates         rateWindow
	metrics       *flowMetrics

	mu        sync.Mutex
	state     State
	lastError *LastError
	startedAt time.Time
	stopSrc   context.CancelFunc // stops taking messages
	stopWork  context.CancelFunc // abandons messages in flight (they are redelivered)
	done      chan struct{}
	gate      *sourceGate // the source lease while started; nil when the source is not a singleton
	// sinks are the open sink writers while running: read by every message, so an
	// atomic pointer rather than mu.
	sinks     atomic.Pointer[map[string]*sinkWriter]
	sinkNames []string // every sink, where a message without a route goes
	tracer    trace.Tracer
}

// LastError is the most recent failure of a flow: a message's, or its source's.
type LastError struct {
	At        time.Time `json:"at"`
	Step      string    `json:"step,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Error     string    `json:"error"`
}

type counters struct {
	received, delivered, filtered, deadLettered, requeued, retries, inFlight atomic.Int64
}

func newFlow(cfg *config.Flow, opts *Options) (*Flow, error) {
	f := &Flow{
		cfg: cfg, opts: opts, state: StateStopped,
		inFlight: cfg.MaxInFlight,
		logs:     newLogRing(logCapacity),
		policy:   retry.FlowDefaults(),
		tracer:   flowTracer(cfg.Monitoring.Tracing),
	}
	if f.inFlight <= 0 {
		f.inFlight = DefaultMaxInFlight
	}
	for _, s := range cfg.Sinks {
		f.sinkNames = append(f.sinkNames, s.Name)
	}
	if oe := cfg.OnError; oe != nil {
		f.queue = oe.DeadLetter
		r := oe.Retry
		if r == nil {
			r = &config.Retry{} // on_error without retry: to the dead-letter queue at once
		}
		f.policy = f.policy.With(r)
	}
	if f.queue == "" {
		f.queue = cfg.Name
	}
	caller := func() Caller { return opts.caller() }
	var errs []error
	for i, s := range cfg.Steps {
		st, err := compileStep(s, caller, opts.Plugins, i == len(cfg.Steps)-1)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.steps = append(f.steps, st)
	}
	f.decode, f.srcFormat = transform.Decode, format.Name(format.JSON{})
	f.codecs, f.sinkCodec = []format.Codec{format.JSON{}}, map[string]int{}
	if f.misconfigured = f.envProblems(); f.misconfigured == "" {
		if err := f.checkConnectors(); err != nil {
			errs = append(errs, err)
		} else if err := f.buildCodecs(); err != nil {
			errs = append(errs, err)
		}
	}
	if _, isJSON := f.codecs[0].(format.JSON); isJSON && f.srcFormat == "JSON" && len(f.steps) > 0 && f.steps[0].decode != nil {
		// The message is read by this step alone: its template's output replaces it.
		f.decode = f.steps[0].decode
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	f.metrics = opts.Metrics.forFlow(f)
	return f, nil
}

// envProblems lists the environment variables and files the flow's connectors need
// that cannot be read.
func (f *Flow) envProblems() string {
	lookup := f.opts.Env.LookupEnv
	if lookup == nil {
		return ""
	}
	var problems []string
	check := func(name string, use config.Options) {
		if c := f.opts.Connectors[name]; c != nil {
			for _, p := range connector.Merge(c.Options, use).EnvProblems("connector "+name, lookup) {
				problems = append(problems, fmt.Sprintf("%s %s: %v", p.Owner, p.Setting, p.Err))
			}
		}
	}
	check(f.cfg.Source.Connector, f.cfg.Source.Options)
	for _, s := range f.cfg.Sinks {
		check(s.Connector, s.Options)
	}
	return strings.Join(problems, "; ")
}

// buildCodecs makes the codecs of the source's and the sinks' `format` options (JSON
// where there is none). It runs after checkConnectors, which reported any problem with
// the options already, so an error here is one the connector's spec did not catch.
func (f *Flow) buildCodecs() error {
	var errs []error
	if c, err := f.codec(f.cfg.Source.Connector, f.cfg.Source.Options, option.Source); err != nil {
		errs = append(errs, err)
	} else if c != nil {
		f.decode, f.srcFormat, f.srcCodec = c.Decode, format.Name(c), c
	}
	for _, s := range f.cfg.Sinks {
		c, err := f.codec(s.Connector, s.Options, option.Sink)
		switch {
		case err != nil:
			errs = append(errs, err)
		case c != nil:
			f.sinkCodec[s.Name] = len(f.codecs)
			f.codecs = append(f.codecs, c)
		}
	}
	return errors.Join(errs...)
}

// SourceFormat is the codec the flow decodes its source's messages with: nil when they
// are JSON. The server asks it for the body of a POST to an http source's /in/ path.
func (f *Flow) SourceFormat() format.Codec { return f.srcCodec }

// codec returns the codec of the named connector's merged options in role, or nil when
// it declares no format (or has none set).
func (f *Flow) codec(name string, use config.Options, role option.Role) (format.Codec, error) {
	c, k, err := f.kind(name, config.Pos{})
	if err != nil || !option.Declares(k.Spec, option.FormatName) {
		// checkConnectors reported a missing kind; a connector of structured messages
		// (rows, events) has no format, and its spec refuses the option.
		return nil, nil
	}
	return option.FormatOf(c.Type+" connector "+c.Name, connector.Merge(c.Options, use), role, f.opts.Env.Lookup())
}

// checkConnectors checks that the source and every sink name a connector of a type that
// can play that part, and that their options are valid, by building each (connectors
// connect only when opened or first written to) and closing it again.
func (f *Flow) checkConnectors() error {
	var errs []error
	if b, err := f.sourceSettings(); err != nil {
		errs = append(errs, err)
	} else if src, err := b.kind.NewSource(b.settings); err != nil {
		errs = append(errs, err)
	} else {
		_ = src.Close()
	}
	for _, s := range f.cfg.Sinks {
		k, st, err := f.sinkSettings(s)
		if err == nil {
			var sink connector.Sink
			if sink, err = k.NewSink(st); err == nil {
				_ = sink.Close()
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Flow) kind(name string, pos config.Pos) (*config.Connector, connector.Kind, error) {
	c := f.opts.Connectors[name]
	if c == nil {
		return nil, connector.Kind{}, fmt.Errorf("%s: flow %s: no connector named %q", pos, f.cfg.Name, name)
	}
	k, ok := f.opts.Kinds[c.Type]
	if !ok {
		return nil, connector.Kind{}, fmt.Errorf("%s: connector %s: unknown type %q", c.Pos, c.Name, c.Type)
	}
	return c, k, nil
}

type sourceBuild struct {
	kind     connector.Kind
	settings connector.Settings
}

func (f *Flow) sourceSettings() (sourceBuild, error) {
	src := f.cfg.Source
	c, k, err := f.kind(src.Connector, src.Pos)
	if err != nil {
		return sourceBuild{}, err
	}
	if k.NewSource == nil {
		return sourceBuild{}, fmt.Errorf("%s: flow %s: a %s connector cannot be a source", src.Pos, f.cfg.Name, c.Type)
	}
	return sourceBuild{kind: k, settings: f.settings(c, src.Options)}, nil
}

func (f *Flow) sinkSettings(s *config.Sink) (connector.Kind, connector.Settings, error) {
	c, k, err := f.kind(s.Connector, s.Pos)
	if err != nil {
		return k, connector.Settings{}, err
	}
	if k.NewSink == nil {
		return k, connector.Settings{}, fmt.Errorf("%s: flow %s: a %s connector cannot be a sink", s.Pos, f.cfg.Name, c.Type)
	}
	return k, f.settings(c, s.Options), nil
}

func (f *Flow) settings(c *config.Connector, use config.Options) connector.Settings {
	env := f.opts.Env
	env.Logger = env.Logger.With("flow", f.cfg.Name, "connector", c.Name)
	return connector.Settings{Connector: c, Options: connector.Merge(c.Options, use), Env: env, Flow: f.cfg.Name}
}

// Start opens the flow's sinks and starts taking messages from its source. It returns
// once the sinks are open; the source is opened (and reopened after failures) in the
// background, so a broker that is down delays a flow instead of failing the server.
func (f *Flow) Start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state != StateStopped {
		return nil
	}
	if f.misconfigured != "" {
		return &StartError{Flow: f.cfg.Name, Err: fmt.Errorf("flow %s is misconfigured: %s", f.cfg.Name, f.misconfigured)}
	}
	work, stopWork := context.WithCancel(context.Background())
	sinks := make(map[string]*sinkWriter, len(f.cfg.Sinks))
	for _, s := range f.cfg.Sinks {
		k, st, err := f.sinkSettings(s)
		var sink connector.Sink
		if err == nil {
			sink, err = k.NewSink(st)
		}
		if err != nil {
			for _, w := range sinks {
				_ = w.close()
			}
			stopWork()
			f.recordError(LastError{Step: "sink " + s.Name, Error: err.Error()})
			return &StartError{Flow: f.cfg.Name, Err: fmt.Errorf("flow %s: sink %s: %w", f.cfg.Name, s.Name, err)}
		}
		sinks[s.Name] = newSinkWriter(work, s.Name, sink)
	}
	var gate *sourceGate
	if f.opts.Lease != nil && f.singleton() {
		gate = newSourceGate()
		lease, err := f.opts.Lease(SourceLeasePrefix+f.cfg.Name, gate.set)
		if err != nil {
			for _, w := range sinks {
				_ = w.close()
			}
			stopWork()
			f.recordError(LastError{Step: "source " + f.cfg.Source.Connector, Error: err.Error()})
			return &StartError{Flow: f.cfg.Name, Err: fmt.Errorf("flow %s: source lease: %w", f.cfg.Name, err)}
		}
		gate.lease = lease
	}
	srcCtx, stopSrc := context.WithCancel(work)
	f.sinks.Store(&sinks)
	f.stopSrc, f.stopWork = stopSrc, stopWork
	f.done = make(chan struct{})
	f.gate = gate
	f.state = StateStarting
	f.startedAt = f.opts.Env.Clock.Now()
	go f.run(srcCtx, work, gate)
	f.announce(StateStarting)
	return nil
}

// Stop stops taking messages and waits for those in flight to finish. If ctx ends
// first, work on them is abandoned: they are not acknowledged, so their source
// delivers them again.
func (f *Flow) Stop(ctx context.Context) {
	f.mu.Lock()
	if f.state == StateStopped {
		f.mu.Unlock()
		return
	}
	f.state = StateStopping
	stopSrc, stopWork, done := f.stopSrc, f.stopWork, f.done
	f.mu.Unlock()
	f.announce(StateStopping)
	stopSrc()
	select {
	case <-done:
	case <-ctx.Done():
		stopWork()
		<-done
	}
	stopWork()
}

// run takes messages until srcCtx ends: from a source opened at once, or, under a
// source lease, only while the lease is held. The lease is given up (released, so
// another node takes over at once) after the source closed and the messages in flight
// finished.
func (f *Flow) run(srcCtx, work context.Context, gate *sourceGate) {
	defer close(f.done)
	defer f.closeSinks()
	defer gate.stop(f)
	for srcCtx.Err() == nil {
		var err error
		if gate != nil {
			err = f.holding(srcCtx, work, gate)
		} else {
			err = f.consume(srcCtx, work)
		}
		if err != nil && srcCtx.Err() == nil {
			f.recordError(LastError{Step: "source " + f.cfg.Source.Connector, Error: err.Error()})
			f.opts.Env.Logger.Warn("flow source failed; reopening", "flow", f.cfg.Name, "error", err, "in", reopenDelay)
			f.setState(StateStarting)
			_ = f.opts.Env.Clock.Sleep(srcCtx, reopenDelay)
		}
	}
}

// consume opens the source and processes its deliveries with inFlight workers until
// the source's channel closes.
func (f *Flow) consume(srcCtx, work context.Context) error {
	b, err := f.sourceSettings()
	if err != nil {
		return err
	}
	src, err := b.kind.NewSource(b.settings)
	if err != nil {
		return err
	}
	defer src.Close()
	ch, err := src.Open(srcCtx, f.inFlight)
	if err != nil {
		return err
	}
	f.setState(StateRunning)
	var wg sync.WaitGroup
	for range f.inFlight {
		wg.Go(func() {
			for d := range ch {
				f.handle(work, d)
			}
		})
	}
	wg.Wait()
	if srcCtx.Err() == nil {
		return errors.New("the source stopped delivering")
	}
	return nil
}

func (f *Flow) closeSinks() {
	var sinks map[string]*sinkWriter
	if p := f.sinks.Swap(nil); p != nil {
		sinks = *p
	}
	for name, w := range sinks {
		if err := w.close(); err != nil {
			f.opts.Env.Logger.Warn("closing sink", "flow", f.cfg.Name, "sink", name, "error", err)
		}
	}
	f.setState(StateStopped)
}

func (f *Flow) setState(s State) {
	f.mu.Lock()
	changed := f.state != s && (f.state != StateStopping || s == StateStopped)
	if changed {
		f.state = s
	}
	f.mu.Unlock()
	if changed {
		f.announce(s)
	}
}

// StateEvent is the watch-only event of a flow changing state: flow and state.
const StateEvent = "junction.flow.state"

// announce tells whoever watches the bus that the flow is now in state s.
func (f *Flow) announce(s State) {
	if w := f.opts.Watchers; w != nil && w.Watched() {
		w.PublishWatched(event.Make(StateEvent, event.SourceJunction, f.opts.Env.Clock.Now(), map[string]any{"flow": f.cfg.Name, "state": s}))
	}
}

func (f *Flow) recordError(e LastError) {
	if e.At.IsZero() {
		e.At = f.opts.Env.Clock.Now().UTC()
	}
	f.mu.Lock()
	f.lastError = &e
	f.mu.Unlock()
}

// result is what became of one message.
type result struct {
	outcome string   // OutcomeDelivered or OutcomeFiltered when err is nil
	sinks   []string // the sinks written to, for the log
	// accepted[i] names the sinks that have the i-th message the steps made, whether
	// written now or skipped because a replayed dead letter says they accepted it
	// before; nil when none has any.
	accepted [][]string
	attempts int
	err      *StepError
}

// Outcomes of a message, in logs and metrics.
const (
	OutcomeDelivered    = "delivered"     // every sink it was routed to accepted it
	OutcomeFiltered     = "filtered"      // a filter or route dropped it
	OutcomeDeadLettered = "dead_lettered" // it failed and is in the dead-letter queue
	OutcomeRequeued     = "requeued"      // handed back to the source (stopping, or the queue was unavailable)
)

// handle takes one delivery to its end: delivered or filtered and acknowledged, or
// dead-lettered and acknowledged, or handed back to the source.
func (f *Flow) handle(work context.Context, d connector.Delivery) {
	start := time.Now()
	f.counts.received.Add(1)
	f.counts.inFlight.Add(1)
	defer f.counts.inFlight.Add(-1)
	f.metrics.in()

	ctx, span := f.startMessageSpan(work, d.Message.Headers)
	res := f.process(ctx, d.Message, nil)
	outcome := res.outcome
	switch {
	case res.err == nil:
		f.settle(work, d, d.Ack)
	case work.Err() != nil:
		outcome = OutcomeRequeued
		f.settle(context.WithoutCancel(work), d, d.Nack)
	default:
		f.recordError(LastError{Step: res.err.Step, MessageID: d.ID, Error: res.err.Err.Error()})
		if err := f.deadLetter(work, d, res); err != nil {
			outcome = OutcomeRequeued
			f.opts.Env.Logger.Error("dead-letter queue unavailable; message handed back to its source", "flow", f.cfg.Name, "message", d.ID, "error", err)
			f.settle(work, d, d.Nack)
		} else {
			outcome = OutcomeDeadLettered
			f.settle(work, d, d.Ack)
		}
	}
	f.count(outcome)
	f.logOutcome(d, outcome, res, time.Since(start))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("junction.outcome", outcome))
	}
	endSpan(span, res.attempts, res.err)
}

func (f *Flow) settle(ctx context.Context, d connector.Delivery, settle func(context.Context) error) {
	if settle == nil {
		return
	}
	if err := settle(ctx); err != nil {
		// The source will deliver it again: at least once, never lost.
		f.opts.Env.Logger.Warn("settling message with its source failed", "flow", f.cfg.Name, "message", d.ID, "error", err)
	}
}

func (f *Flow) count(outcome string) {
	switch outcome {
	case OutcomeDelivered:
		f.counts.delivered.Add(1)
	case OutcomeFiltered:
		f.counts.filtered.Add(1)
	case OutcomeDeadLettered:
		f.counts.deadLettered.Add(1)
	case OutcomeRequeued:
		f.counts.requeued.Add(1)
	}
	f.metrics.outcome(outcome)
}

// process runs a message through the steps and into the sinks, except that the i-th
// message the steps make is not written again to the sinks in skip[i] (a replayed dead
// letter's Accepted): a replay goes only to the sinks that did not accept the message.
// That matches messages by position, so it assumes the steps split a message the same
// way again, as they do unless the flow or an enrich answer changed.
func (f *Flow) process(ctx context.Context, m connector.Message, skip [][]string) result {
	doc, attempts, serr := f.decodeBody(ctx, m.Body)
	if serr != nil {
		return result{attempts: attempts, err: serr}
	}
	items := []item{{doc: doc}}
	for _, st := range f.steps {
		next := items[:0:0]
		for _, it := range items {
			var out []item
			stepCtx, span := f.startStepSpan(ctx, "flow.step", "junction.step", st.name)
			n, serr := f.withRetry(stepCtx, st.name, func() *StepError {
				t := time.Now()
				var e *StepError
				out, e = st.run(stepCtx, it)
				f.metrics.step(st.name, time.Since(t), e != nil)
				return e
			})
			endSpan(span, n, serr)
			attempts = max(attempts, n)
			if serr != nil {
				return result{attempts: attempts, err: serr}
			}
			next = append(next, out...)
		}
		items = next
		if len(items) == 0 {
			return result{outcome: OutcomeFiltered, attempts: attempts}
		}
	}
	var sent []string
	accepted := make([][]string, 0, len(items))
	some := false // a sink has a message
	done := func(serr *StepError) result {
		if !some {
			accepted = nil
		}
		if serr != nil {
			return result{attempts: attempts, sinks: sent, accepted: accepted, err: serr}
		}
		return result{outcome: OutcomeDelivered, sinks: sent, accepted: accepted, attempts: attempts}
	}
	for i, it := range items {
		accepted = append(accepted, []string{})
		var before []string
		if i < len(skip) {
			before = skip[i]
		}
		targets := it.sinks
		if targets == nil {
			targets = f.sinkNames
		}
		// A plugin step's output is kept as its JSON (rawJSON): it goes as it is to the
		// JSON sinks, which then read fields from Body (Doc nil), and is decoded once for
		// the others.
		doc := it.doc
		raw, isRaw := doc.(rawJSON)
		// The encoded message by codec, made when a sink needs it (on the stack for the
		// usual few formats: this is every message's path).
		var few [4][]byte
		bodies := few[:]
		if len(f.codecs) > len(few) {
			bodies = make([][]byte, len(f.codecs))
		}
		for _, name := range targets {
			if !slices.Contains(before, name) {
				ci := f.sinkCodec[name]
				if _, isJSON := f.codecs[ci].(format.JSON); bodies[ci] == nil && isRaw && isJSON {
					bodies[ci] = raw
				}
				if bodies[ci] == nil {
					if isRaw {
						tree, err := transform.Decode(raw)
						if err != nil {
							return done(permanent("encode", err))
						}
						doc, isRaw = tree, false
					}
					body, n, serr := f.encodeBody(ctx, ci, name, doc)
					attempts = max(attempts, n)
					if serr != nil {
						return done(serr)
					}
					bodies[ci] = body
				}
				var sinkDoc any
				if !isRaw {
					sinkDoc = doc
				}
				out := connector.Message{Body: bodies[ci], Headers: m.Headers, Time: m.Time, Doc: sinkDoc}
				n, serr := f.writeSink(ctx, name, out)
				attempts = max(attempts, n)
				if serr != nil {
					return done(serr)
				}
				if !slices.Contains(sent, name) {
					sent = append(sent, name)
				}
			}
			if !slices.Contains(accepted[i], name) {
				accepted[i] = append(accepted[i], name)
			}
			some = true
		}
	}
	return done(nil)
}

// decodeBody decodes a source's message with the source's codec. Bytes that do not
// decode fail the message at once; a service the codec needs being unavailable (a
// schema registry) is retried with the flow's policy, like a failing step.
func (f *Flow) decodeBody(ctx context.Context, body []byte) (any, int, *StepError) {
	doc, err := f.decode(body)
	if err == nil {
		return doc, 1, nil
	}
	if _, unavailable := errors.AsType[*format.UnavailableError](err); !unavailable {
		return nil, 1, f.decodeFailure(err)
	}
	n, serr := f.withRetry(ctx, "decode", func() *StepError {
		doc, err = f.decode(body)
		switch _, unavailable := errors.AsType[*format.UnavailableError](err); {
		case err == nil:
			return nil
		case unavailable:
			return transient("decode", err)
		}
		return f.decodeFailure(err)
	})
	return doc, n, serr
}

func (f *Flow) decodeFailure(err error) *StepError {
	return permanent("decode", fmt.Errorf("the message is not %s: %w", f.srcFormat, err))
}

// encodeBody encodes doc with codecs[ci] for the sink named sink, retrying like
// decodeBody when a service the codec needs is unavailable.
func (f *Flow) encodeBody(ctx context.Context, ci int, sink string, doc any) ([]byte, int, *StepError) {
	codec := f.codecs[ci]
	fail := func(err error) *StepError {
		if ci == 0 {
			return permanent("encode", err)
		}
		return permanent("encode", fmt.Errorf("sink %s: as %s: %w", sink, format.Name(codec), err))
	}
	body, err := codec.Encode(doc)
	if err == nil {
		return body, 0, nil
	}
	if _, unavailable := errors.AsType[*format.UnavailableError](err); !unavailable {
		return nil, 1, fail(err)
	}
	n, serr := f.withRetry(ctx, "encode", func() *StepError {
		body, err = codec.Encode(doc)
		switch _, unavailable := errors.AsType[*format.UnavailableError](err); {
		case err == nil:
			return nil
		case unavailable:
			return transient("encode", fmt.Errorf("sink %s: %w", sink, err))
		}
		return fail(err)
	})
	return body, n, serr
}

func (f *Flow) writeSink(ctx context.Context, name string, m connector.Message) (int, *StepError) {
	var w *sinkWriter
	if p := f.sinks.Load(); p != nil {
		w = (*p)[name]
	}
	step := "sink " + name
	if w == nil {
		return 1, transient(step, ErrStopped)
	}
	ctx, span := f.startStepSpan(ctx, "flow.sink", "junction.sink", name)
	n, serr := f.withRetry(ctx, step, func() *StepError {
		t := time.Now()
		err := w.write(ctx, m)
		f.metrics.step(step, time.Since(t), err != nil)
		if err == nil {
			return nil
		}
		var bad *connector.MessageError
		if errors.As(err, &bad) {
			return permanent(step, bad.Err)
		}
		return transient(step, err)
	})
	endSpan(span, n, serr)
	return n, serr
}

// withRetry runs fn, retrying transient failures with the flow's policy in the one
// retry loop (retry.Do, on the engine's clock). It returns the number of attempts made
// and the last failure.
func (f *Flow) withRetry(ctx context.Context, stepName string, fn func() *StepError) (int, *StepError) {
	serr, n, err := retry.Do(ctx, f.opts.Env.Clock, f.policy, transientFailure,
		func(_ context.Context, n int) (*StepError, error) {
			if n > 1 {
				f.counts.retries.Add(1)
				f.metrics.retry(stepName)
			}
			if serr := fn(); serr != nil {
				return serr, serr
			}
			return nil, nil
		})
	if n == 0 { // ctx ended before the first attempt: the message goes back to its source
		return 0, transient(stepName, err)
	}
	return n, serr
}

// transientFailure says which outcomes of a step are retried: failures that are not
// permanent.
func transientFailure(serr *StepError, _ error) (bool, time.Duration) {
	return serr != nil && !serr.Permanent, 0
}
