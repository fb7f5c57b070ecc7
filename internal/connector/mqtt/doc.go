// Package mqtt is the mqtt connector (MQTT 3.1.1, as Mosquitto and most brokers speak
// it): flows subscribe to topic filters and acknowledge each message only when they are
// done with it, and publish to a topic, a write succeeding once the broker has
// acknowledged every message (PUBACK at QoS 1). MQTT has no negative acknowledgement, so
// Nack reconnects to have the broker send what was handed back again.
//
// Its options, and what users need to know of sessions, acknowledgement and
// back-pressure, are declared once in spec (options.go); docs/connectors.md is generated
// from it.
package mqtt
