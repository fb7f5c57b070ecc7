// Package fakeapi is the outside world for tests and benchmarks: local, in-process fakes
// of the third-party APIs that Junction's reference configuration
// (fixtures/codeai/integrations.cai) talks to — GitHub REST v3 and GraphQL v4,
// OpenWeather, Stripe, a SendGrid-style notification service and an S3-compatible object
// store — and those the catalog's entries (package catalog) do besides: SendGrid's Mail
// Send, Slack's Web API, TensorFlow Serving, Hugging Face inference, an LND Lightning
// node over HTTPS with its own certificate, and an exchange's market-data WebSocket
// (ExchangeTicker), the feed seed 000 subscribes to.
//
// Each fake is an httptest.Server with a little state, started with NewX(t, XConfig{…})
// and closed by t.Cleanup. They are not mocks that accept anything: they check what a
// careful client must get right and answer the way the real service does, failures
// included, in the service's own error shape — GitHub's `{"message": "Bad credentials"}`
// and rate-limit headers, Stripe's `{"error": {"type": …}}` and idempotency replays,
// OpenWeather's `{"cod": "400"}`, S3's XML errors and its SigV4 verification. A test that
// passes against them has exercised the client against the real protocol, not against
// the test author's assumptions. Where a fake deliberately differs from the real service
// its doc comment says so.
//
// Every HTTP fake shares the Server knobs (the WebSocket fake has its own: dropping and
// freezing connections, pausing its messages): Requests records every request received (method,
// host, path, query, headers, body) with the status and headers answered; FailNext makes
// the next requests fail before the fake looks at them (a load balancer in trouble);
// SetDown makes every request fail until cleared; RateLimitNext answers 429 with
// Retry-After in the API's own shape. Fakes whose answers depend on time
// (rate-limit resets, signature clock skew, forecasts, idempotency-key expiry) take a
// clock.Clock, so a test driving a fake clock sees one consistent time.
//
// This is a normal package, not a _test file, so the tests of several packages and the
// benchmarks can share it; nothing in the product imports it.
package fakeapi
