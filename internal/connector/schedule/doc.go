// Package schedule is a source that produces a message on a timetable, so flows can
// run periodically (poll an API every five minutes, send a report at 9:00). It waits on
// the injected clock, which makes its tests exact; it has no sink.
//
// Options (connector block and flow source block, merged):
//
//	cron      a cron expression: 5 fields ("*/5 * * * *"), 6 with seconds first
//	          ("30 */5 * * * *"), or a descriptor (@hourly, @daily, @every 90s)
//	every     a fixed interval instead of cron (every: 5m), counted from when the source
//	          opens; exactly one of cron and every is required
//	payload   the message body, written as any value of the configuration and sent as
//	          JSON (objects keep their key order); default {}
//	timezone  the IANA time zone cron expressions are read in (default UTC)
//
// Each tick is one message with the headers scheduled_at (RFC 3339, in the time zone)
// and schedule (the expression). Ack and Nack do nothing: a tick is not replayed, and
// neither is one missed while the process was down. When the clock jumps over several
// ticks, one message is sent for the latest; when inFlight ticks are still unsettled,
// the tick is skipped with a warning rather than queued.
package schedule
