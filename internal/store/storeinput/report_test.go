package storeinput

import (
	"slices"
	"testing"
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
