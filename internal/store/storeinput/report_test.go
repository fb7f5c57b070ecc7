package storeinput

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/junctionhq/junction/internal/store"
)

func TestParseReportLatency(t *testing.T) {
	for s, want := range map[string][]int64{"": nil, "3:5": {0, 0, 0, 5}, "1:2,0:7,1:1": {7, 3}, "12:1000000": append(make([]int64, 12), 1000000)} {
		if got, err := ParseReportLatency(s); err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseReportLatency(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"x", "1", "1:", ":1", "1:2,", "1:2,,3:4", "-1:2", "1:-2", "1:2x", "1:99999999999999999999", "70000:1"} {
		if got, err := ParseReportLatency(s); err == nil {
			t.Errorf("ParseReportLatency(%q) = %v, want an error", s, got)
		}
	}
}

// TestReportHourRows: an hour of an integration with one operation gets that
// operation's row as its every-operation row (objective 0) unless an operation is
// asked for; one with several keeps its stored row; a histogram is each row's own.
func TestReportHourRows(t *testing.T) {
	h0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	h1 := h0.Add(time.Hour)
	row := func(hour time.Time, integration, operation string, requests int64) store.ReportHour {
		return store.ReportHour{Hour: hour, Integration: integration, Operation: operation, Requests: requests, Errors: 1,
			Upstream: requests + 1, LatencySum: 40 * requests, Cost: 0.5, Objective: 0.99, MinutesMeasured: 3, MinutesMet: 2}
	}
	every := func(h store.ReportHour) store.ReportHour {
		h.Operation, h.Objective = "", 0
		return h
	}
	stored := []store.ReportHour{
		every(row(h0, "mail", "", 30)), row(h0, "mail", "bounce", 10), row(h0, "mail", "send", 20), // two operations
		row(h0, "pay", "charge", 5), // one
		row(h1, "mail", "send", 7),  // one, where the hour before had two
		row(h1, "pay", "charge", 6),
	}
	add := func(f store.ReportRollupFilter, rows []store.ReportHour) []store.ReportHour {
		t.Helper()
		r := NewReportHourRows(f)
		for i, h := range rows {
			if err := r.Add(h, fmt.Sprintf("%d:%d,2:1", i, h.Requests)); err != nil {
				t.Fatal(err)
			}
		}
		return r.Hours()
	}
	f := store.ReportRollupFilter{From: h0, To: h0.Add(30 * 24 * time.Hour)}
	got := add(f, stored)
	want := []store.ReportHour{stored[0], stored[1], stored[2], every(stored[3]), stored[3], every(stored[4]), stored[4], every(stored[5]), stored[5]}
	latency := func(i int, h store.ReportHour) []int64 {
		l, _ := ParseReportLatency(fmt.Sprintf("%d:%d,2:1", i, h.Requests))
		return l
	}
	for i, j := range []int{0, 1, 2, 3, 3, 4, 4, 5, 5} {
		want[i].Latency = latency(j, stored[j])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("every operation (-want +got):\n%s", diff)
	}
	for _, h := range got { // the rows share a buffer: appending to one must not write the next
		if cap(h.Latency) != len(h.Latency) {
			t.Errorf("%s.%s: histogram has room after it: %d of %d", h.Integration, h.Operation, len(h.Latency), cap(h.Latency))
		}
	}

	f.Operation = "send"
	if got := add(f, []store.ReportHour{stored[2], stored[4]}); len(got) != 2 || got[0].Operation != "send" || got[1].Operation != "send" {
		t.Errorf("with an operation asked for: %+v", got)
	}

	// Two operations without their every-operation row (a store that lost it): no
	// every-operation row rather than one of the first operation's.
	f.Operation = ""
	if got := add(f, []store.ReportHour{stored[1], stored[2], stored[3]}); len(got) != 4 || got[0].Operation != "bounce" || got[2].Operation != "" {
		t.Errorf("two operations without a stored sum: %+v", got)
	}
}
