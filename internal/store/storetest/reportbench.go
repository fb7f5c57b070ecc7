package storetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/store"
)

// The report benchmark (issue 13: "a report over 30 days of rollups for 50 integrations
// under 200 ms on both stores"). A month of minutes is millions of rows, too many to
// write through ReportRollupAdd in a benchmark's set-up, so each backend seeds them with
// one SQL statement per table (the comment below says what the rows hold) and
// BenchReportQuery measures what GET /reports does with them.

// Shape of the seeded month.
const (
	BenchReportIntegrations = 50 // "integration-00" … "integration-49", operation "call"
	BenchReportDays         = 30
	BenchReportMinutes      = BenchReportDays * 24 * 60
	// BenchReportBuckets is how many histogram buckets of a minute hold calls.
	BenchReportBuckets = 4
)

// BenchReportStart is the first seeded minute: a midnight, so reports whose range starts
// there have steps on whole hours.
var BenchReportStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// What a seed of BenchReportQuery writes, for minute i (0 ≤ i < BenchReportMinutes, the
// minute BenchReportStart + i minutes) and integration k (0 ≤ k < BenchReportIntegrations):
//
//	report_minutes: integration "integration-%02d" (k), operation "call",
//	  requests = 20 + (i+k)%10, errors = 1 when (i+k)%50 = 0 else 0,
//	  upstream = requests + errors, latency_sum = requests·40000 (40 ms a call),
//	  cost = upstream·0.002, objective = 0.99
//	report_latency: buckets 36 + requests%4 + j for j = 0…3, counts requests-6, 3, 2, 1
//
// so every minute's histogram holds its requests in BenchReportBuckets buckets.

// benchReportRequests is what the seed puts in one integration's month.
const benchReportRequests = BenchReportMinutes * 245 / 10

// BenchReportQuery measures a 30-day report in steps of 1 hour, as GET /reports makes
// it (Recorder.Report, then Report.Document): of every integration ("all"), of one
// ("one"), and of every integration with a range that starts 17 minutes past an hour
// ("all-unaligned", as GET /reports?from=2026-11-01T00:17:00Z asks: no step is a whole
// stored hour, so it reads every minute); of the last 24 hours asked at 17 past, which
// GET /reports's default asks from the hour before to the hour after ("day-default");
// then what adding a minute of every integration costs ("add-minute"). seed must write
// the rows above into the migrated store it is given.
func BenchReportQuery(b *testing.B, open func(testing.TB) store.Store, seed func(testing.TB, store.Store)) {
	ctx := context.Background()
	s := open(b)
	b.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(ctx); err != nil {
		b.Fatalf("MigrateUp: %v", err)
	}
	began := time.Now()
	seed(b, s)
	b.Logf("seeded %d minutes × %d integrations in %s", BenchReportMinutes, BenchReportIntegrations, time.Since(began).Round(time.Millisecond))
	rec, err := report.NewRecorder(report.Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	month := report.Query{From: BenchReportStart, To: BenchReportStart.Add(BenchReportDays * 24 * time.Hour), Step: time.Hour}
	one := month
	one.Integration = "integration-07"
	unaligned := month
	unaligned.From, unaligned.To = month.From.Add(17*time.Minute), month.To.Add(17*time.Minute)
	// GET /reports's default at 17 past the last stored hour: the last 24 hours, from
	// and to rounded to whole steps (internal/server's reportQuery).
	now := month.To.Add(-time.Hour + 17*time.Minute)
	day := month
	day.From, day.To = report.AlignTime(now.Add(-24*time.Hour), day.Step, false), report.AlignTime(now, day.Step, true)
	for _, c := range []struct {
		name         string
		q            report.Query
		series       int   // series in the report
		requests     int64 // of each integration
		lastRequests int64 // of the last step of each integration
	}{
		{"all", month, 2 * BenchReportIntegrations, benchReportRequests, 60 * 245 / 10},
		{"one", one, 2, benchReportRequests, 60 * 245 / 10},
		// The last step has 17 minutes with calls; the first loses 17 minutes.
		{"all-unaligned", unaligned, 2 * BenchReportIntegrations, -1, -1},
		{"day-default", day, 2 * BenchReportIntegrations, 25 * 60 * 245 / 10, 60 * 245 / 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			var doc report.Document
			for b.Loop() {
				rep, err := rec.Report(ctx, c.q)
				if err != nil {
					b.Fatalf("Report: %v", err)
				}
				doc = rep.Document()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			if err := checkBenchReport(doc, c.series, c.requests, c.lastRequests); err != nil {
				b.Fatal(err)
			}
		})
	}
	// What a flush costs once the month is there: a minute of every integration added
	// to the last stored minute (last, as it changes the month).
	b.Run("add-minute", func(b *testing.B) {
		last := BenchReportStart.Add((BenchReportMinutes - 1) * time.Minute)
		rs := make([]store.ReportRollup, BenchReportIntegrations)
		for k := range rs {
			rs[k] = store.ReportRollup{Minute: last, Integration: fmt.Sprintf("integration-%02d", k), Operation: "call",
				Requests: 20, Upstream: 20, LatencySum: 20 * 40000, Cost: 0.04, Objective: 0.99, Latency: make([]int64, 40)}
			rs[k].Latency[36], rs[k].Latency[37], rs[k].Latency[38], rs[k].Latency[39] = 14, 3, 2, 1
		}
		for b.Loop() {
			if err := s.ReportRollupAdd(ctx, rs); err != nil {
				b.Fatalf("ReportRollupAdd: %v", err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	})
}

// checkBenchReport checks that the report holds the seeded month, so that a seed or a
// store that returns nothing cannot make a fast benchmark.
func checkBenchReport(d report.Document, series int, requests, lastRequests int64) error {
	if len(d.Data) != series {
		return fmt.Errorf("report has %d series, want %d", len(d.Data), series)
	}
	for _, s := range d.Data {
		if len(s.Buckets) != int(d.To.Sub(d.From)/time.Hour) {
			return fmt.Errorf("%s.%s has %d steps, want %d", s.Integration, s.Operation, len(s.Buckets), d.To.Sub(d.From)/time.Hour)
		}
		if s.Total.MinutesMeasured == 0 || s.Total.LatencyP99Ms == 0 {
			return fmt.Errorf("%s.%s: no availability or latency in %+v", s.Integration, s.Operation, s.Total)
		}
		if requests >= 0 && s.Total.Requests != requests {
			return fmt.Errorf("%s.%s has %d requests, want %d", s.Integration, s.Operation, s.Total.Requests, requests)
		}
		if last := s.Buckets[len(s.Buckets)-1].Requests; lastRequests >= 0 && last != lastRequests {
			return fmt.Errorf("%s.%s has %d requests in its last step, want %d", s.Integration, s.Operation, last, lastRequests)
		}
	}
	return nil
}
