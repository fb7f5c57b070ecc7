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
	// ReportRollupPurge deletes the rollups of minutes before before and returns how many
	// rows it deleted.
	ReportRollupPurge(ctx context.Context, before time.Time) (int, error)
}
