package eventroute

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/webhook"
)

// Publisher publishes webhook events (*webhook.Service).
type Publisher interface {
	Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error)
}

// callTimeout bounds one routed call.
const callTimeout = 30 * time.Second

type route struct {
	kind, name, operation string
}

// Router routes each configured event (publish_to) while it runs. It is a
// lifecycle.Component: Start subscribes to the bus, Stop unsubscribes, waiting for the
// routing under way.
type Router struct {
	bus    *event.Bus
	routes map[string][]route
	pub    Publisher
	call   integration.Caller
	log    *slog.Logger

	mu   sync.Mutex
	stop func()
}

// New reads the routes of cfg's events. The configuration has checked every target
// (config's publishKinds, references resolved); the kinds this version does not run yet
// (slack, kafka: config's notRunYet, which validate and serve report) are skipped with a
// warning.
func New(bus *event.Bus, cfg *config.Config, pub Publisher, call integration.Caller, log *slog.Logger) *Router {
	routes := map[string][]route{}
	for _, ev := range cfg.Events {
		for _, t := range ev.PublishTo {
			switch t.Kind {
			case "webhook":
				routes[ev.Name] = append(routes[ev.Name], route{kind: t.Kind, name: t.Name})
			case "integration":
				name, op, ok := strings.Cut(t.Name, ".")
				if !ok || name == "" || op == "" {
					log.Warn("publish_to: integration(…) needs \"Name.operation\"; skipped", "event", ev.Name, "at", t.Pos.String())
					continue
				}
				routes[ev.Name] = append(routes[ev.Name], route{kind: t.Kind, name: name, operation: op})
			default:
				log.Warn("publish_to: target declared but not run yet by this version; skipped",
					"event", ev.Name, "target", t.Kind+"(\""+t.Name+"\")", "at", t.Pos.String())
			}
		}
	}
	return &Router{bus: bus, routes: routes, pub: pub, call: call, log: log}
}

// Start subscribes to the bus.
func (r *Router) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop != nil || len(r.routes) == 0 {
		return nil
	}
	// An event a route published is not routed again, so routes that lead into each
	// other cannot loop.
	routable := func(e event.Event) bool {
		return len(r.routes[e.Type]) > 0 && !strings.HasPrefix(e.Source, event.SourceRoutePrefix)
	}
	r.stop = r.bus.Subscribe(routable, func(e event.Event) {
		for _, rt := range r.routes[e.Type] {
			if err := deliver(rt, e, r.pub, r.call); err != nil {
				r.log.Error("routing event failed", "event", e.Type, "target", rt.kind+"("+rt.name+")", "error", err)
			}
		}
	})
	return nil
}

// Stop unsubscribes, after the event being routed, if any, is done.
func (r *Router) Stop(context.Context) error {
	r.mu.Lock()
	stop := r.stop
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	return nil
}

func deliver(r route, e event.Event, pub Publisher, call integration.Caller) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	switch r.kind {
	case "webhook":
		routed := event.Make(r.name, event.SourceRoutePrefix+e.Type, e.Time, map[string]any{"event": e.Type, "time": e.Time, "payload": e.Data})
		_, err := pub.Publish(ctx, routed)
		return err
	case "integration":
		res, err := call.Call(ctx, r.name, r.operation, e.Fields(), integration.CallOptions{})
		if err != nil {
			return err
		}
		if res.Status >= 400 {
			return fmt.Errorf("%s.%s answered %d", r.name, r.operation, res.Status)
		}
	}
	return nil
}
