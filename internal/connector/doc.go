// Package connector defines how flows meet outside systems: a Source hands out messages
// that must each be settled (acknowledged or returned), a Sink accepts messages durably,
// and a Kind builds both from configuration. Each Kind declares its options once as a
// spec (package option) that decodes them, lets `junction validate` check every declared
// connector, and generates docs/connectors.md. Each system lives in a sub-package (amqp,
// mqtt, nats, kafka, redisstream, postgres, schedule, …); the registry sub-package is the
// explicit list of them, and connectortest the conformance suite they all pass.
package connector
