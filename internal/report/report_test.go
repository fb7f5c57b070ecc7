package report

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestBucketOf(t *testing.T) {
	if BucketOf(0) != 0 || BucketOf(bucketBase) != 0 || BucketOf(time.Hour) != Buckets-1 {
		t.Fatalf("edges: %d %d %d", BucketOf(0), BucketOf(bucketBase), BucketOf(time.Hour))
	}
	for i := range Buckets - 1 {
		ub := UpperBound(i)
		if got := BucketOf(ub); got != i {
			t.Errorf("BucketOf(UpperBound(%d) = %s) = %d", i, ub, got)
		}
		if got := BucketOf(ub + time.Microsecond); got != i+1 {
			t.Errorf("BucketOf(%s + 1µs) = %d, want %d", ub, got, i+1)
		}
		if r := float64(UpperBound(i+1)) / float64(ub); r < 1.18 || r > 1.20 {
			t.Errorf("bucket %d: bounds %g apart, want 2^(1/4)", i, r)
		}
	}
}

// TestQuantileOfMergedHistograms: two processes each see half of the calls; the
// percentiles of their merged histograms are those of all calls, within a bucket.
func TestQuantileOfMergedHistograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	var a, b []int64
	for i := range 10_000 {
		d := time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		all = append(all, d)
		h := make([]int64, Buckets)
		h[BucketOf(d)] = 1
		if i%2 == 0 {
			a = addCounts(a, h)
		} else {
			b = addCounts(b, h)
		}
	}
	merged := addCounts(addCounts(nil, a), b)
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		exact := all[int(q*float64(len(all)))-1]
		got := Quantile(merged, q)
		if got < exact || float64(got) > 1.19*float64(exact) {
			t.Errorf("p%g = %s, exact %s: want at most 19%% above", q*100, got, exact)
		}
	}
	if Quantile(nil, 0.5) != 0 || Quantile(make([]int64, 3), 0.99) != 0 {
		t.Error("quantile of nothing is not 0")
	}
	if got := Quantile([]int64{0, 0, 1}, 0.01); got != UpperBound(2) {
		t.Errorf("single call: %s, want %s", got, UpperBound(2))
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir()+"/r.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

var t10 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newRecorder(t *testing.T, st Store, clk clock.Clock) *Recorder {
	t.Helper()
	r, err := NewRecorder(Options{Store: st, Logger: quiet, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func list(t *testing.T, st Store, from, to time.Time) []store.ReportRollup {
	t.Helper()
	rows, err := st.ReportRollupList(context.Background(), store.ReportRollupFilter{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestRecorderFlushesFinishedMinutes: calls are counted per minute and operation; a
// timed flush writes finished minutes only, Stop writes the rest, and two processes
// writing the same minute add up.
func TestRecorderFlushesFinishedMinutes(t *testing.T) {
	st := openStore(t)
	clk := clock.NewFake(t10.Add(70 * time.Second))
	nodeA, nodeB := newRecorder(t, st, clk), newRecorder(t, st, clk)
	ms := time.Millisecond
	nodeA.Record(Call{Integration: "pay", Operation: "charge", At: t10.Add(5 * time.Second), Latency: 10 * ms, Upstream: 1, Cost: 0.002, Objective: 0.99})
	nodeA.Record(Call{Integration: "pay", Operation: "charge", At: t10.Add(59 * time.Second), Latency: 30 * ms, Failed: true, Upstream: 3, Cost: 0.006, Objective: 0.99})
	nodeA.Record(Call{Integration: "pay", Operation: "refund", At: t10.Add(10 * time.Second), Latency: 5 * ms, Upstream: 0})
	nodeA.Record(Call{Integration: "pay", Operation: "charge", At: t10.Add(65 * time.Second), Latency: 20 * ms, Upstream: 1, Cost: 0.002, Objective: 0.99})
	nodeB.Record(Call{Integration: "pay", Operation: "charge", At: t10.Add(30 * time.Second), Latency: 20 * ms, Upstream: 1, Cost: 0.002, Objective: 0.99})

	ctx := context.Background()
	if err := nodeA.Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	rows := list(t, st, t10, t10.Add(time.Hour))
	if len(rows) != 2 || rows[0].Operation != "charge" || rows[0].Requests != 2 || rows[1].Operation != "refund" {
		t.Fatalf("after a timed flush: %+v; want 10:00's two rows only", rows)
	}
	if err := nodeB.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nodeA.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	h := func(ds ...time.Duration) []int64 {
		var out []int64
		for _, d := range ds {
			c := make([]int64, BucketOf(d)+1)
			c[BucketOf(d)] = 1
			out = addCounts(out, c)
		}
		return out
	}
	want := []store.ReportRollup{
		{Minute: t10, Integration: "pay", Operation: "charge", Requests: 3, Errors: 1, Upstream: 5, LatencySum: 60_000, Cost: 0.010, Objective: 0.99, Latency: h(10*ms, 30*ms, 20*ms)},
		{Minute: t10, Integration: "pay", Operation: "refund", Requests: 1, LatencySum: 5000, Latency: h(5 * ms)},
		{Minute: t10.Add(time.Minute), Integration: "pay", Operation: "charge", Requests: 1, Upstream: 1, LatencySum: 20_000, Cost: 0.002, Objective: 0.99, Latency: h(20 * ms)},
	}
	approx := cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })
	if diff := cmp.Diff(want, list(t, st, t10, t10.Add(time.Hour)), approx); diff != "" {
		t.Errorf("stored minutes (-want +got):\n%s", diff)
	}
}

// failing fails its writes while down is set.
type failing struct {
	Store
	mu   sync.Mutex
	down bool
}

func (f *failing) ReportRollupAdd(ctx context.Context, rs []store.ReportRollup) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("database down")
	}
	return f.Store.ReportRollupAdd(ctx, rs)
}

func TestRecorderKeepsMinutesWhileTheStoreFails(t *testing.T) {
	st := &failing{Store: openStore(t), down: true}
	clk := clock.NewFake(t10.Add(2 * time.Minute))
	r := newRecorder(t, st, clk)
	r.Record(Call{Integration: "a", Operation: "x", At: t10, Latency: time.Millisecond})
	if err := r.Flush(context.Background(), false); err == nil {
		t.Fatal("flush to a failing store succeeded")
	}
	r.Record(Call{Integration: "a", Operation: "x", At: t10.Add(time.Second), Latency: time.Millisecond, Failed: true})
	st.down = false
	if err := r.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	rows := list(t, st, t10, t10.Add(time.Hour))
	if len(rows) != 1 || rows[0].Requests != 2 || rows[0].Errors != 1 {
		t.Errorf("after the store came back: %+v; want both calls", rows)
	}
}

// TestRecorderPurgesOldMinutes: a started recorder deletes minutes older than the
// retention at once, then each PurgeEvery, and writes finished minutes each FlushEvery.
func TestRecorderPurgesOldMinutes(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	old := []store.ReportRollup{
		{Minute: t10.Add(-3 * time.Hour), Integration: "a", Operation: "x", Requests: 1},
		{Minute: t10.Add(-30 * time.Minute), Integration: "a", Operation: "x", Requests: 1},
	}
	if err := st.ReportRollupAdd(ctx, old); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t10)
	r, err := NewRecorder(Options{Store: st, Logger: quiet, Clock: clk, Retention: time.Hour, FlushEvery: 10 * time.Second, PurgeEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	testkit.WaitFor(t, "the 3 h old minute purged", func() bool { return len(list(t, st, t10.Add(-4*time.Hour), t10)) == 1 })
	r.Record(Call{Integration: "a", Operation: "y", At: t10, Latency: time.Millisecond})
	// A minute later the timer has flushed 10:00.
	testkit.WaitFor(t, "10:00 flushed by the timer", func() bool {
		clk.Advance(10 * time.Second)
		return len(list(t, st, t10, t10.Add(time.Minute))) == 1
	})
}

func TestQueryCheck(t *testing.T) {
	q, err := Query{From: t10.Add(30 * time.Second), To: t10.Add(2*time.Hour + time.Second), Step: time.Hour}.Check()
	if err != nil || !q.From.Equal(t10) || !q.To.Equal(t10.Add(2*time.Hour+time.Minute)) {
		t.Errorf("Check = %+v, %v; want whole minutes, from down and to up", q, err)
	}
	for name, c := range map[string]struct {
		q    Query
		want error
	}{
		"to before from": {Query{From: t10, To: t10.Add(-time.Hour), Step: time.Minute}, ErrRange},
		"empty range":    {Query{From: t10, To: t10, Step: time.Minute}, ErrRange},
		"step 30s":       {Query{From: t10, To: t10.Add(time.Hour), Step: 30 * time.Second}, ErrStep},
		"step 90s":       {Query{From: t10, To: t10.Add(time.Hour), Step: 90 * time.Second}, ErrStep},
		"too many steps": {Query{From: t10, To: t10.Add(365 * 24 * time.Hour), Step: time.Minute}, ErrStep},
	} {
		if _, err := c.q.Check(); !errors.Is(err, c.want) {
			t.Errorf("%s: Check = %v, want %v", name, err, c.want)
		}
	}
}

// TestBuild: buckets, totals, error rate, average, percentiles, availability against
// the objective, and cost.
func TestBuild(t *testing.T) {
	hist := func(d time.Duration, n int64) []int64 {
		c := make([]int64, BucketOf(d)+1)
		c[BucketOf(d)] = n
		return c
	}
	rows := []store.ReportRollup{
		// 200 calls, 1 error: 99.5 % meets 99.5 %.
		{Minute: t10, Integration: "pay", Operation: "charge", Requests: 200, Errors: 1, Upstream: 201, LatencySum: 200 * 10_000, Cost: 0.402, Objective: 0.995, Latency: hist(10*time.Millisecond, 200)},
		// 10 calls, 5 errors: not met.
		{Minute: t10.Add(time.Minute), Integration: "pay", Operation: "charge", Requests: 10, Errors: 5, Upstream: 20, LatencySum: 10 * 100_000, Cost: 0.04, Objective: 0.995, Latency: hist(100*time.Millisecond, 10)},
		{Minute: t10.Add(3 * time.Minute), Integration: "mail", Operation: "send", Requests: 4, LatencySum: 4000, Latency: hist(time.Millisecond, 4)},
		// Another operation of pay, with its own objective: met in the first minute, not
		// met in the fourth.
		{Minute: t10, Integration: "pay", Operation: "refund", Requests: 10, Errors: 1, Objective: 0.9, Latency: hist(time.Millisecond, 10)},
		{Minute: t10.Add(3 * time.Minute), Integration: "pay", Operation: "refund", Requests: 10, Errors: 5, Objective: 0.9, Latency: hist(time.Millisecond, 10)},
	}
	q, err := Query{From: t10, To: t10.Add(5 * time.Minute), Step: 2 * time.Minute}.Check()
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(q, rows)
	var names []string
	for _, s := range rep.Series {
		names = append(names, s.Integration+"."+s.Operation)
	}
	if diff := cmp.Diff([]string{"mail.*", "mail.send", "pay.*", "pay.charge", "pay.refund"}, names); diff != "" {
		t.Fatalf("series (-want +got):\n%s", diff)
	}
	pay := rep.Series[3]
	if len(pay.Buckets) != 3 || !pay.Buckets[2].Start.Equal(t10.Add(4*time.Minute)) {
		t.Fatalf("buckets = %+v; want 3, starting every 2m", pay.Buckets)
	}
	tot := pay.Total
	if tot.Requests != 210 || tot.Errors != 6 || tot.Upstream != 221 || tot.ErrorRate != 6.0/210 {
		t.Errorf("total counts = %+v", tot)
	}
	if tot.Cost < 0.441999 || tot.Cost > 0.442001 {
		t.Errorf("cost = %g, want 0.442", tot.Cost)
	}
	if want := time.Duration((200*10_000+10*100_000)/210) * time.Microsecond; tot.Average != want {
		t.Errorf("average = %s, want %s", tot.Average, want)
	}
	if tot.P50 != UpperBound(BucketOf(10*time.Millisecond)) || tot.P99 != UpperBound(BucketOf(100*time.Millisecond)) {
		t.Errorf("p50, p99 = %s, %s", tot.P50, tot.P99)
	}
	if tot.Availability == nil || *tot.Availability != 0.5 || tot.MinutesMet != 1 || tot.MinutesMeasured != 2 {
		t.Errorf("availability = %v (%d of %d); want 0.5", tot.Availability, tot.MinutesMet, tot.MinutesMeasured)
	}
	if pay.Objective != 0.995 {
		t.Errorf("objective = %g", pay.Objective)
	}
	if b := pay.Buckets[0]; b.Requests != 210 || b.Availability == nil || *b.Availability != 0.5 {
		t.Errorf("first bucket = %+v", b)
	}
	if b := pay.Buckets[1]; b.Requests != 0 || b.Availability != nil || b.P99 != 0 {
		t.Errorf("empty bucket = %+v", b)
	}
	if mail := rep.Series[1].Total; mail.Availability != nil || mail.Requests != 4 || mail.ErrorRate != 0 {
		t.Errorf("without an objective: %+v; want no availability", mail)
	}
	// The whole integration: every call, and a minute is available when each operation
	// held to an objective met its own — 10:00 only, of the three minutes measured.
	all := rep.Series[2]
	if tot := all.Total; tot.Requests != 230 || tot.Errors != 12 || tot.MinutesMet != 1 || tot.MinutesMeasured != 3 || all.Objective != 0 ||
		tot.P99 != UpperBound(BucketOf(100*time.Millisecond)) {
		t.Errorf("pay.* = %+v", all)
	}
	// Asked for one operation, no sum of the integration's.
	q.Operation = "charge"
	if rep := Build(q, rows[:2]); len(rep.Series) != 1 {
		t.Errorf("with an operation: %d series", len(rep.Series))
	}
}

// BenchmarkRecord is the cost of recording one call, from many goroutines at once.
func BenchmarkRecord(b *testing.B) {
	r, err := NewRecorder(Options{Store: &failing{}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record(Call{Integration: "pay", Operation: "charge", At: at, Latency: 12 * time.Millisecond, Upstream: 1, Cost: 0.002, Objective: 0.995})
		}
	})
}

// recording records the ranges a report reads, and fails the reads of failFrom.
type recording struct {
	Store
	mu       sync.Mutex
	hours    [][2]time.Time
	minutes  [][2]time.Time
	failFrom time.Time
}

func (s *recording) ReportHourList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportHour, error) {
	s.mu.Lock()
	s.hours = append(s.hours, [2]time.Time{f.From, f.To})
	s.mu.Unlock()
	if f.From.Equal(s.failFrom) {
		return nil, errors.New("database down")
	}
	return s.Store.ReportHourList(ctx, f)
}

func (s *recording) ReportRollupList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportRollup, error) {
	s.mu.Lock()
	s.minutes = append(s.minutes, [2]time.Time{f.From, f.To})
	s.mu.Unlock()
	return s.Store.ReportRollupList(ctx, f)
}

// TestReportReadsInParts: Report reads the hours of its range in two parts of whole
// hours at once, and the minutes of the rest beside them (in two parts when there are no
// hours), and fails when a part does.
func TestReportReadsInParts(t *testing.T) {
	st := &recording{Store: openStore(t)}
	r := newRecorder(t, st, clock.NewFake(t10))
	sorted := func(rs [][2]time.Time) [][2]time.Time {
		slices.SortFunc(rs, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
		return rs
	}
	if _, err := r.Report(context.Background(), Query{From: t10, To: t10.Add(5*time.Hour + 3*time.Minute), Step: time.Hour}); err != nil {
		t.Fatal(err)
	}
	h := func(n int) time.Time { return t10.Add(time.Duration(n) * time.Hour) }
	m := func(n int) time.Time { return h(5).Add(time.Duration(n) * time.Minute) }
	if diff := cmp.Diff([][2]time.Time{{h(0), h(2)}, {h(2), h(5)}}, sorted(st.hours)); diff != "" {
		t.Errorf("hours read (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][2]time.Time{{m(0), m(3)}}, sorted(st.minutes)); diff != "" {
		t.Errorf("minutes read beside the hours (-want +got):\n%s", diff)
	}
	st.hours, st.minutes = nil, nil
	if _, err := r.Report(context.Background(), Query{From: h(0).Add(17 * time.Minute), To: h(3), Step: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][2]time.Time{{h(0).Add(17 * time.Minute), h(1).Add(38 * time.Minute)}, {h(1).Add(38 * time.Minute), h(3)}}, sorted(st.minutes)); diff != "" || st.hours != nil {
		t.Errorf("minutes read without hours (-want +got):\n%s", diff)
	}
	st.hours, st.minutes = nil, nil
	if _, err := r.Report(context.Background(), Query{From: t10, To: t10.Add(time.Hour), Step: time.Hour}); err != nil || len(st.hours) != 1 || st.minutes != nil {
		t.Errorf("an hour: read hours %v and minutes %v, %v; want the hour once", st.hours, st.minutes, err)
	}
	st.failFrom = h(2)
	if _, err := r.Report(context.Background(), Query{From: t10, To: h(5), Step: time.Hour}); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Errorf("with a part failing: %v", err)
	}
}
