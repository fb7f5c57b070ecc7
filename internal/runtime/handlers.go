package runtime

import (
	"context"
	"encoding/json"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/handler"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// buildHandlers makes the configuration's event handlers and their runner (which stops
// before the integrations retire, so it calls them directly): the webhook
// service writes their executions with each event it stores. They retry on the webhook
// delivery schedule (its `retry`/`retry_delays`), each run bounded by the delivery
// timeout.
func (r *Runtime) buildHandlers(cfg *config.Config, deps Deps, hooks *webhook.Service) (*handler.Runner, error) {
	settings := hooks.Settings()
	r.handlers = handler.New(cfg, settings.MaxAttempts)
	r.shapes = handler.NewShapes(cfg)
	hooks.SetHandlers(r.handlers)
	return handler.NewRunner(handler.Options{
		Store: deps.Store, Set: r.handlers, Webhooks: hooks, Caller: r.integrations, Workflows: r.workflows, Logger: deps.Logger, Clock: deps.Clock,
		Retry: settings.Retry, Timeout: settings.Timeout, Lease: deps.WebhookLease, Workers: settings.Workers, Plugins: pluginsOf(deps),
	})
}

// Handlers is the event handler API of the runtime in force.
func (h *Host) Handlers() HandlersView { return HandlersView{h} }

// HandlersView passes each call to the current runtime.
type HandlersView struct{ h *Host }

// List returns the declared handlers with their counts.
func (v HandlersView) List(ctx context.Context) ([]handler.Info, error) {
	counts, err := v.h.deps.Store.HandlerCounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []handler.Info
	for _, x := range v.h.Current().handlers.Handlers() {
		c := map[store.HandlerStatus]int{store.HandlerPending: 0, store.HandlerFailed: 0, store.HandlerDone: 0, store.HandlerDead: 0}
		for st, n := range counts[x.Name] {
			c[st] = n
		}
		out = append(out, handler.Info{Handler: x, Counts: c})
	}
	return out, nil
}

// ListExecutions returns a page of executions and the total.
func (v HandlersView) ListExecutions(ctx context.Context, f store.HandlerFilter) ([]store.HandlerExecution, int, error) {
	return v.h.deps.Store.HandlerExecutionList(ctx, f)
}

// Retry makes a dead execution run again now, with a full set of attempts.
func (v HandlersView) Retry(ctx context.Context, id string) (store.HandlerExecution, error) {
	now := time.Now()
	if v.h.deps.Clock != nil {
		now = v.h.deps.Clock.Now()
	}
	x, err := v.h.deps.Store.HandlerExecutionRequeue(ctx, id, now.UTC())
	if err == nil {
		v.h.Current().handlers.Wake()
	}
	return x, err
}

// checkShape checks an event published through the API against its declared payload.
func (r *Runtime) checkShape(e event.Event) error {
	if e.Source != event.SourceAPI {
		return nil
	}
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return r.shapes.Check(e.Type, data)
}
