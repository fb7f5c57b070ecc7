package runtime

import (
	"context"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/format"
)

// Flows is the flows of the runtime in force, for the HTTP API.
func (h *Host) Flows() FlowsView { return FlowsView{h} }

// FlowsView passes each call to the current runtime's flows.
type FlowsView struct{ h *Host }

func (v FlowsView) rt() *Runtime { return v.h.Current() }

// List is every flow's status.
func (v FlowsView) List(ctx context.Context) []flow.Status { return v.rt().flows.List(ctx) }

// Status is one flow's status.
func (v FlowsView) Status(ctx context.Context, name string) (flow.Status, error) {
	return v.rt().flows.Status(ctx, name)
}

// StartFlow starts a stopped flow.
func (v FlowsView) StartFlow(name string) error {
	f, err := v.rt().flows.Flow(name)
	if err != nil {
		return err
	}
	return f.Start()
}

// StopFlow stops a flow, draining what it holds within ctx.
func (v FlowsView) StopFlow(ctx context.Context, name string) error {
	f, err := v.rt().flows.Flow(name)
	if err != nil {
		return err
	}
	f.Stop(ctx)
	return nil
}

// Logs are a flow's recent per-message outcomes, those numbered above after.
func (v FlowsView) Logs(name string, limit int, after uint64) ([]flow.LogEntry, error) {
	f, err := v.rt().flows.Flow(name)
	if err != nil {
		return nil, err
	}
	return f.Logs(limit, after), nil
}

// Replay sends a flow dead letter through its flow again.
func (v FlowsView) Replay(ctx context.Context, id string) error { return v.rt().flows.Replay(ctx, id) }

// Inbound hands a POST to /in/{path} to the flow receiving it.
func (v FlowsView) Inbound(ctx context.Context, path string, m connector.Message) (bool, error) {
	return v.rt().bridge.Inbound(ctx, path, m)
}

// InboundFormat is the codec of the source of the flow receiving POST /in/{path}: nil
// for JSON; ok is false when no running flow receives path.
func (v FlowsView) InboundFormat(path string) (codec format.Codec, ok bool) {
	rt := v.rt()
	name, ok := rt.bridge.inboundFlow(path)
	if !ok {
		return nil, false
	}
	f, err := rt.flows.Flow(name)
	if err != nil {
		// Not a flow of this runtime (an http source opened outside the engine): its
		// messages are JSON, as an http source's are by default.
		return nil, true
	}
	return f.SourceFormat(), true
}

// DeadLetters lists the flows' dead letters.
func (v FlowsView) DeadLetters(ctx context.Context, f flow.DeadLetterFilter) ([]flow.DeadLetter, int, error) {
	return v.rt().flows.DeadLetters(ctx, f)
}
