package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/flow"
)

// APIClient reads a running server's API for the CLI (`junction flow …`).
type APIClient struct {
	BaseURL string // http://127.0.0.1:8080; 127.0.0.1:8080 means the same
	Token   string
	HTTP    *http.Client
}

// base is BaseURL with http:// added when it names no scheme: `--server 127.0.0.1:9090`
// is what one types after starting `serve --addr 127.0.0.1:9090`.
func (c APIClient) base() string {
	b := strings.TrimSuffix(c.BaseURL, "/")
	if !strings.Contains(b, "://") {
		b = "http://" + b
	}
	return b
}

// get fetches path into dst, turning a problem+json answer into an error with its detail.
func (c APIClient) get(ctx context.Context, path string, dst any) error {
	_, err := c.do(ctx, http.MethodGet, path, nil, dst, http.StatusOK)
	return err
}

// do sends a request with an optional JSON body and decodes an answer whose status is
// one of ok into dst; any other answer is an error with the problem's detail.
func (c APIClient) do(ctx context.Context, method, path string, body []byte, dst any, ok ...int) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base()+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 90 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the Junction server at %s: %w", c.base(), err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, err
	}
	if !slices.Contains(ok, resp.StatusCode) {
		return resp.StatusCode, answerError(method, path, resp.StatusCode, answer)
	}
	if dst == nil { // an answer without a body (204)
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.Unmarshal(answer, dst)
}

// answerError is the error of an unexpected answer: its problem's title, detail and
// field errors (what was wrong with a flag or argument).
func answerError(method, path string, status int, answer []byte) error {
	var p struct {
		Title, Detail string
		Errors        []struct{ Field, Detail string }
	}
	_ = json.Unmarshal(answer, &p)
	if p.Detail == "" {
		p.Detail = strings.TrimSpace(string(answer))
	}
	for _, e := range p.Errors {
		p.Detail += fmt.Sprintf("; %s: %s", e.Field, e.Detail)
	}
	return fmt.Errorf("%s %s: %d %s: %s", method, path, status, p.Title, p.Detail)
}

// FlowStatus prints one flow's status, or a table of every flow when name is "".
func FlowStatus(ctx context.Context, c APIClient, name string, w io.Writer) error {
	if name == "" {
		var list struct{ Data []flow.Status }
		if err := c.get(ctx, "/flows", &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FLOW\tSTATE\tRECEIVED\tDELIVERED\tDEAD LETTERS\tIN/S\tLAST ERROR")
		for _, s := range list.Data {
			last := ""
			if s.LastError != nil {
				last = s.LastError.Step + ": " + s.LastError.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1f\t%s\n", s.Name, s.State, s.Counters.Received, s.Counters.Delivered, s.DeadLetters, s.Rates.ReceivedPerSecond, last)
		}
		return tw.Flush()
	}
	var s flow.Status
	if err := c.get(ctx, "/flows/"+url.PathEscape(name), &s); err != nil {
		return err
	}
	fmt.Fprintf(w, "flow %s: %s\n", s.Name, s.State)
	if s.Description != "" {
		fmt.Fprintf(w, "  %s\n", s.Description)
	}
	steps := make([]string, len(s.Steps))
	for i, st := range s.Steps {
		steps[i] = st.Name + " (" + st.Kind + ")"
	}
	fmt.Fprintf(w, "  source:        %s\n  steps:         %s\n  sinks:         %s\n", s.Source, strings.Join(steps, " → "), strings.Join(s.Sinks, ", "))
	fmt.Fprintf(w, "  in flight:     %d of %d\n", s.InFlight, s.MaxInFlight)
	c2 := s.Counters
	fmt.Fprintf(w, "  messages:      %d received, %d delivered, %d filtered, %d dead-lettered, %d requeued, %d retries\n", c2.Received, c2.Delivered, c2.Filtered, c2.DeadLettered, c2.Requeued, c2.Retries)
	fmt.Fprintf(w, "  rates (1 min): %.1f received/s, %.1f delivered/s\n", s.Rates.ReceivedPerSecond, s.Rates.DeliveredPerSecond)
	fmt.Fprintf(w, "  dead letters:  %d in %q\n", s.DeadLetters, s.DeadLetterQueue)
	if s.LastError != nil {
		fmt.Fprintf(w, "  last error:    %s at %s: %s\n", s.LastError.At.Format(time.RFC3339), s.LastError.Step, s.LastError.Error)
	}
	return nil
}

// Follow says whether a listing command keeps watching after it printed what there is,
// and how: it polls every Every until its context ends.
type Follow struct {
	Every time.Duration // 0: print once and return
	Notes io.Writer     // failed polls and skipped entries are told here (stderr); nil: nowhere
}

// poll calls once every f.Every until ctx ends, telling Notes when a poll fails (once
// per run of failures) and when polls work again.
func (f Follow) poll(ctx context.Context, once func() error) error {
	notes := f.Notes
	if notes == nil {
		notes = io.Discard
	}
	tick := time.NewTicker(f.Every)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		err := once()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !failing:
			fmt.Fprintf(notes, "%v; still trying every %v\n", err, f.Every)
		case err == nil && failing:
			fmt.Fprintln(notes, "the server answers again")
		}
		failing = err != nil
	}
}

// flowLogsMax is the most outcomes GET /flows/{name}/logs returns at once.
const flowLogsMax = 500

// FlowLogs prints a flow's recent message outcomes, oldest first; following, it then
// prints new outcomes as they come.
func FlowLogs(ctx context.Context, c APIClient, name string, limit int, follow Follow, w io.Writer) error {
	after, _, err := printFlowLogs(ctx, c, name, limit, 0, w)
	if err != nil || follow.Every == 0 {
		return err
	}
	return follow.poll(ctx, func() error {
		last, n, err := printFlowLogs(ctx, c, name, flowLogsMax, after, w)
		if err != nil {
			return err
		}
		if n == flowLogsMax && follow.Notes != nil {
			fmt.Fprintf(follow.Notes, "(%d new outcomes in one poll, the most shown at once: older ones may be skipped)\n", n)
		}
		after = max(after, last)
		return nil
	})
}

// printFlowLogs prints up to limit outcomes numbered above after, oldest first, and
// returns the newest one's number (0 when there was none) and how many it printed.
func printFlowLogs(ctx context.Context, c APIClient, name string, limit int, after uint64, w io.Writer) (newest uint64, n int, err error) {
	var logs struct{ Data []flow.LogEntry }
	path := fmt.Sprintf("/flows/%s/logs?limit=%d", url.PathEscape(name), limit)
	if after > 0 {
		path += fmt.Sprintf("&after=%d", after)
	}
	if err := c.get(ctx, path, &logs); err != nil {
		return 0, 0, err
	}
	for i := len(logs.Data) - 1; i >= 0; i-- {
		e := logs.Data[i]
		line := fmt.Sprintf("%s %-13s %s %.2fms", e.Time.Format(time.RFC3339Nano), e.Outcome, e.MessageID, e.DurationMs)
		if len(e.Sinks) > 0 {
			line += " sinks=" + strings.Join(e.Sinks, ",")
		}
		if e.Error != "" {
			line += fmt.Sprintf(" step=%s error=%q", e.Step, e.Error)
		}
		if e.Payload != nil {
			line += " payload=" + string(e.Payload)
		}
		fmt.Fprintln(w, line)
	}
	if len(logs.Data) == 0 {
		return 0, 0, nil
	}
	return logs.Data[0].Seq, len(logs.Data), nil
}

// ConnectorTest checks that a configured connector reaches its system, and prints why
// not. It returns false when the check failed.
func ConnectorTest(ctx context.Context, paths []string, name string, lookup func(string) (string, bool), w io.Writer) bool {
	c, kind, err := declaredConnector(paths, name)
	if err != nil {
		fmt.Fprintln(w, err)
		return false
	}
	if kind.Check == nil {
		fmt.Fprintf(w, "connector %s (%s): nothing to check: it connects to no outside system\n", c.Name, c.Type)
		return true
	}
	settings := connector.Settings{
		Connector: c, Options: c.Options,
		Env: connector.Env{LookupEnv: lookup, Logger: slog.New(slog.DiscardHandler), Clock: clock.Real{}},
	}
	start := time.Now()
	if err := kind.Check(ctx, settings); err != nil {
		fmt.Fprintf(w, "connector %s (%s): FAILED: %v\n", c.Name, c.Type, err)
		return false
	}
	fmt.Fprintf(w, "connector %s (%s): ok (%s)\n", c.Name, c.Type, time.Since(start).Round(time.Millisecond))
	return true
}
