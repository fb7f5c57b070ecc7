// Package eventroute sends internal events to the destinations their configuration
// declares in `publish_to`:
//
//	event IntegrationCircuitOpened {
//	    payload { integration: string  failures: integer  opened_at: timestamp }
//	    publish_to: [webhook("monitoring"), integration("Alerts.notify")]
//	}
//
// webhook("T") publishes a webhook event of type T, delivered to every endpoint
// subscribed to T, with data {"event": <event name>, "payload": {…}}.
// integration("Name.operation") calls that operation with the payload's fields as
// parameters. Other kinds (slack("#ops")) are reported once at start-up and skipped.
//
// Every event on the bus with a routed type is routed, whoever published it (Junction,
// an inbound webhook, the API, a flow), except events a route published itself: they
// are marked with event.SourceRoutePrefix and never routed again, so routes cannot loop.
package eventroute
