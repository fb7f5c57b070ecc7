package storeinput

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// NormalizeWorkflowRun checks a new run and returns it as both backends store it and
// read it back: pending unless another live status is given, due at its creation unless
// NextAt says otherwise, an empty input {}, a lease only with an owner, and no outcome
// yet (Output, Error, FailedStep, FinishedAt and CancelRequested are cleared).
func NormalizeWorkflowRun(r store.WorkflowRun) (store.WorkflowRun, error) {
	if err := checkName("id", r.ID, true); err != nil {
		return store.WorkflowRun{}, err
	}
	for _, f := range []struct {
		what, s  string
		required bool
	}{
		{"workflow", r.Workflow, true}, {"parent id", r.ParentID, false}, {"parent step", r.ParentStep, false}, {"owner", r.Owner, false},
	} {
		if err := checkName(f.what, f.s, f.required); err != nil {
			return store.WorkflowRun{}, fmt.Errorf("run %q: %w", r.ID, err)
		}
	}
	if r.Status == "" {
		r.Status = store.WorkflowPending
	}
	if !r.Status.Valid() || r.Status.Final() {
		return store.WorkflowRun{}, fmt.Errorf("run %q: status %q, want pending, running or waiting", r.ID, r.Status)
	}
	if len(r.Input) == 0 {
		r.Input = json.RawMessage(`{}`)
	}
	if err := checkJSON(r.Input); err != nil {
		return store.WorkflowRun{}, fmt.Errorf("run %q: input: %w", r.ID, err)
	}
	if trimmed := bytes.TrimLeft(r.Input, " \t\r\n"); trimmed[0] != '{' {
		return store.WorkflowRun{}, fmt.Errorf("run %q: input is not a JSON object", r.ID)
	}
	r.Input = bytes.Clone(r.Input)
	switch {
	case r.Owner != "" && r.LeaseUntil == nil:
		return store.WorkflowRun{}, fmt.Errorf("run %q: owner %q without a lease end", r.ID, r.Owner)
	case r.Owner == "":
		r.LeaseUntil = nil
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	if r.NextAt == nil {
		due := r.CreatedAt
		r.NextAt = &due
	}
	r.Trigger = storableText(r.Trigger)
	r.Output, r.Error, r.FailedStep, r.FinishedAt, r.CancelRequested = nil, "", "", nil, false
	err := normalizeTimes([]*time.Time{&r.CreatedAt, &r.UpdatedAt}, []**time.Time{&r.LeaseUntil, &r.NextAt, &r.Deadline, &r.StartedAt})
	if err != nil {
		return store.WorkflowRun{}, fmt.Errorf("run %q: %w", r.ID, err)
	}
	return r, nil
}

// CheckWorkflowClaim checks claim parameters. The owner is required: "" is how a run
// without a lease is stored.
func CheckWorkflowClaim(p store.WorkflowClaimParams) error {
	switch {
	case p.Limit < 1:
		return fmt.Errorf("limit %d, want at least 1", p.Limit)
	case p.Lease <= 0:
		return fmt.Errorf("lease %v, want a positive duration", p.Lease)
	}
	if err := checkName("owner", p.Owner, true); err != nil {
		return err
	}
	if err := store.CheckTime(p.Now); err != nil {
		return fmt.Errorf("now: %w", err)
	}
	if err := store.CheckTime(p.Now.Add(p.Lease)); err != nil {
		return fmt.Errorf("lease end: %w", err)
	}
	return nil
}

// NormalizeWorkflowWrites checks writes and returns copies as both backends store them.
// A write's steps take its RunID; a step listed twice in one write is stored once, at
// its first place with its last value. A run update with a final status releases the
// lease and clears NextAt; one with a live status and no NextAt keeps the stored due
// time (a running run stays due, so it is claimed again if its holder dies).
func NormalizeWorkflowWrites(ws []store.WorkflowWrite) ([]store.WorkflowWrite, error) {
	out := make([]store.WorkflowWrite, len(ws))
	for i, w := range ws {
		if err := checkName("run id", w.RunID, true); err != nil {
			return nil, fmt.Errorf("write %d: %w", i, err)
		}
		if err := checkName("owner", w.Owner, true); err != nil {
			return nil, fmt.Errorf("write %d (run %q): %w", i, w.RunID, err)
		}
		if err := normalizeTimes([]*time.Time{&w.At}, nil); err != nil {
			return nil, fmt.Errorf("write %d (run %q): at: %w", i, w.RunID, err)
		}
		if w.Run != nil {
			u, err := normalizeRunUpdate(*w.Run)
			if err != nil {
				return nil, fmt.Errorf("write %d (run %q): %w", i, w.RunID, err)
			}
			w.Run = &u
		}
		if w.Run == nil || !w.Run.Release {
			if err := normalizeTimes([]*time.Time{&w.LeaseUntil}, nil); err != nil {
				return nil, fmt.Errorf("write %d (run %q): lease until: %w", i, w.RunID, err)
			}
		}
		steps, err := normalizeSteps(w.RunID, w.Steps)
		if err != nil {
			return nil, fmt.Errorf("write %d (run %q): %w", i, w.RunID, err)
		}
		w.Steps = steps
		out[i] = w
	}
	return out, nil
}

func normalizeRunUpdate(u store.WorkflowRunUpdate) (store.WorkflowRunUpdate, error) {
	if !u.Status.Valid() {
		return u, fmt.Errorf("invalid status %q", u.Status)
	}
	if err := checkName("failed step", u.FailedStep, false); err != nil {
		return u, err
	}
	if len(u.Output) == 0 {
		u.Output = nil
	}
	if err := checkJSON(u.Output); err != nil {
		return u, fmt.Errorf("output: %w", err)
	}
	if u.Status.Final() {
		u.NextAt, u.Release = nil, true
	}
	u.Error = storableText(u.Error)
	if err := normalizeTimes(nil, []**time.Time{&u.NextAt, &u.StartedAt, &u.FinishedAt}); err != nil {
		return u, err
	}
	return u, nil
}

func normalizeSteps(runID string, steps []store.WorkflowStep) ([]store.WorkflowStep, error) {
	out := make([]store.WorkflowStep, 0, len(steps))
	at := make(map[string]int, len(steps))
	for _, s := range steps {
		if err := checkName("step id", s.StepID, true); err != nil {
			return nil, err
		}
		if s.RunID != "" && s.RunID != runID {
			return nil, fmt.Errorf("step %q: run id %q, want %q", s.StepID, s.RunID, runID)
		}
		s.RunID = runID
		if !validStepStatus(s.Status) {
			return nil, fmt.Errorf("step %q: invalid status %q", s.StepID, s.Status)
		}
		if s.Attempts < 0 || s.Attempts > math.MaxInt32 {
			return nil, fmt.Errorf("step %q: attempts %d outside 0-%d", s.StepID, s.Attempts, math.MaxInt32)
		}
		for _, v := range []struct {
			what string
			json *json.RawMessage
		}{{"input", &s.Input}, {"output", &s.Output}, {"state", &s.State}} {
			if len(*v.json) == 0 {
				*v.json = nil
			}
			if err := checkJSON(*v.json); err != nil {
				return nil, fmt.Errorf("step %q: %s: %w", s.StepID, v.what, err)
			}
		}
		s.Error = storableText(s.Error)
		if err := normalizeTimes(nil, []**time.Time{&s.StartedAt, &s.FinishedAt}); err != nil {
			return nil, fmt.Errorf("step %q: %w", s.StepID, err)
		}
		if j, ok := at[s.StepID]; ok {
			out[j] = s
			continue
		}
		at[s.StepID] = len(out)
		out = append(out, s)
	}
	return out, nil
}

func validStepStatus(s store.WorkflowStepStatus) bool {
	switch s {
	case store.StepWaiting, store.StepCompleted, store.StepSkipped, store.StepFailed, store.StepCompensated:
		return true
	}
	return false
}

// checkJSON rejects a value that is not JSON; nil (no value) passes.
func checkJSON(v json.RawMessage) error {
	if v != nil && !json.Valid(v) {
		return errors.New("not valid JSON")
	}
	return nil
}

// CheckWorkflowFilter checks a list filter.
func CheckWorkflowFilter(f store.WorkflowRunFilter) error {
	if f.Status != "" && !f.Status.Valid() {
		return fmt.Errorf("invalid status %q", f.Status)
	}
	return CheckPage(f.Page)
}

// StorableKeys splits ids into those a write could have stored and the others, which
// no row has.
func StorableKeys(ids []string) (keys, others []string) {
	keys = make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && Key(id) {
			keys = append(keys, id)
		} else {
			others = append(others, id)
		}
	}
	return keys, others
}

// CheckEventsSince checks the bounds of WorkflowEventsSince.
func CheckEventsSince(after time.Time, limit int) error {
	if limit < 1 {
		return fmt.Errorf("limit %d, want at least 1", limit)
	}
	if err := store.CheckTime(after); err != nil {
		return fmt.Errorf("after: %w", err)
	}
	return nil
}
