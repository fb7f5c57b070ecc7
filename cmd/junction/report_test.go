package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/junctionhq/junction/internal/report"
)

// TestReportAcrossRestart: calls through a running server, some failing, some retried,
// are written when it stops and reported after a restart by `junction report`, with
// their counts, error rate and cost, as JSON and as CSV.
func TestReportAcrossRestart(t *testing.T) {
	var flaky atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case r.URL.Path == "/flaky" && flaky.Add(1) == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration Shop {
    base_url: "`+up.URL+`"
    retry: 2 times
    slo: { success_rate: 99% }
    cost: 0.002 per call
    operation ok { method: GET path: "/ok" }
    operation fail { method: GET path: "/fail" }
    operation flaky { method: GET path: "/flaky" cost: 0.01 per call }
}`)
	s := startServer(t, dir, nil, "-c", cfg)
	m := tokenRE.FindStringSubmatch(s.log())
	if m == nil {
		t.Fatalf("no admin token printed:\n%s", s.log())
	}
	token := m[1]
	call := func(op string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.base+"/integrations/Shop/operations/"+op, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 6 {
		if code := call("ok"); code != 200 {
			t.Fatalf("call ok: %d", code)
		}
	}
	for range 2 {
		if code := call("fail"); code < 500 {
			t.Fatalf("call fail: %d", code)
		}
	}
	if code := call("flaky"); code != 200 {
		t.Fatalf("call flaky: %d", code)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("stop: exit %d\n%s", code, s.log())
	}

	s = startServer(t, dir, nil, "-c", cfg)
	defer s.stop(t, syscall.SIGTERM)
	out, stderr, code := run(t, dir, nil, "report", "--server", s.base, "--token", token, "--from", "-1h", "--format", "json")
	if code != 0 {
		t.Fatalf("report --format json: exit %d\n%s", code, stderr)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, out)
	}
	type want struct {
		requests, errors, upstream int64
		errorRate, cost            float64
	}
	wants := map[string]want{
		"*":     {9, 2, 10, 2.0 / 9, 0.036},
		"ok":    {6, 0, 6, 0, 0.012},
		"fail":  {2, 2, 2, 1, 0.004},
		"flaky": {1, 0, 2, 0, 0.02},
	}
	if len(doc.Data) != len(wants) || doc.Data[0].Operation != "*" {
		t.Fatalf("series: %s", out)
	}
	for _, ser := range doc.Data {
		w, tot := wants[ser.Operation], ser.Total
		if ser.Operation == "*" {
			if tot.Requests != w.requests || tot.Errors != w.errors || tot.UpstreamRequests != w.upstream || tot.Cost != w.cost {
				t.Errorf("Shop.*: total %+v, want %+v", tot, w)
			}
			continue
		}
		if ser.Integration != "Shop" || tot.Requests != w.requests || tot.Errors != w.errors || tot.UpstreamRequests != w.upstream ||
			tot.ErrorRate != w.errorRate || tot.Cost < w.cost-1e-9 || tot.Cost > w.cost+1e-9 {
			t.Errorf("%s: total %+v, want %+v", ser.Operation, tot, w)
		}
		if ser.Objective == nil || *ser.Objective != 0.99 || tot.Availability == nil {
			t.Errorf("%s: objective %v, availability %v", ser.Operation, ser.Objective, tot.Availability)
		}
	}

	out, stderr, code = run(t, dir, nil, "report", "--server", s.base, "--token", token, "--from", "-1h", "--step", "15m", "--format", "csv")
	if code != 0 {
		t.Fatalf("report --format csv: exit %d\n%s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("report CSV: %v\n%s", err, out)
	}
	head := strings.Join(rows[0], ",")
	if head != "integration,operation,start,requests,errors,error_rate,latency_avg_ms,latency_p50_ms,latency_p99_ms,availability,upstream_requests,cost" {
		t.Errorf("CSV header: %s", head)
	}
	totals := map[string]string{}
	for _, r := range rows[1:] {
		if r[2] == "total" {
			totals[r[1]] = strings.Join([]string{r[3], r[4], r[5], r[10], r[11]}, " ")
		}
	}
	for op, w := range map[string]string{"ok": "6 0 0 6 0.012", "fail": "2 2 1 2 0.004", "flaky": "1 0 0 2 0.02"} {
		if totals[op] != w {
			t.Errorf("CSV total of %s: %q, want %q (requests errors error_rate upstream cost)\n%s", op, totals[op], w, out)
		}
	}

	out, _, code = run(t, dir, nil, "report", "--server", s.base, "--token", token)
	if code != 0 || !strings.Contains(out, "INTEGRATION") || !strings.Contains(out, "Shop") {
		t.Errorf("report table: exit %d\n%s", code, out)
	}
	_, stderr, code = run(t, dir, nil, "report", "--server", s.base, "--token", token, "--step", "30s")
	if code == 0 || !strings.Contains(stderr, "step") {
		t.Errorf("report --step 30s: exit %d %s", code, stderr)
	}
	_, stderr, code = run(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "--report-retention", "forever")
	if code == 0 || !strings.Contains(stderr, "--report-retention") {
		t.Errorf("serve --report-retention forever: exit %d %s", code, stderr)
	}
}
