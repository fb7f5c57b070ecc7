// Package redisstream connects flows to Redis Streams. The source reads a stream as a
// member of a consumer group: an entry stays in the group's pending list until it is
// acknowledged (XACK), entries a crashed consumer left pending are taken over with
// XAUTOCLAIM, and a consumer that restarts under the same name first receives its own
// pending entries again. The sink appends each batch with XADD inside MULTI/EXEC.
//
// Options (connector block and flow source/sink blocks, merged):
//
//	url          redis://[user:password@]host:port/db or rediss:// (required; env(NAME) allowed)
//	stream       the stream key (required)
//	group        source: the consumer group (required); created with MKSTREAM if missing
//	consumer     source: this consumer's name (default junction-<hostname>-<random>); set a
//	             stable name so a restarted instance takes its pending entries back at once
//	start        source: where a newly created group starts, 0 (the whole stream, default) or $ (new entries only)
//	block        source: how long one read waits for new entries (default 1s)
//	claim_after  source: pending entries idle longer than this are taken over from their
//	             consumer, presumed dead (default 1m); keep it above the longest processing time
//	field        the entry field holding the message body (default "body"); the source turns
//	             the other fields into headers, and an entry without the field into a JSON
//	             object of all its fields
//	maxlen       sink: trim the stream to about this many entries (XADD MAXLEN ~; default no trimming)
//
// Durability: Write returns after EXEC, so the entries are in Redis memory; they survive
// a Redis restart only as far as its persistence (AOF with appendfsync always, or RDB
// snapshots) is configured. A Redis without persistence keeps nothing on disk.
//
// Settling: Ack is XACK. Nack leaves the entry pending and hands it out again from
// memory; if the process stops first, the entry is still pending and is redelivered to a
// consumer with the same name when it starts, or to any consumer after claim_after.
package redisstream
