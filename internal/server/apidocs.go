package server

import (
	"encoding/json"
	"net/http"

	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/workflow"
)

// apiDoc describes one operation of the HTTP API for the OpenAPI document. The route
// table (Server.routeTable) says which operations exist and who may call them; this
// table says what they do. TestEveryRouteIsDocumented fails when one has no entry in the
// other.
type apiDoc struct {
	Tag         string
	Summary     string
	Description string
	Success     int   // the status of a successful answer; 200 when 0
	Also        []int // other successful statuses (a run that ended within ?wait: 200)
	// Passthrough: the answer is the upstream's, any 2xx with its own Content-Type.
	Passthrough bool
	// Response is a value of the type the handler encodes on success: its schema is the
	// answer's (see schemaOf); an anyOf value lists the types of an answer that may be
	// one of several. A JSON answer needs one: TestAnswersAreDocumented fails without.
	Response any
	// Answers are the types of the successful statuses whose answer is not a Response.
	Answers map[int]any
	// Produces are the media types of an answer that is not JSON (a page, a stream).
	Produces []string
	// Request is a value of the type the handler decodes its JSON request body into
	// (decodeJSON): the body's schema is made from it (see requestSchemaOf), and
	// TestRequestBodiesAreDocumented fails when the handler decodes into another type.
	// json.RawMessage stands for any JSON value that is read but not decoded.
	Request any
	// RawBody: the handler takes the body as it is, in any media type (documented as
	// */*), besides the JSON of Request if there is one.
	RawBody bool
	// Body says what the request body holds, for a Request or a RawBody.
	Body string
	// BodyOptional: the body may be left out.
	BodyOptional bool
	Query        []param // query parameters
	// Variants document a route that dispatches to several operations by its path
	// (GET /workflows/{first}/{second}) as those operations, each with its own Path.
	Variants []apiDoc
	Path     string
}

type param struct{ Name, Description string }

// The wrappers the list answers put around their items.
type (
	dataOf[T any] struct {
		Data []T `json:"data"`
	}
	pagedOf[T any] struct {
		Data       []T        `json:"data"`
		Pagination pagination `json:"pagination"`
	}
	statusAnswer struct {
		Status string `json:"status"`
	}
	// anyOf documents an answer that is one of several types: a flow's dead letters or
	// webhook deliveries. Its schema is anyOf theirs, not oneOf: an empty page is both.
	anyOf []any
)

var pageParams = []param{
	{"page", "the page, from 1 (the answer's pagination says how many there are)"},
	{"limit", "items per page, 1 to 100 (default 20)"},
}

// apiDocs is keyed by the pattern the route is registered with.
var apiDocs = map[string]apiDoc{
	"GET /healthz":      {Response: statusAnswer{}, Tag: "health", Summary: "Liveness: the process answers"},
	"GET /readyz":       {Response: statusAnswer{}, Tag: "health", Summary: "Readiness: storage answers within 2 s (503 otherwise)"},
	"GET /metrics":      {Produces: []string{"text/plain"}, Tag: "health", Summary: "Prometheus metrics in the text exposition format"},
	"GET /openapi.json": {Response: openAPIDoc{}, Tag: "health", Summary: "This document: the OpenAPI 3.1 description of the HTTP API"},
	"GET /docs":         {Produces: []string{"text/html"}, Tag: "health", Summary: "The API reference, rendered from /openapi.json (HTML)"},

	"GET /{$}":                      {Produces: []string{"text/html"}, Tag: "console", Summary: "The operating console (HTML): sign in with an API token"},
	"GET /console/assets/{file...}": {Produces: []string{"text/javascript", "text/css", "image/svg+xml"}, Tag: "console", Summary: "The console's script and styles"},
	"POST /console/session": {Response: sessionView{}, Tag: "console", Summary: "Sign in: keep an API token in an HttpOnly, SameSite cookie; the answer holds the CSRF token to send as X-CSRF-Token",
		Request: signInRequest{}, Body: "the API token"},
	"DELETE /console/session": {Tag: "console", Summary: "Sign out: forget the session cookie", Success: http.StatusNoContent},
	"GET /console/me":         {Response: sessionView{}, Tag: "console", Summary: "Who is signed in: name, role, and the session's CSRF token"},

	"GET /integrations/status": {Response: struct {
		Integrations []IntegrationStatus `json:"integrations"`
	}{}, Tag: "integrations", Summary: "Every integration's status, circuit state and recent statistics"},
	"GET /integrations/{name}/health": {Response: healthBody{}, Tag: "integrations", Summary: "One integration's health: circuit, latency percentiles, error rate, last error"},
	"POST /integrations/{name}/circuit/reset": {Response: struct {
		Name         string `json:"name"`
		CircuitState string `json:"circuit_state"`
	}{}, Tag: "integrations", Summary: "Close an integration's circuit breaker (admin)"},
	"POST /integrations/{name}/operations/{op}": {Tag: "integrations", Summary: "Call an operation with every policy of its integration",
		Description: "The answer is the upstream's status and body. Headers X-Junction-Attempts, X-Junction-Cache, X-Junction-Circuit and X-Junction-Fallback say what the policies did; X-Junction-Timeout bounds the call (at most 55 s).",
		Request:     map[string]any{}, RawBody: true, BodyOptional: true, Passthrough: true,
		Body: "the operation's parameters by name (path, query, body and header parameters alike); for a body_type: binary operation, the content itself in any other media type, with the other parameters in the query string"},
	"/proxy/{name}/{path...}": {Tag: "integrations", Summary: "Send a request to the integration's base URL plus path, with its credentials and policies", Passthrough: true,
		RawBody: true, BodyOptional: true, Body: "passed on to the upstream as it is"},

	"GET /webhooks": {Response: pagedOf[endpointJSON]{}, Tag: "webhooks", Summary: "List webhook endpoints", Query: append([]param{{"is_active", "true or false"}}, pageParams...)},
	"POST /webhooks": {Response: endpointJSON{}, Tag: "webhooks", Summary: "Register a webhook endpoint; the answer holds its signing secret", Success: http.StatusCreated,
		Request: createEndpointRequest{}, Body: "name, url, the event types it receives (patterns such as order.*), and a signing secret (made when left out)"},
	"GET /webhooks/{id}": {Response: endpointJSON{}, Tag: "webhooks", Summary: "One webhook endpoint"},
	"PUT /webhooks/{id}": {Response: endpointJSON{}, Tag: "webhooks", Summary: "Change a webhook endpoint",
		Request: updateEndpointRequest{}, Body: "the settings to change; those left out stay as they are"},
	"DELETE /webhooks/{id}":                {Tag: "webhooks", Summary: "Delete a webhook endpoint", Success: http.StatusNoContent},
	"GET /webhooks/{id}/deliveries":        {Response: pagedOf[deliveryJSON]{}, Tag: "webhooks", Summary: "An endpoint's deliveries with their attempts and responses", Query: append([]param{{"status", "pending, retrying, delivered or failed"}}, pageParams...)},
	"POST /webhooks/{id}/test":             {Response: deliveryJSON{}, Tag: "webhooks", Summary: "Send a test event to one endpoint: 200 with the delivery when it was attempted at once, 202 when it waits", Success: http.StatusAccepted, Also: []int{http.StatusOK}},
	"POST /webhooks/{id}/rotate-secret":    {Response: endpointJSON{}, Tag: "webhooks", Summary: "Make a new signing secret; the old one keeps signing for secret_overlap"},
	"POST /webhooks/{id}/circuit/reset":    {Response: endpointJSON{}, Tag: "webhooks", Summary: "Close an endpoint's delivery circuit (admin)"},
	"POST /webhooks/deliveries/{id}/retry": {Response: deliveryJSON{}, Tag: "webhooks", Summary: "Deliver a failed or dead delivery again now", Success: http.StatusAccepted},
	"POST /events": {Response: struct {
		ID         string `json:"id"`
		Deliveries int    `json:"deliveries"`
		Duplicate  bool   `json:"duplicate"`
	}{}, Tag: "events", Summary: "Publish an event to every endpoint subscribed to its type", Success: http.StatusAccepted,
		Request: publishRequest{}, Body: "type, data, and an optional id that makes the publish idempotent"},
	"GET /events/stream": {Produces: []string{"text/event-stream"}, Tag: "events", Summary: "Every event on the bus as Server-Sent Events (text/event-stream), live",
		Description: "Published events, received webhooks, circuit changes, flow message outcomes (junction.flow.message) and delivery attempts (junction.webhook.delivery). A client that falls behind gets an overflow event and the stream ends.",
		Query:       []param{{"types", "comma-separated type patterns such as order.*,junction.flow.*; repeatable; all when absent"}}},
	"GET /inbound": {Response: struct {
		Data       []inboundJSON `json:"data"`
		NextBefore *string       `json:"next_before"`
	}{}, Tag: "inbound", Summary: "Received webhooks, newest first, with how each was verified",
		Query: []param{{"source", "one source's messages"}, {"limit", "how many, 1 to 100"}, {"before", "a message id: the page after it (the answer's next_before)"}}},
	"GET /inbound/{id}": {Response: inboundJSON{}, Tag: "inbound", Summary: "One received webhook"},
	"GET /inbound/rejections": {Response: dataOf[rejectionJSON]{}, Tag: "inbound", Summary: "The last 100 refused webhooks per source: when, why, from where, how long (no body)",
		Query: []param{{"source", "one source's refusals"}, {"limit", "how many"}}},
	"GET /events/ws": {Success: http.StatusSwitchingProtocols, Tag: "events", Summary: "The same events over a WebSocket: one JSON text message each; a client that falls behind is closed with 1013",
		Query: []param{{"types", "comma-separated type patterns, as for /events/stream"}}},
	"POST /ingest/{source}": {Response: ingestAnswer{}, Tag: "inbound", Summary: "Receive a provider's webhook, verified by its signature (no token)", Success: http.StatusAccepted,
		RawBody: true, Body: "the provider's payload, as it sent it"},

	"GET /dead-letters": {Response: anyOf{pagedOf[flowDeadLetterJSON]{}, pagedOf[deliveryJSON]{}}, Tag: "dead-letters", Summary: "A flow's dead letters (?flow= or ?queue=), or webhook deliveries that ran out of attempts, newest first",
		Query: append([]param{{"flow", "a flow's name"}, {"queue", "a flow dead-letter queue's name"}, {"endpoint_id", "a webhook endpoint's deliveries only"}}, pageParams...)},
	"POST /dead-letters/{id}/replay": {Response: replayedAnswer{}, Answers: map[int]any{http.StatusAccepted: deliveryJSON{}}, Tag: "dead-letters",
		Summary: "Run a flow's dead letter through its flow again now (200), or schedule a webhook delivery's (202)", Also: []int{http.StatusAccepted}},

	"GET /flows":               {Response: dataOf[flow.Status]{}, Tag: "flows", Summary: "Every flow: state, counters, rates, last error"},
	"GET /flows/{name}":        {Response: flow.Status{}, Tag: "flows", Summary: "One flow's state, steps, sinks, counters and rates"},
	"GET /flows/{name}/logs":   {Response: dataOf[flow.LogEntry]{}, Tag: "flows", Summary: "The outcomes of a flow's last messages", Query: []param{{"limit", "how many (at most 500)"}}},
	"POST /flows/{name}/start": {Response: flow.Status{}, Tag: "flows", Summary: "Start a stopped flow (admin)"},
	"POST /flows/{name}/stop":  {Response: flow.Status{}, Tag: "flows", Summary: "Stop a flow: it takes no more messages and lets those in flight finish (admin)"},
	"POST /in/{path...}": {Response: struct {
		Accepted bool `json:"accepted"`
	}{}, Tag: "flows", Summary: "Hand a message to the flow whose http source has this path; answered once it is safe", Success: http.StatusAccepted,
		Description: "The body is in the format of the flow's source: JSON (application/json) unless its http source declares `format`. An XML flow takes application/xml, text/xml or a +xml type; an Avro or Protobuf flow takes any Content-Type. A body that does not decode is refused with 400, a Content-Type of another format with 415.",
		Request:     json.RawMessage{}, RawBody: true, Body: "the message: a JSON value, or a document in the format of the flow's source (XML, Avro, Protobuf)"},

	"GET /handlers":                        {Response: dataOf[handlerJSON]{}, Tag: "handlers", Summary: "The declared event handlers"},
	"GET /handlers/executions":             {Response: pagedOf[executionJSON]{}, Tag: "handlers", Summary: "Handler executions, newest first", Query: append([]param{{"status", "pending, failed, done or dead"}, {"event", "an event type"}}, pageParams...)},
	"POST /handlers/executions/{id}/retry": {Response: executionJSON{}, Tag: "handlers", Summary: "Run a failed handler execution again", Success: http.StatusAccepted},

	"GET /cluster": {Response: cluster.Status{}, Tag: "cluster", Summary: "The nodes sharing this database: address, version, state (up, down, stopped), last heartbeat, the leases each holds, the configuration each runs (config_differs when it is not the others'), and which state is kept per node",
		Description: "A node is down when it has not heartbeaten for longer than the lease time to live; its leases are then taken over by another node."},

	"POST /plugins": {Response: pluginJSON{}, Tag: "plugins", Summary: "Register a WebAssembly plugin (admin): its manifest and its module, base64",
		Description: "The module is checked against the manifest and loaded (its pre_startup hook runs) before it is stored; a plugin of the same name is replaced. Every node of a cluster loads it within seconds. A module built with the plugin kit: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.",
		Request:     registerPluginRequest{}, Body: "manifest (name, version, functions, capabilities, limits, …) and module (the .wasm, base64)", Success: http.StatusCreated},
	"GET /plugins":           {Response: dataOf[pluginJSON]{}, Tag: "plugins", Summary: "The plugins of this node: registered and declared, loaded or why not, calls, errors, mean µs per call"},
	"GET /plugins/{name}":    {Response: pluginJSON{}, Tag: "plugins", Summary: "One plugin: its manifest and its state on this node"},
	"DELETE /plugins/{name}": {Tag: "plugins", Summary: "Unregister a plugin (admin): removed from the store and unloaded (its post_shutdown hook runs) on every node", Success: http.StatusNoContent},
	"GET /jobs":              {Response: dataOf[jobJSON]{}, Tag: "jobs", Summary: "The scheduled jobs, with their next and last runs"},
	"GET /jobs/{name}":       {Response: jobJSON{}, Tag: "jobs", Summary: "One job"},
	"GET /jobs/{name}/runs":  {Response: pagedOf[jobRunJSON]{}, Tag: "jobs", Summary: "A job's runs, newest first", Query: pageParams},
	"POST /jobs/{name}/trigger": {Response: struct {
		Job   string `json:"job"`
		RunID string `json:"run_id"`
	}{}, Tag: "jobs", Summary: "Run a job now, outside its schedule (admin)", Success: http.StatusAccepted},

	"GET /workflows": {Response: dataOf[workflow.Info]{}, Tag: "workflows", Summary: "The declared workflows and their run counts"},
	"POST /workflows/{name}/runs": {Response: workflowRunJSON{}, Tag: "workflows", Summary: "Start a run; ?wait=30s answers 200 when it ends (or 202 at the deadline)", Success: http.StatusAccepted, Also: []int{http.StatusOK},
		Request: map[string]json.RawMessage{}, BodyOptional: true, Body: "the run's input, a JSON object ({} when there is no body)", Query: []param{{"wait", "how long to wait for the run to end, such as 30s"}}},
	"GET /workflows/{first}/{second}": {Variants: []apiDoc{
		{Path: "/workflows/{name}/runs", Response: pagedOf[workflowRunJSON]{}, Tag: "workflows", Summary: "A workflow's runs, newest first", Query: append([]param{{"status", "pending, running, waiting, completed, stopped, failed or cancelled"}}, pageParams...)},
		{Path: "/workflows/runs/{id}", Response: workflowRunJSON{}, Tag: "workflows", Summary: "One run with its steps: status, attempts, input, output, error, timings"},
	}},
	"POST /workflows/runs/{id}/cancel": {Response: workflowRunJSON{}, Tag: "workflows", Summary: "Cancel a run; completed steps are compensated", Success: http.StatusAccepted},
	"POST /workflows/runs/{id}/retry":  {Response: workflowRunJSON{}, Tag: "workflows", Summary: "Run a failed run again from its failed step", Success: http.StatusAccepted},

	"GET /reports": {Response: report.Document{}, Tag: "reports", Summary: "Usage report: requests, errors, latency, availability and cost per integration and operation, per step and in total",
		Description: "Built from per-minute data every process writes (a minute shows once it is written, at most ~10 s after it ended). Operation * sums an integration's operations. Availability is the share of minutes with calls whose success rate met the declared slo; cost counts requests that reached the upstream.",
		Query: []param{
			{"from", "RFC 3339, now, or a duration before now such as -24h or -7d (default -24h); rounded down to the minute, or, when relative and the step is whole hours or divides an hour, to a whole step (1h: the hour; 1d: midnight UTC), a relative to then up to one"},
			{"to", "as from (default now); rounded up to the minute"},
			{"step", "whole minutes such as 15m, 1h or 1d (default 1h), at most 5000 steps"},
			{"integration", "one integration only"},
			{"operation", "one operation only"},
		}},

	"GET /tokens": {Response: dataOf[tokenView]{}, Tag: "tokens", Summary: "API tokens, never their secrets (admin)"},
	"POST /tokens": {Response: createdTokenView{}, Tag: "tokens", Summary: "Make an API token; the answer is the only time its secret is shown (admin)", Success: http.StatusCreated,
		Request: createTokenRequest{}, Body: "role (admin or user) and an optional name"},
	"DELETE /tokens/{id}": {Tag: "tokens", Summary: "Revoke a token (admin)", Success: http.StatusNoContent},
}
