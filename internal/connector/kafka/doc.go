// Package kafka connects flows to Apache Kafka (and Kafka-compatible brokers such as
// Redpanda) with franz-go. The source consumes topics as a consumer group and commits an
// offset only once the record, and every earlier record of its partition, is
// acknowledged; the sink produces each batch with acks=all and returns once every
// record is stored.
//
// Its options, and how settling maps to offsets, are declared once in spec (kafka.go);
// docs/connectors.md is generated from it.
package kafka
