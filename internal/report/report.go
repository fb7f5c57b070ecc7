package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	// shared says latency is a row's histogram, to be read only: a bucket that holds
	// one row (an hour of a month in hours) keeps the row's rather than a copy.
	shared        bool
	met, measured int
}

// add counts r, a minute or an hour, with measured of its minutes held to an objective
// (they had calls and one was declared) and met of those that met it.
func (a *acc) add(r *store.ReportRollup, measured, met int) {
	a.requests += r.Requests
	a.errors += r.Errors
	a.upstream += r.Upstream
	a.latencySum += r.LatencySum
	a.cost += r.Cost
	switch {
	case a.latency == nil:
		a.latency, a.shared = r.Latency, true
	case a.shared:
		own := make([]int64, max(len(a.latency), len(r.Latency)))
		copy(own, a.latency)
		a.latency, a.shared = addCounts(own, r.Latency), false
	default:
		a.latency = addCounts(a.latency, r.Latency)
	}
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

// stats are a's numbers; availability is where it puts Availability, if any.
func (a *acc) stats(availability *float64) Stats {
	s := Stats{Requests: a.requests, Errors: a.errors, Upstream: a.upstream, Cost: a.cost,
		MinutesMet: a.met, MinutesMeasured: a.measured}
	if a.requests > 0 {
		s.ErrorRate = float64(a.errors) / float64(a.requests)
		s.Average = time.Duration(a.latencySum/a.requests) * time.Microsecond
		total := sum(a.latency)
		s.P50, s.P99 = quantile(a.latency, total, 0.50), quantile(a.latency, total, 0.99)
	}
	if a.measured > 0 {
		*availability = float64(a.met) / float64(a.measured)
		s.Availability = availability
	}
	return s
}

// Report reads the stored minutes of q's range and builds the report (q is checked
// first; see Query.Check). Minutes a process has not flushed yet are not in it. When q's
// steps start on whole hours and are whole hours long, it reads the store's hour sums
// for the whole hours of the range and minutes only for the rest (the last step's part
// hour): the same report from a sixtieth of the rows. It reads in parts at once (see
// readParts).
func (r *Recorder) Report(ctx context.Context, q Query) (Report, error) {
	q, err := q.Check()
	if err != nil {
		return Report{}, err
	}
	f := store.ReportRollupFilter{From: q.From, To: q.To, Integration: q.Integration, Operation: q.Operation}
	var (
		hours [readParts][]store.ReportHour
		rows  [readParts][]store.ReportRollup
		reads []func(context.Context) error
	)
	minuteParts := readParts
	if from, to := q.wholeHours(); from.Before(to) {
		hf := f
		hf.From, hf.To = from, to
		for i, part := range split(hf, time.Hour, readParts) {
			reads = append(reads, func(ctx context.Context) (err error) {
				hours[i], err = r.store.ReportHourList(ctx, part)
				return err
			})
		}
		f.From = to
		minuteParts = 1 // the rest is less than an hour: one read beside the hours'
	}
	if f.From.Before(f.To) {
		for i, part := range split(f, time.Minute, minuteParts) {
			reads = append(reads, func(ctx context.Context) (err error) {
				rows[i], err = r.store.ReportRollupList(ctx, part)
				return err
			})
		}
	}
	if err := readAll(ctx, reads); err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	return build(q, rows[:], hours[:]), nil
}

// readParts is how many parts of a range Report reads at once: of its hours, or of its
// minutes when it has no whole hours to read. A month in hours is tens of thousands of
// rows whose reading (a driver's work per column and row) takes most of a report's
// time; two halves read on two connections take about half as long on two idle cores.
// A report holds at most readParts+1 of the store's connections (the hours' parts and
// a part hour of minutes).
const readParts = 2

// split cuts f's range, whole units long, into n parts of whole units, in order (into
// one part a unit when it has fewer units).
func split(f store.ReportRollupFilter, unit time.Duration, n int) []store.ReportRollupFilter {
	units := int(f.To.Sub(f.From) / unit)
	n = min(n, units)
	parts := make([]store.ReportRollupFilter, n)
	for i := range parts {
		parts[i] = f
		parts[i].From = f.From.Add(time.Duration(units*i/n) * unit)
		parts[i].To = f.From.Add(time.Duration(units*(i+1)/n) * unit)
	}
	return parts
}

// readAll runs reads at once and returns the first error; the others' context is then
// cancelled.
func readAll(ctx context.Context, reads []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, read := range reads {
		wg.Go(func() {
			if err := read(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
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
func Build(q Query, rows []store.ReportRollup) Report {
	if !slices.IsSortedFunc(rows, byMinuteIntegration) {
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, byMinuteIntegration)
	}
	return build(q, [][]store.ReportRollup{rows}, nil)
}

// byMinuteIntegration orders rollups as the stores list them (ReportRollupList), which
// build needs: the rows of an integration's minute next to each other.
func byMinuteIntegration(a, b store.ReportRollup) int {
	return cmp.Or(a.Minute.Compare(b.Minute), strings.Compare(a.Integration, b.Integration))
}

// build is Build from minutes and hour sums of other times (Report reads both), each
// in parts in order, the minutes by minute and integration. An hour's sums count as its
// minutes would: its every-operation row (Operation "") carries the availability of the
// integration's minutes, which the operations' rows cannot give.
func build(q Query, rowParts [][]store.ReportRollup, hourParts [][]store.ReportHour) Report {
	n := int((q.To.Sub(q.From) + q.Step - 1) / q.Step)
	type series struct {
		total     acc
		buckets   []acc
		objective float64
		latest    time.Time
	}
	byKey := map[[2]string]*series{}
	var keys [][2]string
	add := func(k [2]string, row *store.ReportRollup, measured, met int) {
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
	for _, hours := range hourParts {
		for i := range hours {
			h := &hours[i]
			row := store.ReportRollup{Minute: h.Hour, Integration: h.Integration, Operation: h.Operation,
				Requests: h.Requests, Errors: h.Errors, Upstream: h.Upstream, LatencySum: h.LatencySum, Cost: h.Cost,
				Objective: h.Objective, Latency: h.Latency}
			if row.Operation == "" {
				if q.Operation != "" {
					continue
				}
				row.Operation = AllOperations
			}
			add([2]string{row.Integration, row.Operation}, &row, int(h.MinutesMeasured), int(h.MinutesMet))
		}
	}
	// An integration's minute (the sum of its operations' rows, which come one after
	// the other) is measured when one of its operations is, and met when none missed.
	var (
		whole          acc
		first          *store.ReportRollup // whole's first row; nil before the first
		measured, miss bool
	)
	addWhole := func() {
		if first == nil {
			return
		}
		row := store.ReportRollup{Minute: first.Minute, Integration: first.Integration, Operation: AllOperations,
			Requests: whole.requests, Errors: whole.errors, Upstream: whole.upstream, LatencySum: whole.latencySum,
			Cost: whole.cost, Latency: whole.latency}
		add([2]string{row.Integration, AllOperations}, &row, count(measured), count(measured && !miss))
	}
	for _, rows := range rowParts {
		for i := range rows {
			row := &rows[i]
			m, met := minuteMet(*row)
			add([2]string{row.Integration, row.Operation}, row, count(m), count(m && met))
			if q.Operation != "" {
				continue
			}
			if first == nil || row.Integration != first.Integration || !row.Minute.Equal(first.Minute) {
				addWhole()
				whole, first, measured, miss = acc{}, row, false, false
			}
			whole.add(row, 0, 0)
			measured = measured || m
			miss = miss || (m && !met)
		}
	}
	addWhole()
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	out := Report{From: q.From, To: q.To, Step: q.Step, Series: make([]Series, 0, len(keys))}
	for _, k := range keys {
		s := byKey[k]
		// The availabilities of the steps and the total: one allocation, not one each.
		avail := make([]float64, n+1)
		ser := Series{Integration: k[0], Operation: k[1], Objective: s.objective, Total: s.total.stats(&avail[n]), Buckets: make([]Bucket, n)}
		for i := range s.buckets {
			ser.Buckets[i] = Bucket{Start: q.From.Add(time.Duration(i) * q.Step), Stats: s.buckets[i].stats(&avail[i])}
		}
		out.Series = append(out.Series, ser)
	}
	return out
}
