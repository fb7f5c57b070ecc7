package webhook

import "github.com/junctionhq/junction/internal/store"

// The store's types the service takes and returns, named here so that users of the
// service (the HTTP server) need not import the store.
type (
	Endpoint       = store.Endpoint
	EndpointFilter = store.EndpointFilter
	Delivery       = store.Delivery
	DeliveryFilter = store.DeliveryFilter
	DeliveryStatus = store.DeliveryStatus
	Page           = store.Page
	InboundMessage = store.InboundMessage
	InboundFilter  = store.InboundFilter
)

// Where a delivery stands.
const (
	DeliveryPending   = store.DeliveryPending
	DeliveryRetrying  = store.DeliveryRetrying
	DeliveryDelivered = store.DeliveryDelivered
	DeliveryFailed    = store.DeliveryFailed
)
