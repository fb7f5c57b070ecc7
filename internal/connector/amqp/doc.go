// Package amqp is the rabbitmq connector: flows read from a RabbitMQ queue with manual
// acknowledgements and write to an exchange with publisher confirms, so a message is
// acknowledged only after the flow is done with it and a write succeeds only after
// RabbitMQ has taken every message. The connector declares its exchanges, queue and
// bindings itself (idempotently) whenever it connects, and reconnects when the
// connection drops.
//
// Its options, and what users need to know of its behaviour, are declared once in spec
// (options.go); docs/connectors.md is generated from it.
package amqp
