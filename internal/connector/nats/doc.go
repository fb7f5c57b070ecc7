// Package nats is the nats connector, over JetStream: flows read from a stream through a
// durable pull consumer, acknowledging each message when they are done with it, and
// publish to a subject, a write succeeding once the stream has stored every message
// (each publish acknowledgement is checked). The connector creates its stream when it
// does not exist, and adds missing subjects to it.
//
// Options (connector block, or a flow's source or sink block on top of it):
//
//	url             nats://host:4222, or several separated by commas (required;
//	                env(NAME) allowed, for credentials in the URL)
//	stream          the stream's name (required for a source)
//	subjects        subjects the stream stores: when set, the stream is created (file
//	                storage) if it does not exist, or these are added to its subjects
//
// Source:
//
//	durable         the durable consumer's name (required); it keeps the source's
//	                position in the stream across restarts, and flows sharing it share
//	                the messages
//	filter_subject  only messages on this subject (wildcards allowed)
//	ack_wait        a delivery not settled within it is delivered again (default 30s)
//	deliver         all (from the start of the stream) or new (from now), when the
//	                consumer is created (default all); JetStream cannot change it later,
//	                so a different value for an existing durable fails Open
//	max_deliver     deliveries of one message before JetStream gives up on it (default
//	                0: no limit)
//
// The consumer's max_ack_pending is the flow's in-flight limit. Ack acknowledges, Nack
// asks for immediate redelivery (NAK). Deliveries taken from the stream but not yet
// settled when the source closes are delivered again after ack_wait.
//
// Sink:
//
//	subject         the subject to publish to (required)
//	dedupe          send the message's id (its "id", else its "message_id" header) as
//	                Nats-Msg-Id, so JetStream stores a message retried within the stream's
//	                duplicate window once (default true)
//
// Deliveries carry the headers subject, stream, stream_seq and num_delivered, the
// message's NATS headers (first value of each), and message_id from Nats-Msg-Id. The sink
// sends a message's headers as NATS headers, except those and the Nats-* ones.
package nats
