package storeinput

import (
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// NormalizeJobRun checks a run to claim and returns it as it is stored and read back.
func NormalizeJobRun(r store.JobRun) (store.JobRun, error) {
	switch {
	case r.ID == "" || !Key(r.ID):
		return r, errors.New("invalid id")
	case r.Job == "" || !Key(r.Job):
		return r, errors.New("invalid job")
	case !Key(r.Owner) || !Key(r.Error):
		return r, errors.New("invalid owner or error")
	case r.Attempts < 0:
		return r, errors.New("negative attempts")
	}
	for _, t := range []struct {
		name string
		at   *time.Time
	}{{"tick", &r.Tick}, {"lease", &r.LeaseUntil}, {"started at", &r.StartedAt}} {
		if err := store.CheckTime(*t.at); err != nil {
			return r, fmt.Errorf("%s: %w", t.name, err)
		}
		*t.at = store.NormalizeTime(*t.at)
	}
	r.Status = store.JobRunRunning
	r.FinishedAt = nil
	return r, nil
}

// NormalizeJobFinish checks the outcome of a run and returns it as it is stored.
func NormalizeJobFinish(r store.JobRun) (store.JobRun, error) {
	switch {
	case r.Status != store.JobRunSucceeded && r.Status != store.JobRunFailed:
		return r, fmt.Errorf("invalid final status %q", r.Status)
	case r.FinishedAt == nil:
		return r, errors.New("no finish time")
	case !Key(r.Error):
		return r, errors.New("invalid error")
	case r.Attempts < 0:
		return r, errors.New("negative attempts")
	}
	if err := store.CheckTime(*r.FinishedAt); err != nil {
		return r, fmt.Errorf("finished at: %w", err)
	}
	at := store.NormalizeTime(*r.FinishedAt)
	r.FinishedAt = &at
	return r, nil
}
