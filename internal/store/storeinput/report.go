package storeinput

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// NormalizeReportRollups checks a batch for ReportRollupAdd and returns it with minutes
// in UTC: a minute must be the start of a minute, names non-empty, counts and sums not
// negative, errors not above requests, the objective a fraction.
func NormalizeReportRollups(rs []store.ReportRollup) ([]store.ReportRollup, error) {
	out := make([]store.ReportRollup, len(rs))
	for i, r := range rs {
		if err := store.CheckTime(r.Minute); err != nil {
			return nil, fmt.Errorf("rollup %d: minute: %w", i, err)
		}
		r.Minute = r.Minute.UTC()
		neg := r.Requests < 0 || r.Errors < 0 || r.Upstream < 0 || r.LatencySum < 0
		for _, n := range r.Latency {
			neg = neg || n < 0
		}
		switch {
		case !r.Minute.Equal(r.Minute.Truncate(time.Minute)):
			return nil, fmt.Errorf("rollup %d: minute %s is not the start of a minute", i, r.Minute.Format(time.RFC3339Nano))
		case r.Integration == "" || r.Operation == "":
			return nil, fmt.Errorf("rollup %d: empty integration or operation", i)
		case neg:
			return nil, fmt.Errorf("rollup %d: negative count", i)
		case r.Errors > r.Requests:
			return nil, fmt.Errorf("rollup %d: %d errors of %d requests", i, r.Errors, r.Requests)
		case r.Cost < 0 || math.IsNaN(r.Cost) || math.IsInf(r.Cost, 0):
			return nil, fmt.Errorf("rollup %d: cost %g", i, r.Cost)
		case !(r.Objective >= 0 && r.Objective <= 1):
			return nil, fmt.Errorf("rollup %d: objective %g outside 0-1", i, r.Objective)
		}
		out[i] = r
	}
	// One order for every writer: two processes adding overlapping batches lock the
	// rows in the same order and cannot deadlock.
	slices.SortFunc(out, func(a, b store.ReportRollup) int {
		return cmp.Or(a.Minute.Compare(b.Minute), strings.Compare(a.Integration, b.Integration), strings.Compare(a.Operation, b.Operation))
	})
	return out, nil
}

// CheckReportRange checks the range of ReportRollupList and ReportRollupPurge.
func CheckReportRange(from, to time.Time) error {
	if err := store.CheckTime(from); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := store.CheckTime(to); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if to.Before(from) {
		return errors.New("to is before from")
	}
	return nil
}

// ReportLatencyIndex finds the rollup a histogram row of a listing belongs to. Both
// backends read a listing as two queries (the minute rows, then their buckets) and join
// them with it.
type ReportLatencyIndex map[reportKey]*store.ReportRollup

type reportKey struct {
	minute                 int64
	integration, operation string
}

// NewReportLatencyIndex indexes rs, which must not move while the index is used.
func NewReportLatencyIndex(rs []store.ReportRollup) ReportLatencyIndex {
	idx := make(ReportLatencyIndex, len(rs))
	for i := range rs {
		r := &rs[i]
		idx[reportKey{r.Minute.UnixMicro(), r.Integration, r.Operation}] = r
	}
	return idx
}

// Add counts n calls in bucket of the rollup of (minute, integration, operation); a
// bucket row without its minute row (a purge in between the two queries) is dropped.
func (idx ReportLatencyIndex) Add(minute time.Time, integration, operation string, bucket int, n int64) {
	r, ok := idx[reportKey{minute.UnixMicro(), integration, operation}]
	if !ok || bucket < 0 || bucket > 1<<16 {
		return
	}
	for len(r.Latency) <= bucket {
		r.Latency = append(r.Latency, 0)
	}
	r.Latency[bucket] += n
}

// CheckReportHourRange checks the range of ReportHourList: CheckReportRange's rules, and
// both ends whole hours.
func CheckReportHourRange(from, to time.Time) error {
	if err := CheckReportRange(from, to); err != nil {
		return err
	}
	if !from.Equal(from.Truncate(time.Hour)) || !to.Equal(to.Truncate(time.Hour)) {
		return errors.New("from and to must be whole hours")
	}
	return nil
}

// ReportHours lists the hours a normalized batch of ReportRollupAdd touches, each with
// the integrations it touches, both in order: the hours a backend sums again after
// adding the minutes.
func ReportHours(rs []store.ReportRollup) []ReportHourKeys {
	var out []ReportHourKeys
	for _, r := range rs { // by minute, then integration
		h := r.Minute.Truncate(time.Hour)
		if len(out) == 0 || !out[len(out)-1].Hour.Equal(h) {
			out = append(out, ReportHourKeys{Hour: h})
		}
		k := &out[len(out)-1]
		if !slices.Contains(k.Integrations, r.Integration) {
			k.Integrations = append(k.Integrations, r.Integration)
		}
	}
	for i := range out {
		slices.Sort(out[i].Integrations)
	}
	return out
}

// ReportHourKeys is an hour and the integrations whose sums of it are to be redone.
type ReportHourKeys struct {
	Hour         time.Time
	Integrations []string
}

// ReportHourRows gathers the rows of a ReportHourList query into its answer. The rows
// come by hour, then integration, then operation; it parses their histograms, and when
// the filter names no operation it gives each hour of an integration with one operation
// the every-operation row (Operation "") the stores do not keep for it (migration 00014):
// a copy of that operation's with objective 0, since with one operation a minute of the
// integration is measured and met when the operation's is. The histograms it gives are
// to be read only: such a row shares its operation's.
type ReportHourRows struct {
	to       time.Time
	all      bool // every-operation rows are asked for
	out      []store.ReportHour
	group    int  // where in out the rows of the last hour and integration start
	made     bool // out[group] is an every-operation row made here
	reserved bool // room for the rest of the range was made
	buf      []int64
}

// reportHoursReserved bounds the rows ReportHourRows makes room for on a guess: a month
// of hours of 180 operations, 20 MB.
const reportHoursReserved = 1 << 17

// NewReportHourRows gathers the rows of a ReportHourList query with filter f.
func NewReportHourRows(f store.ReportRollupFilter) *ReportHourRows {
	return &ReportHourRows{to: f.To, all: f.Operation == ""}
}

// Add adds the next row read, with its histogram as stored (see ParseReportLatency).
func (r *ReportHourRows) Add(h store.ReportHour, latency string) error {
	if err := r.parseLatency(&h, latency); err != nil {
		return err
	}
	n := len(r.out)
	if n == 0 || r.out[n-1].Integration != h.Integration || !r.out[n-1].Hour.Equal(h.Hour) {
		if n > 0 && !r.reserved && !r.out[n-1].Hour.Equal(h.Hour) {
			// Hours are alike: room for as many rows in each hour left, at once, rather
			// than a slice of a month's rows grown twenty times over; but no more than
			// reportHoursReserved, as a range of years may hold a month of data.
			r.reserved = true
			r.out = slices.Grow(r.out, min(n*int(r.to.Sub(h.Hour)/time.Hour), reportHoursReserved))
		}
		r.group, r.made = n, false
		// An hour with an every-operation row has it first ("" sorts first): one
		// that starts with an operation's has one operation.
		if r.all && h.Operation != "" {
			every := h
			every.Operation, every.Objective = "", 0
			r.out, r.made = append(r.out, every), true
		}
	} else if r.made && h.Operation != "" {
		// A second operation: a store that lost the every-operation row. The sum of
		// the operations would lack the availability of the integration's minutes.
		r.out, r.made = slices.Delete(r.out, r.group, r.group+1), false
	}
	r.out = append(r.out, h)
	return nil
}

// parseLatency sets h's histogram from its stored text, in a buffer shared by many
// rows rather than an allocation each.
func (r *ReportHourRows) parseLatency(h *store.ReportHour, latency string) error {
	if latency == "" {
		return nil
	}
	if cap(r.buf)-len(r.buf) < 256 {
		r.buf = make([]int64, 0, 16<<10)
	}
	start := len(r.buf)
	buf, err := appendReportLatency(r.buf, latency)
	if err != nil {
		return err
	}
	r.buf, h.Latency = buf, buf[start:len(buf):len(buf)]
	return nil
}

// Hours is the answer, once every row is added.
func (r *ReportHourRows) Hours() []store.ReportHour { return r.out }

// ParseReportLatency reads an hour's histogram as the backends store it, a text that
// SQL can make from the minutes' bucket rows: "bucket:count" pairs separated by commas,
// in any order ("" when empty). A month's report parses tens of thousands, so it reads
// the digits itself rather than through strings.Cut and strconv.
func ParseReportLatency(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	return appendReportLatency(make([]int64, 0, 64), s) // room for a typical hour's buckets
}

// appendReportLatency parses s (as ParseReportLatency) into buf[len(buf):], which it
// extends, and returns the extended buf.
func appendReportLatency(buf []int64, s string) ([]int64, error) {
	base := len(buf)
	for i := 0; i < len(s); {
		bucket, j, ok := digits(s, i)
		if !ok || j == len(s) || s[j] != ':' || bucket > 1<<16 {
			return nil, fmt.Errorf("latency histogram %q: not bucket:count pairs", s)
		}
		count, k, ok := digits(s, j+1)
		if !ok || (k < len(s) && (s[k] != ',' || k+1 == len(s))) {
			return nil, fmt.Errorf("latency histogram %q: not bucket:count pairs", s)
		}
		if at := base + int(bucket); at >= len(buf) {
			buf = append(buf, make([]int64, at+1-len(buf))...)
		}
		buf[base+int(bucket)] += count
		i = k + 1
	}
	return buf, nil
}

// digits reads the decimal number at s[i:] (at most 18 digits, so it cannot overflow)
// and returns it and where it ends.
func digits(s string, i int) (n int64, end int, ok bool) {
	for end = i; end < len(s) && end-i < 18 && s[end] >= '0' && s[end] <= '9'; end++ {
		n = n*10 + int64(s[end]-'0')
	}
	return n, end, end > i && (end == len(s) || s[end] < '0' || s[end] > '9')
}
