package storetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/store"
)

// runReport adds the store.ReportStore subtests; migrated opens a fresh, migrated store.
func runReport(t *testing.T, migrated func(t *testing.T) store.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, store.Store)
	}{
		{"ReportRollupAddMerges", testReportRollupAddMerges},
		{"ReportRollupAddConcurrent", testReportRollupAddConcurrent},
		{"ReportRollupListFilter", testReportRollupListFilter},
		{"ReportRollupPurge", testReportRollupPurge},
		{"ReportRollupInvalid", testReportRollupInvalid},
		{"ReportHoursMatchMinutes", testReportHoursMatchMinutes},
		{"ReportHoursAfterPurge", testReportHoursAfterPurge},
		{"ReportHourListInvalid", testReportHourListInvalid},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, migrated(t)) })
	}
}

var (
	reportMinute = t0.Truncate(time.Minute)
	reportHour   = t0.Truncate(time.Hour)
)

// testReportRollupAddMerges: two processes ("nodes") adding the same minute end with
// one row holding both: counts, sums and histogram buckets added, the later objective.
func testReportRollupAddMerges(t *testing.T, s store.Store) {
	ctx := context.Background()
	nodeA := store.ReportRollup{Minute: reportMinute, Integration: "pay", Operation: "charge",
		Requests: 10, Errors: 2, Upstream: 12, LatencySum: 5000, Cost: 0.024, Objective: 0.99, Latency: []int64{0, 3, 7}}
	nodeB := store.ReportRollup{Minute: reportMinute, Integration: "pay", Operation: "charge",
		Requests: 5, Errors: 1, Upstream: 5, LatencySum: 2500, Cost: 0.01, Objective: 0.995, Latency: []int64{1, 0, 2, 0, 2}}
	for _, r := range []store.ReportRollup{nodeA, nodeB} {
		if err := s.ReportRollupAdd(ctx, []store.ReportRollup{r}); err != nil {
			t.Fatalf("ReportRollupAdd: %v", err)
		}
	}
	got, err := s.ReportRollupList(ctx, store.ReportRollupFilter{From: reportMinute, To: reportMinute.Add(time.Minute)})
	if err != nil {
		t.Fatalf("ReportRollupList: %v", err)
	}
	want := []store.ReportRollup{{Minute: reportMinute, Integration: "pay", Operation: "charge",
		Requests: 15, Errors: 3, Upstream: 17, LatencySum: 7500, Cost: 0.034, Objective: 0.995, Latency: []int64{1, 3, 9, 0, 2}}}
	if diff := cmp.Diff(want, got, approxCost); diff != "" {
		t.Errorf("merged minute (-want +got):\n%s", diff)
	}
}

// approxCost compares costs, sums of floats, to within rounding.
var approxCost = cmp.Comparer(func(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 })

// testReportRollupAddConcurrent: processes flushing overlapping batches at the same time
// lose nothing, in the minutes and in their hours, and do not deadlock.
func testReportRollupAddConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, rounds = 4, 5
	batch := []store.ReportRollup{
		{Minute: reportMinute.Add(time.Minute), Integration: "b", Operation: "x", Requests: 1, Latency: []int64{1}},
		{Minute: reportMinute, Integration: "a", Operation: "x", Requests: 2, Errors: 1, Latency: []int64{0, 2}},
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Go(func() {
			for range rounds {
				b := batch
				if w%2 == 1 { // the other order: the store must order the rows itself
					b = []store.ReportRollup{batch[1], batch[0]}
				}
				// And a minute of the same hour no other writer adds: the hour's sums
				// must count every writer's minutes, not the last one's.
				b = append(slices.Clone(b), store.ReportRollup{Minute: reportHour.Add(time.Duration(w) * time.Minute),
					Integration: "a", Operation: "x", Requests: 1, Latency: []int64{1}})
				errs <- s.ReportRollupAdd(ctx, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("ReportRollupAdd: %v", err)
		}
	}
	got, err := s.ReportRollupList(ctx, store.ReportRollupFilter{From: reportMinute, To: reportMinute.Add(time.Hour)})
	if err != nil {
		t.Fatalf("ReportRollupList: %v", err)
	}
	checkHoursMatchMinutes(t, s, report.Query{From: reportHour, To: reportHour.Add(time.Hour), Step: time.Hour})
	const n = writers * rounds
	want := []store.ReportRollup{
		{Minute: reportMinute, Integration: "a", Operation: "x", Requests: 2 * n, Errors: n, Latency: []int64{0, 2 * n}},
		{Minute: reportMinute.Add(time.Minute), Integration: "b", Operation: "x", Requests: n, Latency: []int64{n}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after concurrent adds (-want +got):\n%s", diff)
	}
}

func testReportRollupListFilter(t *testing.T, s store.Store) {
	ctx := context.Background()
	var rs []store.ReportRollup
	for i := range 3 {
		for _, key := range [][2]string{{"pay", "charge"}, {"pay", "refund"}, {"mail", "send"}} {
			rs = append(rs, store.ReportRollup{Minute: reportMinute.Add(time.Duration(i) * time.Minute),
				Integration: key[0], Operation: key[1], Requests: int64(i + 1)})
		}
	}
	if err := s.ReportRollupAdd(ctx, rs); err != nil {
		t.Fatalf("ReportRollupAdd: %v", err)
	}
	type key struct {
		Minute                 int
		Integration, Operation string
	}
	list := func(f store.ReportRollupFilter) []key {
		t.Helper()
		got, err := s.ReportRollupList(ctx, f)
		if err != nil {
			t.Fatalf("ReportRollupList(%+v): %v", f, err)
		}
		var out []key
		for _, r := range got {
			out = append(out, key{int(r.Minute.Sub(reportMinute) / time.Minute), r.Integration, r.Operation})
		}
		return out
	}
	from, to := reportMinute.Add(time.Minute), reportMinute.Add(3*time.Minute)
	want := []key{{1, "mail", "send"}, {1, "pay", "charge"}, {1, "pay", "refund"}, {2, "mail", "send"}, {2, "pay", "charge"}, {2, "pay", "refund"}}
	if diff := cmp.Diff(want, list(store.ReportRollupFilter{From: from, To: to})); diff != "" {
		t.Errorf("range [1m, 3m) (-want +got):\n%s", diff)
	}
	want = []key{{0, "pay", "charge"}, {0, "pay", "refund"}, {1, "pay", "charge"}, {1, "pay", "refund"}}
	if diff := cmp.Diff(want, list(store.ReportRollupFilter{From: reportMinute, To: from.Add(time.Minute), Integration: "pay"})); diff != "" {
		t.Errorf("integration pay (-want +got):\n%s", diff)
	}
	want = []key{{2, "pay", "refund"}}
	if diff := cmp.Diff(want, list(store.ReportRollupFilter{From: to.Add(-time.Minute), To: to, Integration: "pay", Operation: "refund"})); diff != "" {
		t.Errorf("pay.refund (-want +got):\n%s", diff)
	}
	if got := list(store.ReportRollupFilter{From: reportMinute, To: to, Integration: "none"}); len(got) != 0 {
		t.Errorf("unknown integration listed %v", got)
	}
}

func testReportRollupPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	var rs []store.ReportRollup
	for i := range 4 {
		rs = append(rs, store.ReportRollup{Minute: reportMinute.Add(time.Duration(i) * time.Hour),
			Integration: "pay", Operation: "charge", Requests: 1, Latency: []int64{0, 1}})
	}
	if err := s.ReportRollupAdd(ctx, rs); err != nil {
		t.Fatalf("ReportRollupAdd: %v", err)
	}
	n, err := s.ReportRollupPurge(ctx, reportMinute.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("ReportRollupPurge = %d, %v; want 2 rows", n, err)
	}
	got, err := s.ReportRollupList(ctx, store.ReportRollupFilter{From: reportMinute, To: reportMinute.Add(24 * time.Hour)})
	if err != nil {
		t.Fatalf("ReportRollupList: %v", err)
	}
	if diff := cmp.Diff(rs[2:], got); diff != "" {
		t.Errorf("after purge (-want +got):\n%s", diff)
	}
	// A purged minute written again starts from zero: its buckets went with it.
	if err := s.ReportRollupAdd(ctx, rs[:1]); err != nil {
		t.Fatalf("ReportRollupAdd: %v", err)
	}
	got, err = s.ReportRollupList(ctx, store.ReportRollupFilter{From: reportMinute, To: reportMinute.Add(time.Minute)})
	if err != nil || len(got) != 1 || got[0].Requests != 1 || !cmp.Equal(got[0].Latency, []int64{0, 1}) {
		t.Errorf("re-added purged minute = %+v, %v", got, err)
	}
	if n, err := s.ReportRollupPurge(ctx, reportMinute); err != nil || n != 0 {
		t.Errorf("purge before everything = %d, %v; want 0", n, err)
	}
}

func testReportRollupInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	ok := store.ReportRollup{Minute: reportMinute, Integration: "pay", Operation: "charge", Requests: 1}
	for name, mutate := range map[string]func(*store.ReportRollup){
		"not a minute":      func(r *store.ReportRollup) { r.Minute = r.Minute.Add(time.Second) },
		"zero minute":       func(r *store.ReportRollup) { r.Minute = time.Time{} },
		"no integration":    func(r *store.ReportRollup) { r.Integration = "" },
		"negative":          func(r *store.ReportRollup) { r.Upstream = -1 },
		"negative bucket":   func(r *store.ReportRollup) { r.Latency = []int64{-1} },
		"errors > requests": func(r *store.ReportRollup) { r.Errors = 2 },
		"objective > 1":     func(r *store.ReportRollup) { r.Objective = 99.5 },
	} {
		r := ok
		mutate(&r)
		if err := s.ReportRollupAdd(ctx, []store.ReportRollup{ok, r}); err == nil {
			t.Errorf("%s: ReportRollupAdd accepted %+v", name, r)
		}
	}
	got, err := s.ReportRollupList(ctx, store.ReportRollupFilter{From: reportMinute, To: reportMinute.Add(time.Minute)})
	if err != nil || len(got) != 0 {
		t.Errorf("after refused batches: %+v, %v; want nothing stored", got, err)
	}
	if _, err := s.ReportRollupList(ctx, store.ReportRollupFilter{From: reportMinute, To: reportMinute.Add(-time.Minute)}); err == nil {
		t.Error("ReportRollupList with to before from succeeded")
	}
}

// reportHoursOfMinutes is three hours of minutes from reportHour of two integrations,
// one with two operations, the other with one but in the second hour (the stores keep
// no every-operation sum of an hour with one operation), with minutes missing, errors
// that miss the objective in some minutes, an objective that changes within an hour and
// an operation without one.
func reportHoursOfMinutes() []store.ReportRollup {
	rnd := rand.New(rand.NewPCG(1, 2))
	var rs []store.ReportRollup
	for i := range 3 * 60 {
		for _, key := range [][2]string{{"pay", "charge"}, {"pay", "refund"}, {"mail", "send"}, {"mail", "bounce"}} {
			if key[1] == "bounce" && i/60 != 1 {
				continue
			}
			if rnd.IntN(5) == 0 {
				continue // a minute without calls
			}
			r := store.ReportRollup{Minute: reportHour.Add(time.Duration(i) * time.Minute), Integration: key[0], Operation: key[1],
				Requests: 1 + rnd.Int64N(300), Objective: 0.995}
			r.Errors = rnd.Int64N(r.Requests/100 + 2)
			r.Upstream = r.Requests + r.Errors
			r.Cost = float64(r.Upstream) * 0.002
			for range r.Requests {
				b := 20 + rnd.IntN(12)
				for len(r.Latency) <= b {
					r.Latency = append(r.Latency, 0)
				}
				r.Latency[b]++
				r.LatencySum += int64(b) * 1000
			}
			switch {
			case key[1] == "refund", key[1] == "bounce" && i%60 < 30:
				r.Objective = 0
			case i%60 >= 40:
				r.Objective = 0.99
			}
			rs = append(rs, r)
		}
	}
	return rs
}

// addReportHours adds rs as processes would: in batches of a few minutes, some twice
// over (two processes' calls of the same minute), one batch after a later one.
func addReportHours(t *testing.T, s store.Store, rs []store.ReportRollup) {
	t.Helper()
	ctx := context.Background()
	var batches [][]store.ReportRollup
	for len(rs) > 0 {
		n := min(len(rs), 17)
		batches = append(batches, rs[:n])
		rs = rs[n:]
	}
	batches[3], batches[4] = batches[4], batches[3]
	for i, b := range batches {
		if i%4 == 0 { // half of the calls now, the other half with the next batch
			var half []store.ReportRollup
			for _, r := range b {
				r.Requests, r.Errors, r.Upstream, r.LatencySum, r.Cost = r.Requests/2, r.Errors/2, r.Upstream/2, 0, 0
				r.Latency = nil
				half = append(half, r)
			}
			for j := range b {
				b[j].Requests -= half[j].Requests
				b[j].Errors -= half[j].Errors
				b[j].Upstream -= half[j].Upstream
			}
			if err := s.ReportRollupAdd(ctx, half); err != nil {
				t.Fatalf("ReportRollupAdd: %v", err)
			}
		}
		if err := s.ReportRollupAdd(ctx, b); err != nil {
			t.Fatalf("ReportRollupAdd: %v", err)
		}
	}
}

// checkHoursMatchMinutes checks that the report Recorder.Report makes of q, from hour
// sums where it can, is the one report.Build makes from the minutes alone.
func checkHoursMatchMinutes(t *testing.T, s store.Store, q report.Query) {
	t.Helper()
	ctx := context.Background()
	rec, err := report.NewRecorder(report.Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rec.Report(ctx, q)
	if err != nil {
		t.Fatalf("Report(%+v): %v", q, err)
	}
	q, err = q.Check()
	if err != nil {
		t.Fatal(err)
	}
	minutes, err := s.ReportRollupList(ctx, store.ReportRollupFilter{From: q.From, To: q.To, Integration: q.Integration, Operation: q.Operation})
	if err != nil {
		t.Fatalf("ReportRollupList: %v", err)
	}
	if diff := cmp.Diff(report.Build(q, minutes), got, approxCost); diff != "" {
		t.Errorf("report of %+v from hours (-from minutes +from hours):\n%s", q, diff)
	}
}

// testReportHoursMatchMinutes: a report whose steps are whole hours, read from the
// hours the store sums, is the report of the minutes — every number, availability of
// the integrations' minutes included — whatever the order and the batches of the adds.
// Recorder.Report reads a range in parts at once: their bounds fall inside these ranges.
func testReportHoursMatchMinutes(t *testing.T, s store.Store) {
	addReportHours(t, s, reportHoursOfMinutes())
	end := reportHour.Add(3 * time.Hour)
	for _, q := range []report.Query{
		{From: reportHour, To: end, Step: time.Hour},
		{From: reportHour, To: end, Step: time.Hour, Integration: "mail"},
		{From: reportHour.Add(time.Hour), To: end, Step: time.Hour, Integration: "mail"},
		{From: reportHour.Add(17 * time.Minute), To: end, Step: time.Hour},      // minutes only
		{From: reportHour, To: end.Add(-17 * time.Minute), Step: 2 * time.Hour}, // the last step a part hour
		{From: reportHour.Add(-time.Hour), To: end.Add(time.Hour), Step: 24 * time.Hour},
		{From: reportHour, To: end, Step: time.Hour, Integration: "pay"},
		{From: reportHour, To: end, Step: time.Hour, Integration: "pay", Operation: "charge"},
		{From: reportHour, To: end, Step: time.Hour, Operation: "send"},
	} {
		t.Run(fmt.Sprintf("%s+%s/%s%s%s", q.From.Format("15:04"), q.To.Sub(q.From), q.Step, q.Integration, q.Operation), func(t *testing.T) {
			checkHoursMatchMinutes(t, s, q)
		})
	}
	hours, err := s.ReportHourList(context.Background(), store.ReportRollupFilter{From: reportHour, To: end})
	if err != nil {
		t.Fatalf("ReportHourList: %v", err)
	}
	// Each hour pay.charge, pay.refund, pay (every operation), mail.send, mail; and
	// mail.bounce in the second.
	if len(hours) != 3*5+1 {
		t.Errorf("ReportHourList listed %d hours, want 16: %+v", len(hours), hours)
	}
}

// testReportHoursAfterPurge: a purge takes the hours before it and sums again the hour
// it cuts, so that reports of what is left still match the minutes.
func testReportHoursAfterPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	addReportHours(t, s, reportHoursOfMinutes())
	if _, err := s.ReportRollupPurge(ctx, reportHour.Add(time.Hour+25*time.Minute)); err != nil {
		t.Fatalf("ReportRollupPurge: %v", err)
	}
	hours, err := s.ReportHourList(ctx, store.ReportRollupFilter{From: reportHour, To: reportHour.Add(time.Hour)})
	if err != nil || len(hours) != 0 {
		t.Errorf("hours of purged minutes: %+v, %v", hours, err)
	}
	checkHoursMatchMinutes(t, s, report.Query{From: reportHour, To: reportHour.Add(3 * time.Hour), Step: time.Hour})
}

func testReportHourListInvalid(t *testing.T, s store.Store) {
	for _, f := range []store.ReportRollupFilter{
		{From: reportHour, To: reportHour.Add(-time.Hour)},
		{From: reportMinute, To: reportHour.Add(time.Hour)},
		{From: reportHour, To: reportHour.Add(time.Minute)},
	} {
		if _, err := s.ReportHourList(context.Background(), f); err == nil {
			t.Errorf("ReportHourList(%v to %v) succeeded", f.From, f.To)
		}
	}
}

// MigrationAccess is what CheckReportHoursOneOperationMigration needs of a backend
// beyond store.Store: to migrate to a version (up or down) and to run SQL.
type MigrationAccess struct {
	MigrateTo func(t *testing.T, version int64)
	Exec      func(t *testing.T, query string)
	Count     func(t *testing.T, query string) int64 // a query of one integer
}

// CheckReportHoursOneOperationMigration: migration 00014 deletes the every-operation
// hours of integrations with one operation that hour, keeps those of several, and
// ReportHourList lists the same hours before and after it; its down migration writes
// the deleted rows back. s is a fresh store, not migrated.
func CheckReportHoursOneOperationMigration(t *testing.T, s store.Store, db MigrationAccess) {
	ctx := context.Background()
	db.MigrateTo(t, 13)
	// Hour sums as migration 00013 wrote them: mail with one operation, pay with two.
	db.Exec(t, `INSERT INTO report_hours (hour, integration, operation, requests, errors, upstream, latency_sum, cost, objective,
		minutes_measured, minutes_met, latency) VALUES
		('2026-03-01T10:00:00.000000Z', 'mail', '', 20, 1, 21, 800000, 0.042, 0, 17, 16, '36:14,37:6'),
		('2026-03-01T10:00:00.000000Z', 'mail', 'send', 20, 1, 21, 800000, 0.042, 0.99, 17, 16, '37:6,36:14'),
		('2026-03-01T10:00:00.000000Z', 'pay', '', 30, 2, 30, 900000, 0.5, 0, 20, 18, '3:30'),
		('2026-03-01T10:00:00.000000Z', 'pay', 'charge', 10, 2, 10, 300000, 0.25, 0.995, 20, 19, '3:10'),
		('2026-03-01T10:00:00.000000Z', 'pay', 'refund', 20, 0, 20, 600000, 0.25, 0, 0, 0, '3:20')`)
	const everyOperation = `SELECT count(*) FROM report_hours WHERE operation = ''`
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	list := func() []store.ReportHour {
		t.Helper()
		hours, err := s.ReportHourList(ctx, store.ReportRollupFilter{From: hour, To: hour.Add(time.Hour)})
		if err != nil {
			t.Fatalf("ReportHourList: %v", err)
		}
		return hours
	}
	before := list()
	if len(before) != 5 {
		t.Fatalf("before 00014: %d hours listed, want 5: %+v", len(before), before)
	}
	db.MigrateTo(t, 14)
	if n := db.Count(t, everyOperation); n != 1 {
		t.Errorf("after 00014: %d every-operation rows, want pay's only", n)
	}
	if diff := cmp.Diff(before, list()); diff != "" {
		t.Errorf("hours listed after 00014 (-before +after):\n%s", diff)
	}
	db.MigrateTo(t, 13)
	if n := db.Count(t, everyOperation); n != 2 {
		t.Errorf("after 00014 down: %d every-operation rows, want 2", n)
	}
	if diff := cmp.Diff(before, list()); diff != "" {
		t.Errorf("hours listed after 00014 down (-before +after):\n%s", diff)
	}
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
}
