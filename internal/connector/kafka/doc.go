// Package kafka connects flows to Apache Kafka (and Kafka-compatible brokers such as
// Redpanda) with franz-go. The source consumes topics as a consumer group and commits an
// offset only once the record, and every earlier record of its partition, is
// acknowledged; the sink produces each batch with acks=all and returns once every
// record is stored.
//
// Options (connector block and flow source/sink blocks, merged):
//
//	brokers    list of host:port seed brokers (required)
//	topics     source: the topics to consume (a list) …
//	topic      … or one topic; sink: the topic to produce to (required)
//	group      source: the consumer group (required)
//	start      source: where a group without committed offsets starts, earliest (default) or latest
//	key        sink: JSONPath of the record key in the message body ("$.id"); no key if unset
//	sasl       { mechanism: plain | scram-sha-256 | scram-sha-512, username, password } (env(NAME) allowed)
//	tls        true to connect with TLS (system roots)
//
// Settling: Ack marks a record done; the longest acknowledged prefix of each partition
// is committed every few seconds, when partitions are revoked, and on Close. Nack keeps
// the record uncommitted and hands it out again from memory (ahead of new records), so
// the committed offset never passes it; if the process stops first, Kafka redelivers it
// and everything after it from the committed offset. Records after a nacked one are not
// delivered a second time while the source runs: in-flight processing already gives up
// strict per-partition order, so replaying them would only add duplicates.
package kafka
