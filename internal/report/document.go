package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Document is a report as the HTTP API writes it and `junction report` reads it:
// durations in milliseconds, rates and availability as fractions.
type Document struct {
	From time.Time        `json:"from"`
	To   time.Time        `json:"to"`
	Step string           `json:"step"`
	Data []SeriesDocument `json:"data"`
}

// SeriesDocument is one integration and operation.
type SeriesDocument struct {
	Integration string           `json:"integration"`
	Operation   string           `json:"operation"`
	Objective   *float64         `json:"objective"` // null when none is declared
	Total       StatsDocument    `json:"total"`
	Buckets     []BucketDocument `json:"buckets"`
}

// BucketDocument is one step.
type BucketDocument struct {
	Start time.Time `json:"start"`
	StatsDocument
}

// StatsDocument are the numbers of a step or of the whole range.
type StatsDocument struct {
	Requests         int64    `json:"requests"`
	Errors           int64    `json:"errors"`
	ErrorRate        float64  `json:"error_rate"`
	LatencyAvgMs     float64  `json:"latency_avg_ms"`
	LatencyP50Ms     float64  `json:"latency_p50_ms"`
	LatencyP99Ms     float64  `json:"latency_p99_ms"`
	Availability     *float64 `json:"availability"` // null without objective or calls
	MinutesMet       int      `json:"minutes_met"`
	MinutesMeasured  int      `json:"minutes_measured"`
	UpstreamRequests int64    `json:"upstream_requests"`
	Cost             float64  `json:"cost"`
}

// Document converts r for the API.
func (r Report) Document() Document {
	d := Document{From: r.From, To: r.To, Step: FormatDuration(r.Step), Data: make([]SeriesDocument, len(r.Series))}
	for i, s := range r.Series {
		sd := SeriesDocument{Integration: s.Integration, Operation: s.Operation, Total: s.Total.document(),
			Buckets: make([]BucketDocument, len(s.Buckets))}
		if s.Objective > 0 {
			o := s.Objective
			sd.Objective = &o
		}
		for j, b := range s.Buckets {
			sd.Buckets[j] = BucketDocument{Start: b.Start, StatsDocument: b.Stats.document()}
		}
		d.Data[i] = sd
	}
	return d
}

func (s Stats) document() StatsDocument {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
	return StatsDocument{
		Requests: s.Requests, Errors: s.Errors, ErrorRate: s.ErrorRate,
		LatencyAvgMs: ms(s.Average), LatencyP50Ms: ms(s.P50), LatencyP99Ms: ms(s.P99),
		Availability: s.Availability, MinutesMet: s.MinutesMet, MinutesMeasured: s.MinutesMeasured,
		UpstreamRequests: s.Upstream, Cost: math.Round(s.Cost*1e9) / 1e9, // no float noise in reports
	}
}

// ParseDuration reads a duration as Go does (90s, 1h30m) or in days and weeks (7d, 2w),
// for steps, relative times and the retention.
func ParseDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || math.IsNaN(v) || math.Abs(v) > float64(math.MaxInt64/u.unit) {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: expected such as 30m, 1h or 7d", s)
	}
	return d, nil
}

// FormatDuration writes a whole number of days, hours or minutes as 1d, 6h or 15m, and
// anything else as Go does.
func FormatDuration(d time.Duration) string {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if d > 0 && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}

// ParseTime reads a time for a report's range: RFC 3339, "now", or a duration before
// now such as -24h or -7d; relative says it was one of the latter two.
func ParseTime(s string, now time.Time) (t time.Time, relative bool, err error) {
	if s == "now" {
		return now, true, nil
	}
	if rel, ok := strings.CutPrefix(s, "-"); ok {
		d, err := ParseDuration(rel)
		if err != nil || d <= 0 {
			return time.Time{}, false, errors.New("expected an RFC 3339 time, now, or a duration before now such as -24h or -7d")
		}
		return now.Add(-d), true, nil
	}
	t, err = time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false, errors.New("expected an RFC 3339 time (2026-01-02T15:04:05Z), now, or a duration before now such as -24h or -7d")
	}
	return t, false, nil
}

// AlignTime rounds t down (or up) to a multiple of step, counted as time.Time.Truncate
// does from the start of year 1 (so 1h steps start on hours, 1d steps at midnight UTC,
// 7d steps on Mondays), when step is whole hours or divides an hour into whole
// minutes; other steps leave t as it is. GET /reports rounds the times it reads
// relative to now so: a report asked again a minute later has the same steps, and one
// in hours starts on an hour and is read from the store's hour sums.
func AlignTime(t time.Time, step time.Duration, up bool) time.Time {
	if step < time.Minute || step%time.Minute != 0 || (step%time.Hour != 0 && time.Hour%step != 0) {
		return t
	}
	down := t.Truncate(step)
	if up && down.Before(t) {
		return down.Add(step)
	}
	return down
}
