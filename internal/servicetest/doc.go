// Package servicetest gives tests access to real local services (PostgreSQL, Redis, and
// any TCP service such as RabbitMQ, MQTT or NATS). A test whose service is not running
// is skipped with a message naming the service and address, unless
// JUNCTION_REQUIRE_SERVICES=1 (as in CI), where it fails instead, so a missing service
// can never turn a CI run green by skipping.
package servicetest
