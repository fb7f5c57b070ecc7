package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// MaxBuckets bounds the steps of one report (a month in hours is 720, a day in minutes
// 1440).
const MaxBuckets = 5000

// Query asks for a report. From is rounded down and To up to whole minutes; the range is
// cut into Step-long buckets from From on (the last one may be shorter).
type Query struct {
	From, To    time.Time
	Step        time.Duration // a whole number of minutes
	Integration string        // "" = every integration
	Operation   string        // "" = every operation
}

// Errors of Check, by the field they are about.
var (
	ErrStep  = errors.New("step must be a whole number of minutes, at least 1m")
	ErrRange = errors.New("to must be after from")
)

// Check normalizes q (whole minutes) and reports what is wrong with it: ErrRange,
// ErrStep, or a step too small for the range.
func (q Query) Check() (Query, error) {
	q.From = q.From.UTC().Truncate(time.Minute)
	if to := q.To.UTC().Truncate(time.Minute); to.Before(q.To) {
		q.To = to.Add(time.Minute)
	} else {
		q.To = to
	}
	switch {
	case !q.To.After(q.From):
		return q, ErrRange
	case q.Step < time.Minute || q.Step%time.Minute != 0:
		return q, ErrStep
	case q.To.Sub(q.From)/q.Step >= MaxBuckets:
		return q, fmt.Errorf("%w: %s in steps of %s is more than %d steps", ErrStep, q.To.Sub(q.From), q.Step, MaxBuckets)
	}
	return q, nil
}

// Report is the answer to a Query: one series per integration and operation with calls
// in the range, sorted by integration and operation.
type Report struct {
	From, To time.Time
	Step     time.Duration
	Series   []Series
}

// Series is one operation's numbers: per bucket (every bucket of the range, empty ones
// included) and for the whole range.
type Series struct {
	Integration, Operation string
	// Objective is the success rate (a fraction) availability is measured against: the
	// latest one recorded in the range; 0 when none is declared, and for the
	// AllOperations series, whose operations each have their own.
	Objective float64
	Total     Stats
	Buckets   []Bucket
}

// Bucket is one step of a series.
type Bucket struct {
	Start time.Time
	Stats
}

// Stats are the numbers of a set of minutes.
type Stats struct {
	Requests  int64   // calls that ended
	Errors    int64   // calls that failed
	ErrorRate float64 // Errors / Requests; 0 without requests
	Upstream  int64   // requests that reached the upstream (what cost counts)
	Average   time.Duration
	P50, P99  time.Duration // from the merged latency histograms (see Quantile)
	// Availability is the share of minutes with calls in which the success rate met the
	// objective; nil without an objective or without calls.
	Availability *float64
	Cost         float64
	// MinutesMet and MinutesMeasured are Availability's fraction.
	MinutesMet, MinutesMeasured int
}

// acc accumulates minutes into Stats.
type acc struct {
	requests, errors, upstream, latencySum int64
	cost                                   float64
	latency                                []int64
	met, measured                          int
}

// add counts r, a minute or an hour, with measured of its minutes held to an objective
// (they had calls and one was declared) and met of those that met it.
func (a *acc) add(r store.ReportRollup, measured, met int) {
	a.requests += r.Requests
	a.errors += r.Errors
	a.upstream += r.Upstream
	a.latencySum += r.LatencySum
	a.cost += r.Cost
	a.latency = addCounts(a.latency, r.Latency)
	a.measured += measured
	a.met += met
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// minuteMet says whether one operation's minute is measured against an objective (it
// had calls and one was declared) and whether its success rate met it:
// (requests-errors)/requests ≥ objective, with a tolerance so that 199 of 200 meets
// 99.5 %. The stores' hour sums (migration 00013) apply the same rule in SQL.
func minuteMet(r store.ReportRollup) (measured, met bool) {
	if r.Objective <= 0 || r.Requests == 0 {
		return false, false
	}
	return true, float64(r.Requests-r.Errors) >= r.Objective*float64(r.Requests)-1e-9
}

func (a *acc) stats() Stats {
	s := Stats{Requests: a.requests, Errors: a.errors, Upstream: a.upstream, Cost: a.cost,
		MinutesMet: a.met, MinutesMeasured: a.measured}
	if a.requests > 0 {
		s.ErrorRate = float64(a.errors) / float64(a.requests)
		s.Average = time.Duration(a.latencySum/a.requests) * time.Microsecond
		s.P50, s.P99 = Quantile(a.latency, 0.50), Quantile(a.latency, 0.99)
	}
	if a.measured > 0 {
		v := float64(a.met) / float64(a.measured)
		s.Availability = &v
	}
	return s
}

// Report reads the stored minutes of q's range and builds the report (q is checked
// first; see Query.Check). Minutes a process has not flushed yet are not in it. When q's
// steps start on whole hours and are whole hours long, it reads the store's hour sums
// for the whole hours of the range and minutes only for the rest (the last step's part
// hour): the same report from a sixtieth of the rows.
func (r *Recorder) Report(ctx context.Context, q Query) (Report, error) {
	q, err := q.Check()
	if err != nil {
		return Report{}, err
	}
	f := store.ReportRollupFilter{From: q.From, To: q.To, Integration: q.Integration, Operation: q.Operation}
	var hours []store.ReportHour
	if from, to := q.wholeHours(); from.Before(to) {
		hf := f
		hf.From, hf.To = from, to
		if hours, err = r.store.ReportHourList(ctx, hf); err != nil {
			return Report{}, fmt.Errorf("report: %w", err)
		}
		f.From = to
	}
	var rows []store.ReportRollup
	if f.From.Before(f.To) {
		if rows, err = r.store.ReportRollupList(ctx, f); err != nil {
			return Report{}, fmt.Errorf("report: %w", err)
		}
	}
	return build(q, rows, hours), nil
}

// wholeHours is the part of a checked q's range that Report reads as hours: every whole
// hour of it when each one lies inside one step (steps start on an hour and last whole
// hours), else none (from = to).
func (q Query) wholeHours() (from, to time.Time) {
	if !q.From.Equal(q.From.Truncate(time.Hour)) || q.Step%time.Hour != 0 {
		return q.From, q.From
	}
	if to := q.To.Truncate(time.Hour); to.After(q.From) {
		return q.From, to
	}
	return q.From, q.From
}

// AllOperations is the operation name of a series that sums every operation of an
// integration.
const AllOperations = "*"

// Build makes the report of a checked query from its minutes: a series per operation
// and, unless the query names an operation, one per integration (AllOperations) whose
// minute counts as available when every operation with calls held to an objective met
// its own.
func Build(q Query, rows []store.ReportRollup) Report { return build(q, rows, nil) }

// build is Build from minutes and hour sums of other times (Report reads both). An
// hour's sums count as its minutes would: its every-operation row (Operation "") carries
// the availability of the integration's minutes, which the operations' rows cannot give.
func build(q Query, rows []store.ReportRollup, hours []store.ReportHour) Report {
	n := int((q.To.Sub(q.From) + q.Step - 1) / q.Step)
	type series struct {
		total     acc
		buckets   []acc
		objective float64
		latest    time.Time
	}
	byKey := map[[2]string]*series{}
	var keys [][2]string
	add := func(k [2]string, row store.ReportRollup, measured, met int) {
		s := byKey[k]
		if s == nil {
			s = &series{buckets: make([]acc, n)}
			byKey[k] = s
			keys = append(keys, k)
		}
		i := int(row.Minute.Sub(q.From) / q.Step)
		if i < 0 || i >= n {
			return
		}
		s.total.add(row, measured, met)
		s.buckets[i].add(row, measured, met)
		if !row.Minute.Before(s.latest) {
			s.latest, s.objective = row.Minute, row.Objective
		}
	}
	type integrationMinute struct {
		integration string
		minute      int64
	}
	type combined struct {
		row            store.ReportRollup
		measured, miss bool
	}
	whole := map[integrationMinute]*combined{}
	var order []integrationMinute
	for _, h := range hours {
		row := store.ReportRollup{Minute: h.Hour, Integration: h.Integration, Operation: h.Operation,
			Requests: h.Requests, Errors: h.Errors, Upstream: h.Upstream, LatencySum: h.LatencySum, Cost: h.Cost,
			Objective: h.Objective, Latency: h.Latency}
		if row.Operation == "" {
			if q.Operation != "" {
				continue
			}
			row.Operation = AllOperations
		}
		add([2]string{row.Integration, row.Operation}, row, int(h.MinutesMeasured), int(h.MinutesMet))
	}
	for _, row := range rows {
		measured, met := minuteMet(row)
		add([2]string{row.Integration, row.Operation}, row, count(measured), count(measured && met))
		if q.Operation != "" {
			continue
		}
		k := integrationMinute{row.Integration, row.Minute.Unix()}
		c := whole[k]
		if c == nil {
			c = &combined{row: store.ReportRollup{Minute: row.Minute, Integration: row.Integration, Operation: AllOperations}}
			whole[k] = c
			order = append(order, k)
		}
		c.row.Requests += row.Requests
		c.row.Errors += row.Errors
		c.row.Upstream += row.Upstream
		c.row.LatencySum += row.LatencySum
		c.row.Cost += row.Cost
		c.row.Latency = addCounts(c.row.Latency, row.Latency)
		c.measured = c.measured || measured
		c.miss = c.miss || (measured && !met)
	}
	for _, k := range order {
		c := whole[k]
		add([2]string{k.integration, AllOperations}, c.row, count(c.measured), count(c.measured && !c.miss))
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	out := Report{From: q.From, To: q.To, Step: q.Step, Series: make([]Series, 0, len(keys))}
	for _, k := range keys {
		s := byKey[k]
		ser := Series{Integration: k[0], Operation: k[1], Objective: s.objective, Total: s.total.stats(), Buckets: make([]Bucket, n)}
		for i := range s.buckets {
			ser.Buckets[i] = Bucket{Start: q.From.Add(time.Duration(i) * q.Step), Stats: s.buckets[i].stats()}
		}
		out.Series = append(out.Series, ser)
	}
	return out
}
