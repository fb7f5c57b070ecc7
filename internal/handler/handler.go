package handler

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// MaxDepth bounds a chain of emitted events: an event emitted by a handler of an event
// emitted … MaxDepth times gets dead executions instead of running.
const MaxDepth = 8

// SourcePrefix + the handler's name is the source of an event a handler emitted.
const SourcePrefix = "handler:"

// Handler is one declared handler that runs.
type Handler struct {
	Name   string // `on "user.created" do integration "analytics.track"`, the key of its executions
	At     string // file:line:col of the declaration
	Event  string
	Action string // integration, webhook, emit or workflow
	Target string
	Async  bool
	Runs   bool // false for do workflow: not run by this version
}

// Set is the configuration's handlers, by event.
type Set struct {
	all         []Handler
	byKey       map[string][]Handler // eventKey → handlers that run
	maxAttempts int
	wake        func()
}

// New reads cfg's handlers. maxAttempts is 1 + the retries of the retry policy.
func New(cfg *config.Config, maxAttempts int) *Set {
	s := &Set{byKey: map[string][]Handler{}, maxAttempts: max(maxAttempts, 1), wake: func() {}}
	for _, h := range cfg.Handlers {
		x := Handler{
			Name:  fmt.Sprintf("on %q do %s %q", h.Event, h.Action, h.Target),
			At:    h.Pos.String(),
			Event: h.Event, Action: h.Action, Target: h.Target, Async: h.Async,
			Runs: h.Action != "workflow" || !config.NotRunYet("on … do workflow"),
		}
		s.all = append(s.all, x)
		if x.Runs {
			s.byKey[config.EventKey(h.Event)] = append(s.byKey[config.EventKey(h.Event)], x)
		}
	}
	return s
}

// Handlers lists every declared handler, run or not, in declaration order.
func (s *Set) Handlers() []Handler { return s.all }

// Lookup returns the running handler of that name.
func (s *Set) Lookup(name string) (Handler, bool) {
	for _, h := range s.all {
		if h.Name == name && h.Runs {
			return h, true
		}
	}
	return Handler{}, false
}

// Empty reports whether no handler runs.
func (s *Set) Empty() bool { return len(s.byKey) == 0 }

// SetWake sets what Wake calls (the Runner's wake).
func (s *Set) SetWake(f func()) { s.wake = f }

// Wake implements webhook.HandlerFanout.
func (s *Set) Wake() { s.wake() }

// Executions implements webhook.HandlerFanout: one pending execution per handler e
// matches; past MaxDepth, dead ones saying why.
func (s *Set) Executions(ctx context.Context, e event.Event, now time.Time) []store.HandlerExecution {
	hs := s.byKey[config.EventKey(e.Type)]
	if len(hs) == 0 {
		return nil
	}
	depth := depthOf(ctx)
	out := make([]store.HandlerExecution, 0, len(hs))
	for _, h := range hs {
		x := store.HandlerExecution{
			ID: uuid.NewString(), Handler: h.Name, EventID: e.ID, EventType: e.Type, Depth: depth,
			Status: store.HandlerPending, MaxAttempts: s.maxAttempts, CreatedAt: now, UpdatedAt: now,
		}
		if depth > MaxDepth {
			x.Status = store.HandlerDead
			x.LastError = fmt.Sprintf("not run: the event is %d emits deep, more than the limit of %d (handlers that emit each other loop)", depth, MaxDepth)
		}
		out = append(out, x)
	}
	return out
}

type depthKey struct{}

// withDepth marks ctx as publishing an event emitted d emits deep.
func withDepth(ctx context.Context, d int) context.Context {
	return context.WithValue(ctx, depthKey{}, d)
}

func depthOf(ctx context.Context) int {
	d, _ := ctx.Value(depthKey{}).(int)
	return d
}
