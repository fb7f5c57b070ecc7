package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/workflow"
)

// bridge connects a runtime's flows to the rest of it (connector.Internal, and
// connector.EventLog for events sources: eventlog.go): webhook publishing for webhook sinks, integration calls for
// enrich steps and integration sinks, and POST /in/{path} for http sources.
type bridge struct {
	log          *slog.Logger
	bus          *event.Bus
	hooks        *webhook.Service
	integrations *integration.Runtime
	workflows    *workflow.Engine
	events       eventLog // the events sources' reads (eventlog.go)

	mu      sync.Mutex
	inbound map[string]inboundRoute
}

// inboundRoute is the flow receiving an /in/ path, and how it takes a message.
type inboundRoute struct {
	flow   string
	handle func(context.Context, connector.Message) error
}

var _ connector.Internal = (*bridge)(nil)

func newBridge(log *slog.Logger, bus *event.Bus, hooks *webhook.Service, ints *integration.Runtime, wfs *workflow.Engine, events eventLog) *bridge {
	return &bridge{log: log, bus: bus, hooks: hooks, integrations: ints, workflows: wfs, events: events, inbound: map[string]inboundRoute{}}
}

// Subscribe hands every event on the bus whose type matches pattern to handle, as its
// type and payload: events published through the API or by a flow, inbound webhooks,
// Junction's own (circuit changes, failed deliveries). Publishing never waits for a
// flow: the bus queues per subscriber (see event.Bus).
func (b *bridge) Subscribe(pattern string, handle func(string, []byte)) func() {
	patterns := []string{pattern}
	return b.bus.Subscribe(func(e event.Event) bool { return webhook.Subscribed(patterns, e.Type) }, func(e event.Event) {
		handle(e.Type, e.Data)
	})
}

// PublishEvent publishes a webhook event; an event the webhook service rejects as
// invalid is the message's fault, so the flow dead-letters it instead of retrying.
func (b *bridge) PublishEvent(ctx context.Context, id, eventType string, data []byte) error {
	_, err := b.hooks.Publish(ctx, event.Event{ID: id, Type: eventType, Data: data})
	var invalid *webhook.ValidationError
	if errors.As(err, &invalid) || errors.Is(err, webhook.ErrPayloadTooLarge) {
		return &connector.MessageError{Index: 0, Err: err}
	}
	return err
}

// CallOperation calls an integration of this runtime, with all its policies.
func (b *bridge) CallOperation(ctx context.Context, in, op string, params map[string]any, body []byte) (int, []byte, error) {
	res, err := b.integrations.Call(ctx, in, op, params, integration.CallOptions{Body: body})
	if err != nil {
		return 0, nil, err
	}
	return res.Status, res.Body, nil
}

// StartWorkflow stores a run of a workflow sink's workflow. The run's ID is made from
// the flow's id for the message, so a message delivered again starts one run; an input
// that is not an object, or a workflow that is not declared, is the message's fault.
func (b *bridge) StartWorkflow(ctx context.Context, name, id string, input []byte) error {
	o := workflow.StartOptions{Trigger: "flow"}
	if id != "" {
		sum := sha256.Sum256([]byte(name + "\x00" + id))
		o.ID = "wfr_flow_" + hex.EncodeToString(sum[:16])
	}
	_, _, err := b.workflows.StartRun(ctx, name, input, o)
	if errors.Is(err, workflow.ErrBadInput) || errors.Is(err, workflow.ErrNotFound) {
		return &connector.MessageError{Index: 0, Err: err}
	}
	return err
}

// HandleHTTP routes POST /in/{path} to a flow's http source.
func (b *bridge) HandleHTTP(path, flow string, handle func(context.Context, connector.Message) error) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, taken := b.inbound[path]; taken {
		return nil, fmt.Errorf("another flow already receives /in/%s", path)
	}
	b.inbound[path] = inboundRoute{flow: flow, handle: handle}
	return func() {
		b.mu.Lock()
		delete(b.inbound, path)
		b.mu.Unlock()
	}, nil
}

// Inbound hands a POSTed message to the flow receiving path; ok is false if none does.
func (b *bridge) Inbound(ctx context.Context, path string, m connector.Message) (ok bool, err error) {
	b.mu.Lock()
	route, ok := b.inbound[path]
	b.mu.Unlock()
	if !ok {
		return false, nil
	}
	return true, route.handle(ctx, m)
}

// inboundFlow names the flow receiving path; ok is false if none does.
func (b *bridge) inboundFlow(path string) (flow string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	route, ok := b.inbound[path]
	return route.flow, ok
}
