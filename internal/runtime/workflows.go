package runtime

import (
	"context"
	"encoding/json"

	"github.com/junctionhq/junction/internal/workflow"
)

// Workflows is the workflow engine of the runtime in force, for the HTTP API: the
// declared workflows follow reloads; runs live in the store, so any runtime serves them.
func (h *Host) Workflows() WorkflowsView { return WorkflowsView{h} }

// WorkflowsView passes each call to the current runtime's engine.
type WorkflowsView struct{ h *Host }

func (v WorkflowsView) e() *workflow.Engine { return v.h.Current().workflows }

// Workflows see workflow.Engine.
func (v WorkflowsView) Workflows(ctx context.Context) ([]workflow.Info, error) {
	return v.e().Workflows(ctx)
}

// StartRun see workflow.Engine.
func (v WorkflowsView) StartRun(ctx context.Context, name string, input json.RawMessage, o workflow.StartOptions) (workflow.Run, bool, error) {
	return v.e().StartRun(ctx, name, input, o)
}

// Wait see workflow.Engine.
func (v WorkflowsView) Wait(ctx context.Context, id string) (workflow.Run, []workflow.Step, error) {
	return v.e().Wait(ctx, id)
}

// Get see workflow.Engine.
func (v WorkflowsView) Get(ctx context.Context, id string) (workflow.Run, []workflow.Step, error) {
	return v.e().Get(ctx, id)
}

// List see workflow.Engine.
func (v WorkflowsView) List(ctx context.Context, f workflow.Filter) ([]workflow.Run, int, error) {
	return v.e().List(ctx, f)
}

// Cancel see workflow.Engine.
func (v WorkflowsView) Cancel(ctx context.Context, id string) (workflow.Run, error) {
	return v.e().Cancel(ctx, id)
}

// Retry see workflow.Engine.
func (v WorkflowsView) Retry(ctx context.Context, id string) (workflow.Run, error) {
	return v.e().Retry(ctx, id)
}
