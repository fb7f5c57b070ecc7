package eventroute

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/webhook"
)

// Publisher publishes webhook events (*webhook.Service).
type Publisher interface {
	Publish(ctx context.Context, in webhook.EventInput) (webhook.PublishResult, error)
}

// Caller calls integration operations (*integration.Runtime).
type Caller interface {
	Call(ctx context.Context, integration, operation string, params map[string]any, co integration.CallOptions) (*integration.Result, error)
}

// callTimeout bounds one routed call.
const callTimeout = 30 * time.Second

type route struct {
	kind, name, operation string
}

// Start subscribes to the bus and routes each configured event; stop unsubscribes.
func Start(bus *event.Bus, cfg *config.Config, pub Publisher, call Caller, log *slog.Logger) (stop func()) {
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
				log.Warn("publish_to: only webhook(\"type\") and integration(\"Name.operation\") are supported; skipped",
					"event", ev.Name, "target", t.Kind+"(\""+t.Name+"\")", "at", t.Pos.String())
			}
		}
	}
	if len(routes) == 0 {
		return func() {}
	}
	return bus.Subscribe(func(e event.Event) bool { return len(routes[e.Type]) > 0 }, func(e event.Event) {
		for _, r := range routes[e.Type] {
			if err := deliver(r, e, pub, call); err != nil {
				log.Error("routing event failed", "event", e.Type, "target", r.kind+"("+r.name+")", "error", err)
			}
		}
	})
}

func deliver(r route, e event.Event, pub Publisher, call Caller) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	switch r.kind {
	case "webhook":
		data, err := json.Marshal(map[string]any{"event": e.Type, "time": e.Time, "payload": e.Data})
		if err != nil {
			return err
		}
		_, err = pub.Publish(ctx, webhook.EventInput{Type: r.name, Data: data})
		return err
	case "integration":
		params := make(map[string]any, len(e.Data))
		for k, v := range e.Data {
			if t, ok := v.(time.Time); ok {
				v = t.Format(time.RFC3339Nano) // parameters are JSON values
			}
			params[k] = v
		}
		res, err := call.Call(ctx, r.name, r.operation, params, integration.CallOptions{})
		if err != nil {
			return err
		}
		if res.Status >= 400 {
			return fmt.Errorf("%s.%s answered %d", r.name, r.operation, res.Status)
		}
	}
	return nil
}
