// Package mqtt is the mqtt connector (MQTT 3.1.1, as Mosquitto and most brokers speak
// it): flows subscribe to topic filters and acknowledge each message only when they are
// done with it, and publish to a topic, a write succeeding once the broker has
// acknowledged every message (PUBACK at QoS 1).
//
// Options (connector block, or a flow's source or sink block on top of it):
//
//	url            tcp://host:1883 (also mqtt://, ssl://, tls://, mqtts://, ws://, wss://;
//	               required; env(NAME) allowed)
//	client_id      the source's client id (default junction-<random>); see sessions below
//	username       user name (env(NAME) allowed)
//	password       password (env(NAME) allowed)
//	qos            0 or 1 (default 1); QoS 2 is not supported
//	clean_session  start without the broker's stored session (default false)
//	keep_alive     interval of keep-alive pings (default 30s)
//
// Source:
//
//	topics         topic filters, with + (one level) and # (the rest) wildcards
//	topic          a single filter, when topics is not set
//
// Sink:
//
//	topic          the topic to publish to (required; no wildcards)
//	retain         publish retained messages (default false)
//
// Sessions. With clean_session false and QoS 1, the broker keeps the subscription and
// every message not yet acknowledged while the client is away, and sends them again
// when it reconnects; the source reconnects on its own when the connection drops. Set
// client_id to keep that session across restarts of Junction too; one client id
// belongs to one source at a time (the broker disconnects the older of two clients with
// the same id). A session keeps its subscriptions: messages of filters it subscribed to
// under an earlier configuration are acknowledged and dropped. A generated client id is used for one run only, so the source removes
// its session when it closes. Sinks connect with their own generated client id and a
// clean session.
//
// Acknowledgement. MQTT has no negative acknowledgement: a broker sends an
// unacknowledged message again only when the client reconnects. Nack therefore stops
// handing out messages, waits (up to 5s) for the deliveries still being processed to be
// settled, and reconnects, so the broker redelivers what was handed back. At QoS 0, or
// with clean_session true, nothing is redelivered and Nack returns ErrNoRedelivery.
// An Ack of a delivery whose connection has gone returns ErrConnectionGone: the broker
// delivers that message again.
//
// Back-pressure. At most the flow's in-flight limit of deliveries is handed out
// unsettled; the rest wait, unacknowledged, in the client. At QoS 1 the broker limits
// how many unacknowledged messages it sends (Mosquitto's max_inflight_messages, 20 by
// default), so memory stays bounded; at QoS 0 nothing limits a broker that sends faster
// than the flow works.
//
// With overlapping filters (sensors/+/temp and sensors/#) MQTT 3.1.1 allows a broker to
// send a message once per matching filter (Mosquitto 2.0 sends it once); the source hands
// out each copy it receives once.
//
// Deliveries carry the headers topic, qos, retained, message_id (the packet id) and
// duplicate (when set).
package mqtt
