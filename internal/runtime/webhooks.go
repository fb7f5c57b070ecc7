package runtime

import (
	"context"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// Webhooks is the webhook service of the runtime in force, for the HTTP API: endpoints,
// publishing, deliveries, dead letters and inbound sources follow reloads.
func (h *Host) Webhooks() WebhooksView { return WebhooksView{h} }

// WebhooksView passes each call to the current runtime's webhook service.
type WebhooksView struct{ h *Host }

func (v WebhooksView) svc() *webhook.Service { return v.h.Current().webhooks }

// CreateEndpoint see webhook.Service.
func (v WebhooksView) CreateEndpoint(ctx context.Context, in webhook.EndpointInput) (store.Endpoint, error) {
	return v.svc().CreateEndpoint(ctx, in)
}

// GetEndpoint see webhook.Service.
func (v WebhooksView) GetEndpoint(ctx context.Context, id string) (store.Endpoint, error) {
	return v.svc().GetEndpoint(ctx, id)
}

// ListEndpoints see webhook.Service.
func (v WebhooksView) ListEndpoints(ctx context.Context, f store.EndpointFilter) ([]store.Endpoint, int, error) {
	return v.svc().ListEndpoints(ctx, f)
}

// UpdateEndpoint see webhook.Service.
func (v WebhooksView) UpdateEndpoint(ctx context.Context, id string, u webhook.EndpointUpdate) (store.Endpoint, error) {
	return v.svc().UpdateEndpoint(ctx, id, u)
}

// DeleteEndpoint see webhook.Service.
func (v WebhooksView) DeleteEndpoint(ctx context.Context, id string) error {
	return v.svc().DeleteEndpoint(ctx, id)
}

// RotateSecret see webhook.Service.
func (v WebhooksView) RotateSecret(ctx context.Context, id string) (store.Endpoint, error) {
	return v.svc().RotateSecret(ctx, id)
}

// ResetCircuit see webhook.Service.
func (v WebhooksView) ResetCircuit(ctx context.Context, id string) (store.Endpoint, error) {
	return v.svc().ResetCircuit(ctx, id)
}

// Declared see webhook.Service.
func (v WebhooksView) Declared(ep store.Endpoint) (webhook.DeclaredStatus, bool) {
	return v.svc().Declared(ep)
}

// ListDeliveries see webhook.Service.
func (v WebhooksView) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	return v.svc().ListDeliveries(ctx, f)
}

// TestEndpoint see webhook.Service.
func (v WebhooksView) TestEndpoint(ctx context.Context, id string) (store.Delivery, error) {
	return v.svc().TestEndpoint(ctx, id)
}

// Retry see webhook.Service.
func (v WebhooksView) Retry(ctx context.Context, id string) (store.Delivery, error) {
	return v.svc().Retry(ctx, id)
}

// ListDeadLetters see webhook.Service.
func (v WebhooksView) ListDeadLetters(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, int, error) {
	return v.svc().ListDeadLetters(ctx, f)
}

// Publish see webhook.Service. An event published through the API whose type is
// declared is checked against its declared payload first.
func (v WebhooksView) Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error) {
	rt := v.h.Current()
	if err := rt.checkShape(e); err != nil {
		return webhook.PublishResult{}, err
	}
	return rt.webhooks.Publish(ctx, e)
}

// Ingest see webhook.Service.
func (v WebhooksView) Ingest(ctx context.Context, source string, in webhook.Received) (webhook.IngestResult, error) {
	return v.svc().Ingest(ctx, source, in)
}

// ListInbound see webhook.Service.
func (v WebhooksView) ListInbound(ctx context.Context, f store.InboundFilter) ([]store.InboundMessage, error) {
	return v.svc().ListInbound(ctx, f)
}

// GetInbound see webhook.Service.
func (v WebhooksView) GetInbound(ctx context.Context, id string) (store.InboundMessage, error) {
	return v.svc().GetInbound(ctx, id)
}

// ListRejections see webhook.Service.
func (v WebhooksView) ListRejections(source string, limit int) ([]webhook.Rejection, error) {
	return v.svc().ListRejections(source, limit)
}
