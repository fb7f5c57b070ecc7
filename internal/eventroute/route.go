package eventroute

import (
	"context"
	"encoding/json"
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
	channel               string // of a slack route
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
// (config's publishKinds, references resolved); kafka (config's notRunYet), and slack
// while no Slack integration is declared, which validate and serve report, are skipped
// with a warning.
func New(bus *event.Bus, cfg *config.Config, pub Publisher, call integration.Caller, log *slog.Logger) *Router {
	routes := map[string][]route{}
	for _, ev := range cfg.Events {
		// By config.EventKey, as handlers match: a route of event order_placed takes
		// events of type order.placed too.
		key := config.EventKey(ev.Name)
		for _, t := range ev.PublishTo {
			switch t.Kind {
			case "webhook":
				routes[key] = append(routes[key], route{kind: t.Kind, name: t.Name})
			case "integration":
				name, op, ok := strings.Cut(t.Name, ".")
				if !ok || name == "" || op == "" {
					log.Warn("publish_to: integration(…) needs \"Name.operation\"; skipped", "event", ev.Name, "at", t.Pos.String())
					continue
				}
				routes[key] = append(routes[key], route{kind: t.Kind, name: name, operation: op})
			case "slack":
				if cfg.Integration(config.SlackIntegration) == nil {
					log.Warn("publish_to: slack(…) needs a declared integration Slack with an operation post_message; skipped", "event", ev.Name, "at", t.Pos.String())
					continue
				}
				routes[key] = append(routes[key], route{kind: t.Kind, name: config.SlackIntegration, operation: config.SlackOperation, channel: t.Name})
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
		return len(r.routes[config.EventKey(e.Type)]) > 0 && !strings.HasPrefix(e.Source, event.SourceRoutePrefix)
	}
	r.stop = r.bus.Subscribe(routable, func(e event.Event) {
		for _, rt := range r.routes[config.EventKey(e.Type)] {
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
		_, err := callOperation(ctx, call, r, e.Fields())
		return err
	case "slack":
		res, err := callOperation(ctx, call, r, map[string]any{"channel": r.channel, "text": slackText(e)})
		if err != nil {
			return err
		}
		// Slack's Web API answers 200 with {"ok": false, "error": "channel_not_found"}
		// when it refuses a message.
		var answer struct {
			OK    *bool  `json:"ok"`
			Error string `json:"error"`
		}
		if json.Unmarshal(res.Body, &answer) == nil && answer.OK != nil && !*answer.OK {
			return fmt.Errorf("%s.%s refused the message to %s: %s", r.name, r.operation, r.channel, answer.Error)
		}
		return nil
	}
	return nil
}

func callOperation(ctx context.Context, call integration.Caller, r route, params map[string]any) (*integration.Result, error) {
	res, err := call.Call(ctx, r.name, r.operation, params, integration.CallOptions{})
	if err != nil {
		return nil, err
	}
	if res.Status >= 400 {
		return nil, fmt.Errorf("%s.%s answered %d", r.name, r.operation, res.Status)
	}
	return res, nil
}

// slackText is the message a slack route posts: the event type in bold, then its data
// (Slack's mrkdwn), such as *order.placed* `{"id":"o_1","total":120}`.
func slackText(e event.Event) string {
	return "*" + e.Type + "* `" + string(e.Data) + "`"
}
