package runtime

import (
	"context"

	"github.com/junctionhq/junction/internal/integration"
)

// The gateway of the runtime in force, as the HTTP server and event routes see it. Each
// call is counted on the runtime it runs on, so a reload retires that runtime's
// integrations only after the call has ended.

// Call calls an integration operation with all its policies.
func (h *Host) Call(ctx context.Context, in, op string, params map[string]any, co integration.CallOptions) (*integration.Result, error) {
	rt, leave, err := h.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	return rt.integrations.Call(ctx, in, op, params, co)
}

// Forward sends a raw request to an integration's base URL (the proxy).
func (h *Host) Forward(ctx context.Context, in string, fr integration.ForwardRequest) (*integration.Result, error) {
	rt, leave, err := h.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	return rt.integrations.Forward(ctx, in, fr)
}

// Statuses lists every integration's status.
func (h *Host) Statuses() []integration.Status { return h.Current().integrations.Statuses() }

// Health reports one integration's health.
func (h *Host) Health(name string) (integration.Health, error) {
	return h.Current().integrations.Health(name)
}

// ResetCircuit closes an integration's circuit by hand.
func (h *Host) ResetCircuit(name string) (string, error) {
	return h.Current().integrations.ResetCircuit(name)
}

// Operation describes an operation for the HTTP API (its body type, its parameters).
func (h *Host) Operation(in, op string) (integration.OperationInfo, bool) {
	return h.Current().integrations.Operation(in, op)
}
