package runtime

import (
	"context"

	"github.com/junctionhq/junction/internal/job"
	"github.com/junctionhq/junction/internal/webhook"
)

// Jobs is the scheduler of the runtime in force, for the HTTP API: the jobs and their
// runs follow reloads.
func (h *Host) Jobs() JobsView { return JobsView{h} }

// JobsView passes each call to the current runtime's scheduler.
type JobsView struct{ h *Host }

func (v JobsView) s() *job.Scheduler { return v.h.Current().jobs }

// Jobs see job.Scheduler.
func (v JobsView) Jobs(ctx context.Context) ([]job.Info, error) { return v.s().Jobs(ctx) }

// Job see job.Scheduler.
func (v JobsView) Job(ctx context.Context, name string) (job.Info, error) {
	return v.s().Job(ctx, name)
}

// Runs see job.Scheduler.
func (v JobsView) Runs(ctx context.Context, name string, p webhook.Page) ([]job.Run, int, error) {
	return v.s().Runs(ctx, name, p)
}

// Trigger see job.Scheduler.
func (v JobsView) Trigger(name string) (string, error) { return v.s().Trigger(name) }
