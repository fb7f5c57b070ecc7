// Package report makes the usage reports (GET /reports, `junction report`): requests,
// errors, latency percentiles, availability against a declared objective, and cost, per
// integration and operation, over a time range in steps.
//
// A Recorder aggregates every finished integration call in memory per minute, with a
// fixed-bucket latency histogram so that minutes from several processes can be merged
// and their percentiles still computed, and flushes finished minutes to the store, whose
// upsert adds to a row another process may already have written. Reports are built from
// those stored minutes.
package report
