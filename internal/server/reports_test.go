package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/report"
)

// withReports serves GET /reports from the store of the env, and hands the test two
// recorders (two processes) on that store, at the server's fixed time.
func withReports(t *testing.T, nodes *[2]*report.Recorder) func(*testOptions) {
	return func(o *testOptions) {
		for i := range nodes {
			r, err := report.NewRecorder(report.Options{Store: o.Store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.NewFake(testNow)})
			if err != nil {
				t.Fatal(err)
			}
			nodes[i] = r
		}
		o.Reports = nodes[0]
	}
}

// TestReports: calls recorded by two processes in the same minutes, flushed at their
// stop, come back from GET /reports per step and in total, on both backends.
func TestReports(t *testing.T) {
	onBothStores(t, func(t *testing.T, onStore func(*testOptions)) {
		var nodes [2]*report.Recorder
		e := newEnv(t, onStore, withReports(t, &nodes))
		hourAgo := testNow.Add(-time.Hour).Truncate(time.Minute)
		call := func(node int, at time.Time, latency time.Duration, failed bool) {
			nodes[node].Record(report.Call{Integration: "Pay", Operation: "charge", At: at, Latency: latency, Failed: failed,
				Upstream: 1, Cost: 0.002, Objective: 0.9})
		}
		for i := range 10 { // minute 1: 10 calls, 2 failed (80 %: not met)
			call(i%2, hourAgo, 10*time.Millisecond, i < 2)
		}
		for range 10 { // minute 2, half an hour later: 10 successes (met)
			call(1, hourAgo.Add(30*time.Minute), 20*time.Millisecond, false)
		}
		nodes[0].Record(report.Call{Integration: "Mail", Operation: "send", At: testNow.Add(-3 * time.Hour), Latency: time.Millisecond})
		for _, n := range nodes {
			if err := n.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		}

		resp := e.req("GET", "/reports?from=-2h&step=30m", e.user, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET /reports: %d %s", resp.StatusCode, resp.body)
		}
		var doc report.Document
		if err := json.Unmarshal(resp.body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Step != "30m" || !doc.From.Equal(testNow.Add(-2*time.Hour).Truncate(30*time.Minute)) || len(doc.Data) != 2 ||
			doc.Data[0].Operation != report.AllOperations || doc.Data[0].Total.Requests != 20 {
			t.Fatalf("report = %s; want Pay.* and Pay.charge, from 2 h ago in 30m steps", resp.body)
		}
		s := doc.Data[1]
		tot := s.Total
		if s.Integration != "Pay" || s.Objective == nil || *s.Objective != 0.9 || tot.Requests != 20 || tot.Errors != 2 ||
			tot.ErrorRate != 0.1 || tot.UpstreamRequests != 20 || tot.Cost < 0.0399999 || tot.Cost > 0.0400001 {
			t.Errorf("total = %+v", s)
		}
		if tot.Availability == nil || *tot.Availability != 0.5 || tot.MinutesMeasured != 2 {
			t.Errorf("availability = %v of %d minutes; want 0.5 of 2", tot.Availability, tot.MinutesMeasured)
		}
		if tot.LatencyAvgMs != 15 || tot.LatencyP50Ms < 10 || tot.LatencyP50Ms > 11.9 || tot.LatencyP99Ms < 20 || tot.LatencyP99Ms > 23.8 {
			t.Errorf("latency avg %g, p50 %g, p99 %g; want 15, ~10, ~20", tot.LatencyAvgMs, tot.LatencyP50Ms, tot.LatencyP99Ms)
		}
		var per []int64
		for _, b := range s.Buckets {
			per = append(per, b.Requests)
		}
		if len(per) != 5 || per[2] != 10 || per[3] != 10 {
			t.Errorf("requests per step = %v; want the two minutes in steps 3 and 4 of 5", per)
		}

		// The default range is the last 24 hours in hours, which has Mail too; a filter
		// keeps one integration.
		resp = e.req("GET", "/reports", e.user, "")
		if err := json.Unmarshal(resp.body, &doc); err != nil || len(doc.Data) != 4 || doc.Step != "1h" || len(doc.Data[0].Buckets) != 25 {
			t.Errorf("default report: %v %s", err, resp.body)
		}
		resp = e.req("GET", "/reports?integration=Mail&operation=send&from="+url.QueryEscape(testNow.Add(-4*time.Hour).Format(time.RFC3339)), e.user, "")
		if err := json.Unmarshal(resp.body, &doc); err != nil || len(doc.Data) != 1 || doc.Data[0].Operation != "send" || doc.Data[0].Objective != nil {
			t.Errorf("Mail only: %v %s", err, resp.body)
		}
	})
}

// TestReportsAlignRelativeTimes: a from relative to now is rounded down, and a to
// relative to now up, to whole steps when the step is whole hours or divides an hour
// (so the default range reads hour sums); times in RFC 3339 stay as asked.
func TestReportsAlignRelativeTimes(t *testing.T) {
	var nodes [2]*report.Recorder
	e := newEnv(t, withReports(t, &nodes))
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// testNow is 2025-03-14T15:09:26Z, a Friday.
	for query, want := range map[string][2]time.Time{
		"":                                 {at("2025-03-13T15:00:00Z"), at("2025-03-14T16:00:00Z")},
		"from=-2h&step=30m":                {at("2025-03-14T13:00:00Z"), at("2025-03-14T15:30:00Z")},
		"from=-1h&to=now&step=5m":          {at("2025-03-14T14:05:00Z"), at("2025-03-14T15:10:00Z")},
		"from=-7d&step=1d":                 {at("2025-03-07T00:00:00Z"), at("2025-03-15T00:00:00Z")},
		"from=-30d&step=7d":                {at("2025-02-10T00:00:00Z"), at("2025-03-17T00:00:00Z")}, // Mondays
		"from=-2h&to=-1h&step=1h":          {at("2025-03-14T13:00:00Z"), at("2025-03-14T15:00:00Z")},
		"from=-2h&step=45m":                {at("2025-03-14T13:09:00Z"), at("2025-03-14T15:10:00Z")}, // 45m does not divide an hour
		"from=-2h&step=90m":                {at("2025-03-14T13:09:00Z"), at("2025-03-14T15:10:00Z")},
		"from=2025-03-14T13:17:00Z":        {at("2025-03-14T13:17:00Z"), at("2025-03-14T15:10:00Z")}, // to: to the minute
		"from=-3h&to=2025-03-14T14:30:00Z": {at("2025-03-14T12:00:00Z"), at("2025-03-14T14:30:00Z")},
	} {
		resp := e.req("GET", "/reports?"+strings.ReplaceAll(query, ":", "%3A"), e.user, "")
		var doc report.Document
		if err := json.Unmarshal(resp.body, &doc); err != nil || resp.StatusCode != 200 {
			t.Errorf("%q: %d %s", query, resp.StatusCode, resp.body)
			continue
		}
		if !doc.From.Equal(want[0]) || !doc.To.Equal(want[1]) {
			t.Errorf("%q: from %s to %s; want %s to %s", query, doc.From, doc.To, want[0], want[1])
		}
	}
}

func TestReportsRefuseBadQueries(t *testing.T) {
	var nodes [2]*report.Recorder
	e := newEnv(t, withReports(t, &nodes))
	for query, field := range map[string]string{
		"from=yesterday":          "from",
		"to=2026-13-01T00:00:00Z": "to",
		"from=-1h&to=-2h":         "to",
		"step=30s":                "step",
		"step=often":              "step",
		"from=-400d&step=1m":      "step",
		"interval=1h":             "interval",
		"step=1h&step=2h":         "step",
	} {
		refused(t, e.req("GET", "/reports?"+query, e.user, ""), "/reports", field)
	}
	if resp := e.req("GET", "/reports", "", ""); resp.StatusCode != 401 {
		t.Errorf("without a token: %d", resp.StatusCode)
	}
}
