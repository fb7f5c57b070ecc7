package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/junctionhq/junction/internal/report"
)

// ReportOptions are the flags of `junction report`; empty means the server's default.
type ReportOptions struct {
	From, To, Step         string
	Integration, Operation string
	Format                 string // table (default), csv or json
}

// Report fetches GET /reports and writes it as a table, CSV or JSON.
func Report(ctx context.Context, c APIClient, o ReportOptions, w io.Writer) error {
	write, ok := map[string]func(io.Writer, report.Document) error{
		"": reportTable, "table": reportTable, "csv": reportCSV, "json": reportJSON,
	}[o.Format]
	if !ok {
		return fmt.Errorf("--format: expected table, csv or json, found %q", o.Format)
	}
	q := url.Values{}
	for k, v := range map[string]string{"from": o.From, "to": o.To, "step": o.Step, "integration": o.Integration, "operation": o.Operation} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/reports"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var doc report.Document
	if err := c.get(ctx, path, &doc); err != nil {
		return err
	}
	return write(w, doc)
}

func reportJSON(w io.Writer, doc report.Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// reportCSV writes one row per step of every series, then its total (start "total").
func reportCSV(w io.Writer, doc report.Document) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"integration", "operation", "start", "requests", "errors", "error_rate",
		"latency_avg_ms", "latency_p50_ms", "latency_p99_ms", "availability", "upstream_requests", "cost"})
	row := func(s report.SeriesDocument, start string, st report.StatsDocument) {
		avail := ""
		if st.Availability != nil {
			avail = num(*st.Availability)
		}
		_ = cw.Write([]string{s.Integration, s.Operation, start, strconv.FormatInt(st.Requests, 10), strconv.FormatInt(st.Errors, 10),
			num(st.ErrorRate), num(st.LatencyAvgMs), num(st.LatencyP50Ms), num(st.LatencyP99Ms), avail,
			strconv.FormatInt(st.UpstreamRequests, 10), num(st.Cost)})
	}
	for _, s := range doc.Data {
		for _, b := range s.Buckets {
			row(s, b.Start.UTC().Format(time.RFC3339), b.StatsDocument)
		}
		row(s, "total", s.Total)
	}
	cw.Flush()
	return cw.Error()
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// reportTable writes each series' total, then its steps that had calls.
func reportTable(w io.Writer, doc report.Document) error {
	fmt.Fprintf(w, "%s to %s in steps of %s\n\n", doc.From.UTC().Format(time.RFC3339), doc.To.UTC().Format(time.RFC3339), doc.Step)
	if len(doc.Data) == 0 {
		fmt.Fprintln(w, "no calls in this range")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INTEGRATION\tOPERATION\tSTEP\tREQUESTS\tERRORS\tERROR RATE\tAVG\tP50\tP99\tAVAILABILITY\tCOST")
	line := func(s report.SeriesDocument, step string, st report.StatsDocument) {
		avail := "-"
		if st.Availability != nil {
			avail = fmt.Sprintf("%.2f%%", 100**st.Availability)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.2f%%\t%.1fms\t%.1fms\t%.1fms\t%s\t%s\n", s.Integration, s.Operation, step,
			st.Requests, st.Errors, 100*st.ErrorRate, st.LatencyAvgMs, st.LatencyP50Ms, st.LatencyP99Ms, avail, num(st.Cost))
	}
	for _, s := range doc.Data {
		line(s, "total", s.Total)
		for _, b := range s.Buckets {
			if b.Requests > 0 {
				line(s, b.Start.UTC().Format("2006-01-02 15:04"), b.StatsDocument)
			}
		}
	}
	return tw.Flush()
}
