package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/registry"
	"github.com/junctionhq/junction/internal/flow"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// flowBridge connects flows to the rest of Junction (connector.Internal): the event bus
// and published events for events sources, webhook publishing for webhook sinks,
// integration calls for enrich steps and integration sinks, and POST /in/{path}
// for http sources.
type flowBridge struct {
	log     *slog.Logger
	bus     *event.Bus
	hooks   *webhook.Service
	runtime func() *integration.Runtime

	mu        sync.Mutex
	inbound   map[string]func(context.Context, connector.Message) error
	published map[*publishedSub]struct{}
}

// publishedSub is an events source's subscription to API-published events. Publishing
// must never wait for a flow, so events queue here (up to event.QueueSizeDefault, like
// the bus's subscribers) and a goroutine of the subscription hands them on.
type publishedSub struct {
	pattern string
	queue   chan store.Event
	done    chan struct{}
}

var _ connector.Internal = (*flowBridge)(nil)

func newFlowBridge(log *slog.Logger, bus *event.Bus, hooks *webhook.Service, runtime func() *integration.Runtime) *flowBridge {
	return &flowBridge{
		log: log, bus: bus, hooks: hooks, runtime: runtime,
		inbound:   map[string]func(context.Context, connector.Message) error{},
		published: map[*publishedSub]struct{}{},
	}
}

// Subscribe delivers bus events (inbound webhooks, circuit events) as their data, and
// events published through the API as theirs.
func (b *flowBridge) Subscribe(pattern string, handle func(string, []byte)) func() {
	patterns := []string{pattern}
	unsubscribe := b.bus.Subscribe(func(e event.Event) bool { return webhook.Subscribed(patterns, e.Type) }, func(e event.Event) {
		data, err := json.Marshal(e.Data)
		if err == nil {
			handle(e.Type, data)
		}
	})
	sub := &publishedSub{pattern: pattern, queue: make(chan store.Event, event.QueueSizeDefault), done: make(chan struct{})}
	go func() {
		defer close(sub.done)
		for e := range sub.queue {
			handle(e.Type, e.Data)
		}
	}()
	b.mu.Lock()
	b.published[sub] = struct{}{}
	b.mu.Unlock()
	return func() {
		unsubscribe()
		b.mu.Lock()
		delete(b.published, sub)
		close(sub.queue)
		b.mu.Unlock()
		<-sub.done
	}
}

// eventPublished is webhook.Options.Published. It never blocks: an event for a
// subscription whose queue is full is dropped with a warning (events sources are not
// durable; see the builtin package).
func (b *flowBridge) eventPublished(e store.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.published {
		if !webhook.Subscribed([]string{s.pattern}, e.Type) {
			continue
		}
		select {
		case s.queue <- e:
		default:
			b.log.Warn("events source queue full; event not handed to its flow", "event_type", e.Type, "event_id", e.ID)
		}
	}
}

// PublishEvent publishes a webhook event; an event the webhook service rejects as
// invalid is the message's fault, so the flow dead-letters it instead of retrying.
func (b *flowBridge) PublishEvent(ctx context.Context, id, eventType string, data []byte) error {
	_, err := b.hooks.Publish(ctx, webhook.EventInput{ID: id, Type: eventType, Data: data})
	var invalid *webhook.ValidationError
	if errors.As(err, &invalid) || errors.Is(err, webhook.ErrPayloadTooLarge) {
		return &connector.MessageError{Index: 0, Err: err}
	}
	return err
}

// CallOperation calls through the current integration runtime, with all its policies.
func (b *flowBridge) CallOperation(ctx context.Context, in, op string, params map[string]any, body []byte) (int, []byte, error) {
	res, err := b.runtime().Call(ctx, in, op, params, integration.CallOptions{Body: body})
	if err != nil {
		return 0, nil, err
	}
	return res.Status, res.Body, nil
}

// HandleHTTP routes POST /in/{path} to a flow's http source.
func (b *flowBridge) HandleHTTP(path string, handle func(context.Context, connector.Message) error) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, taken := b.inbound[path]; taken {
		return nil, fmt.Errorf("another flow already receives /in/%s", path)
	}
	b.inbound[path] = handle
	return func() {
		b.mu.Lock()
		delete(b.inbound, path)
		b.mu.Unlock()
	}, nil
}

// Inbound hands a POSTed message to the flow receiving path; ok is false if none does.
func (b *flowBridge) Inbound(ctx context.Context, path string, m connector.Message) (ok bool, err error) {
	b.mu.Lock()
	handle := b.inbound[path]
	b.mu.Unlock()
	if handle == nil {
		return false, nil
	}
	return true, handle(ctx, m)
}

// flowDrainTimeout bounds how long stopping the server (or a reload) waits for the
// messages flows have in flight; what is left is redelivered by the sources.
const flowDrainTimeout = 30 * time.Second

// flowHost is the running flows as the server sees them (server.Flows); a reload swaps
// the engine underneath.
type flowHost struct {
	engine atomic.Pointer[flow.Engine]
	bridge *flowBridge
}

func (h *flowHost) List(ctx context.Context) []flow.Status { return h.engine.Load().List(ctx) }

func (h *flowHost) Status(ctx context.Context, name string) (flow.Status, error) {
	return h.engine.Load().Status(ctx, name)
}

func (h *flowHost) StartFlow(name string) error {
	f, err := h.engine.Load().Flow(name)
	if err != nil {
		return err
	}
	return f.Start()
}

func (h *flowHost) StopFlow(ctx context.Context, name string) error {
	f, err := h.engine.Load().Flow(name)
	if err != nil {
		return err
	}
	f.Stop(ctx)
	return nil
}

func (h *flowHost) Logs(name string, limit int) ([]flow.LogEntry, error) {
	f, err := h.engine.Load().Flow(name)
	if err != nil {
		return nil, err
	}
	return f.Logs(limit), nil
}

func (h *flowHost) DeadLetters(ctx context.Context, f flow.DeadLetterFilter) ([]flow.DeadLetter, int, error) {
	return h.engine.Load().DeadLetters(ctx, f)
}

func (h *flowHost) Replay(ctx context.Context, id string) error {
	return h.engine.Load().Replay(ctx, id)
}

func (h *flowHost) Inbound(ctx context.Context, path string, m connector.Message) (bool, error) {
	return h.bridge.Inbound(ctx, path, m)
}

// close stops the current engine's flows, draining.
func (h *flowHost) close() {
	ctx, cancel := context.WithTimeout(context.Background(), flowDrainTimeout)
	defer cancel()
	h.engine.Load().Close(ctx)
}

// replace starts next in place of the running engine (after draining it).
func (h *flowHost) replace(next *flow.Engine) {
	h.close()
	h.engine.Store(next)
	_ = next.Start() // flows that cannot start say why in their status
}

// flowOptions are the engine's options in a server (bridge set) or a tool (nil).
func flowOptions(lookup config.LookupEnv, log *slog.Logger, bridge connector.Internal, st flow.DeadLetterStore, m *flow.Metrics) flow.Options {
	return flow.Options{
		Kinds:       registry.Kinds(),
		Env:         connector.Env{LookupEnv: lookup, Logger: log, Clock: clock.Real{}, Internal: bridge},
		DeadLetters: st,
		Metrics:     m,
	}
}
