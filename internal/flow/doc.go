// Package flow runs integration flows (seed 002): messages from a source connector go
// through the flow's steps (transform, validate, enrich, filter, route, split) into its
// sinks, and are acknowledged to the source only once every sink accepted them or the
// message is safely in the flow's dead-letter queue. That order, and nothing else, is
// what makes flows at-least-once.
//
// A flow processes up to max_in_flight messages at once; the source hands out no more
// than that, so a backlog stays in the broker, not in memory. Sinks batch the messages of
// concurrent workers into one write (one transaction, one confirm round) — the reason a
// flow into PostgreSQL is not limited by one commit per message. Failures of enrich
// calls and sinks are retried with the flow's on_error policy; failures that retrying
// cannot fix (invalid JSON, a schema violation, a bad mapping) go to the dead-letter
// queue at once. Stopping a flow stops taking messages and lets those in flight finish.
package flow
