package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// workflowRun is a run as the API answers it.
type workflowRun struct {
	ID         string          `json:"id"`
	Workflow   string          `json:"workflow"`
	Status     string          `json:"status"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output"`
	Error      string          `json:"error"`
	FailedStep string          `json:"failed_step"`
	StoppedAt  string          `json:"stopped_at"`
	Trigger    string          `json:"trigger"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Steps      []struct {
		ID         string          `json:"id"`
		Status     string          `json:"status"`
		Attempts   int             `json:"attempts"`
		Output     json.RawMessage `json:"output"`
		Error      string          `json:"error"`
		DurationMS *float64        `json:"duration_ms"`
	} `json:"steps"`
}

func (r workflowRun) final() bool {
	switch r.Status {
	case "completed", "stopped", "failed", "cancelled":
		return true
	}
	return false
}

// WorkflowRun starts a run of a workflow on a running server with key=value (strings)
// and key:=JSON arguments as its input, waits for it (at most timeout) and prints its
// result. It reports whether the run succeeded (completed, or stopped by a condition).
func WorkflowRun(ctx context.Context, c APIClient, name string, args []string, timeout time.Duration, w io.Writer) (bool, error) {
	input := map[string]any{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, ":="); ok && k != "" && !strings.Contains(k, "=") {
			var x any
			if err := json.Unmarshal([]byte(v), &x); err != nil {
				return false, fmt.Errorf("%s:= expects JSON, found %q", k, v)
			}
			input[k] = x
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return false, fmt.Errorf("argument %q: expected key=value or key:=JSON", a)
		}
		input[k] = v
	}
	body, _ := json.Marshal(input)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := min(timeout, 55*time.Second)
	var run workflowRun
	if _, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/workflows/%s/runs?wait=%s", url.PathEscape(name), wait), body, &run, http.StatusOK, http.StatusAccepted); err != nil {
		return false, err
	}
	for !run.final() {
		select {
		case <-ctx.Done():
			fmt.Fprintf(w, "run %s is still %s after %s: see junction workflow status %s\n", run.ID, run.Status, timeout, run.ID)
			return false, nil
		case <-time.After(500 * time.Millisecond):
		}
		if err := c.get(ctx, "/workflows/runs/"+url.PathEscape(run.ID), &run); err != nil {
			return false, err
		}
	}
	if len(run.Steps) == 0 {
		_ = c.get(ctx, "/workflows/runs/"+url.PathEscape(run.ID), &run)
	}
	printRun(w, run)
	return run.Status == "completed" || run.Status == "stopped", nil
}

// WorkflowStatus prints one run with its steps, or a table of the declared workflows.
func WorkflowStatus(ctx context.Context, c APIClient, runID string, w io.Writer) error {
	if runID == "" {
		var list struct {
			Data []struct {
				Name     string         `json:"name"`
				Triggers []string       `json:"triggers"`
				Steps    []string       `json:"steps"`
				Runs     map[string]int `json:"runs"`
			}
		}
		if err := c.get(ctx, "/workflows", &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WORKFLOW\tTRIGGERS\tSTEPS\tLIVE\tCOMPLETED\tSTOPPED\tFAILED\tCANCELLED")
		for _, d := range list.Data {
			live := d.Runs["pending"] + d.Runs["running"] + d.Runs["waiting"]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", d.Name, strings.Join(d.Triggers, ", "), len(d.Steps), live,
				d.Runs["completed"], d.Runs["stopped"], d.Runs["failed"], d.Runs["cancelled"])
		}
		return tw.Flush()
	}
	var run workflowRun
	if err := c.get(ctx, "/workflows/runs/"+url.PathEscape(runID), &run); err != nil {
		return err
	}
	printRun(w, run)
	return nil
}

func printRun(w io.Writer, r workflowRun) {
	fmt.Fprintf(w, "run %s of %s: %s", r.ID, r.Workflow, r.Status)
	switch {
	case r.StoppedAt != "":
		fmt.Fprintf(w, " at step %s", r.StoppedAt)
	case r.FailedStep != "":
		fmt.Fprintf(w, " at step %s", r.FailedStep)
	}
	fmt.Fprintln(w)
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  STEP\tSTATUS\tATTEMPTS\tMS\tERROR")
	for _, s := range r.Steps {
		ms := ""
		if s.DurationMS != nil {
			ms = fmt.Sprintf("%.1f", *s.DurationMS)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", s.ID, s.Status, s.Attempts, ms, s.Error)
	}
	_ = tw.Flush()
	if len(r.Output) > 0 && string(r.Output) != "null" {
		var pretty strings.Builder
		var v any
		if json.Unmarshal(r.Output, &v) == nil {
			b, _ := json.MarshalIndent(v, "", "  ")
			pretty.Write(b)
		}
		fmt.Fprintf(w, "output: %s\n", pretty.String())
	}
}
