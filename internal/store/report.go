package store

import (
	"context"
	"time"
)

// Report storage: per-minute rollups of integration calls, the material of the usage
// reports (GET /reports). Every process aggregates its own calls per minute and adds
// them to the stored row of that minute, so several processes writing the same minute
// merge into one row instead of overwriting each other.

// ReportRollup is what happened to one operation of one integration in one minute.
type ReportRollup struct {
	Minute      time.Time // the start of the minute, UTC
	Integration string
	Operation   string
	Requests    int64   // calls that ended (cache hits and fallbacks included)
	Errors      int64   // calls that failed
	Upstream    int64   // requests that reached the upstream (each retry is one)
	LatencySum  int64   // sum of call durations in microseconds
	Cost        float64 // what the upstream requests cost
	// Objective is the success rate (a fraction) the minute is held to; 0 when none is
	// declared. Rows added later replace it: the configuration in force wins.
	Objective float64
	// Latency counts calls per histogram bucket (package report's buckets); index i is
	// bucket i. Trailing zero buckets may be left out.
	Latency []int64
}

// ReportHour is the sum of one hour's rollups of one operation, or of every operation of
// an integration (Operation ""). The store keeps hours alongside the minutes, written in
// the transaction that adds the minutes, so that a report over a month reads 720 rows an
// operation instead of 43 200 minutes and their histogram buckets.
type ReportHour struct {
	Hour        time.Time // the start of the hour, UTC
	Integration string
	Operation   string // "" = every operation of the integration
	Requests    int64
	Errors      int64
	Upstream    int64
	LatencySum  int64
	Cost        float64
	// Objective is that of the hour's latest minute; 0 for Operation "".
	Objective float64
	// MinutesMeasured counts the minutes with calls held to an objective, MinutesMet
	// those whose success rate met it: (requests-errors)/requests ≥ objective, within
	// 1e-9. For Operation "" a minute is measured when one of its operations is, and met
	// when every measured one met its own.
	MinutesMeasured, MinutesMet int64
	Latency                     []int64 // the summed histogram, as in ReportRollup
}

// ReportRollupFilter selects rollups for ReportRollupList.
type ReportRollupFilter struct {
	From, To    time.Time // minutes in [From, To)
	Integration string    // "" = every integration
	Operation   string    // "" = every operation
}

// ReportStore is the report part of Store.
type ReportStore interface {
	// ReportRollupAdd adds each rollup to the stored row of its minute, integration and
	// operation, creating the row when there is none: counts, sums and histogram buckets
	// add up, the objective is replaced. The batch is applied in one transaction.
	ReportRollupAdd(ctx context.Context, rs []ReportRollup) error
	// ReportRollupList returns the rollups that match f, by minute, then integration,
	// then operation.
	ReportRollupList(ctx context.Context, f ReportRollupFilter) ([]ReportRollup, error)
	// ReportHourList returns the hours in [f.From, f.To) (both whole hours) that match f,
	// by hour, then integration, then operation. With f.Operation set, only that
	// operation's hours; without, the every-operation hours (Operation "") too.
	ReportHourList(ctx context.Context, f ReportRollupFilter) ([]ReportHour, error)
	// ReportRollupPurge deletes the rollups of minutes before before and returns how many
	// minute rows it deleted. The hours go with their minutes.
	ReportRollupPurge(ctx context.Context, before time.Time) (int, error)
}
