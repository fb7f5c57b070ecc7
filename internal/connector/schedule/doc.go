// Package schedule is a source that produces a message on a timetable, so flows can
// run periodically (poll an API every five minutes, send a report at 9:00). It waits on
// the injected clock, which makes its tests exact; it has no sink.
//
// Its options are declared once in spec (schedule.go); docs/connectors.md is generated
// from it.
package schedule
