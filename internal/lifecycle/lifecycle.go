package lifecycle

import (
	"context"
	"errors"
	"fmt"
)

// Component is a long-running part of the runtime.
//
// Start begins the component's work and returns once it is running (or failed to
// start); the work goes on, on the component's own goroutines, until Stop. A component
// whose start failed need not be stopped, but Stop must be safe to call on it.
//
// Stop ends the work: it stops taking new work, lets what is in flight finish while ctx
// allows, hands back what it could not finish (to a queue, a broker) and returns when
// every goroutine it started has ended. Stop is safe to call more than once.
type Component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Named is a component with the name its errors and logs use.
type Named struct {
	Name string
	Component
}

// Group starts components in order and stops them in reverse order.
type Group struct {
	parts   []Named
	started int
}

// Add appends a component; it is started after those added before it.
func (g *Group) Add(name string, c Component) {
	g.parts = append(g.parts, Named{Name: name, Component: c})
}

// Start starts every component in order. When one fails, those already started are
// stopped (in reverse order) and the error names the one that failed.
func (g *Group) Start(ctx context.Context) error {
	for i, p := range g.parts {
		if err := p.Start(ctx); err != nil {
			g.started = i
			stopErr := g.Stop(context.WithoutCancel(ctx))
			return errors.Join(fmt.Errorf("start %s: %w", p.Name, err), stopErr)
		}
	}
	g.started = len(g.parts)
	return nil
}

// Stop stops the started components in reverse order, each with ctx, and joins their
// errors. Every component is stopped even if one fails.
func (g *Group) Stop(ctx context.Context) error {
	var errs []error
	for i := g.started - 1; i >= 0; i-- {
		if err := g.parts[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", g.parts[i].Name, err))
		}
	}
	g.started = 0
	return errors.Join(errs...)
}

// Func adapts a pair of functions to Component; either may be nil.
type Func struct {
	OnStart func(context.Context) error
	OnStop  func(context.Context) error
}

// Start calls OnStart.
func (f Func) Start(ctx context.Context) error {
	if f.OnStart == nil {
		return nil
	}
	return f.OnStart(ctx)
}

// Stop calls OnStop.
func (f Func) Stop(ctx context.Context) error {
	if f.OnStop == nil {
		return nil
	}
	return f.OnStop(ctx)
}
