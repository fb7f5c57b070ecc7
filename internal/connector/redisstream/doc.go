// Package redisstream connects flows to Redis Streams. The source reads a stream as a
// member of a consumer group: an entry stays in the group's pending list until it is
// acknowledged (XACK), entries a crashed consumer left pending are taken over with
// XAUTOCLAIM, and a consumer that restarts under the same name first receives its own
// pending entries again. The sink appends each batch with XADD inside MULTI/EXEC.
//
// Its options, durability and settling are declared once in spec (redisstream.go);
// docs/connectors.md is generated from it.
package redisstream
