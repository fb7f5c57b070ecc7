// Package nats is the nats connector, over JetStream: flows read from a stream through a
// durable pull consumer, acknowledging each message when they are done with it, and
// publish to a subject, a write succeeding once the stream has stored every message
// (each publish acknowledgement is checked). The connector creates its stream when it
// does not exist, and adds missing subjects to it.
//
// Its options are declared once in spec (options.go); docs/connectors.md is generated
// from it.
package nats
