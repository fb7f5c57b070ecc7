// Package event is Junction's internal event bus: components publish named events
// (IntegrationCircuitOpened, WebhookDeliveryFailed, …) and any number of subscribers
// receive them, each on its own goroutine, so a slow subscriber never blocks a publisher
// on a hot path such as a circuit breaker.
//
// Delivery is in-process and best effort: each subscriber has a bounded queue, and when
// it is full the oldest event is dropped and counted. Subscribers that must not lose
// events (the durable webhook fan-out) persist them in their handler and keep up.
//
// Watchers (watch.go) are the bus's window for people (GET /events/stream): they also
// get the watch-only events, one per flow message or delivery attempt, which cost
// nothing while nobody watches.
package event
