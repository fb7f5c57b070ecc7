package builtin

import (
	"context"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

var eventsSpec = &option.Spec{
	Summary: `Junction's internal events as a source: inbound webhooks, POST /events, circuit events.
The message is the event's data, with the header event_type. Events are not stored for flows:
one that arrives while the flow is stopped is not seen by it. In a cluster the flow runs on
every node and each receives the events published on its own node (POST /events and inbound
webhooks it answered, its own circuit events), so an event is processed once, where it
arrived.`,
	Fields: []option.Field{
		{Name: "events", Type: option.Strings, Default: []string{"*"}, Example: `["order.*"]`,
			Description: "patterns of the event types to receive, such as order.* (* is every event)."},
	},
	Examples: []option.Example{{Role: option.Source, Title: "order events", Options: `events: ["order.*", "refund.created"]`}},
}

func eventsKind() connector.Kind {
	return connector.Kind{
		Name: "events",
		Spec: eventsSpec,
		NewSource: func(s connector.Settings) (connector.Source, error) {
			v, err := s.Decode(eventsSpec, option.Source)
			if err != nil {
				return nil, err
			}
			patterns := v.Strings("events")
			if len(patterns) == 0 {
				patterns = []string{"*"}
			}
			return &eventsSource{c: s.Connector, in: s.Env.Internal, patterns: patterns}, nil
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}

type eventsSource struct {
	pushSource
	c        *config.Connector
	in       connector.Internal
	patterns []string
}

func (e *eventsSource) Open(ctx context.Context, _ int) (<-chan connector.Delivery, error) {
	in, err := internal(e.c, e.in)
	if err != nil {
		return nil, err
	}
	ch := e.open(ctx)
	var unsubscribe []func()
	for _, pattern := range e.patterns {
		unsubscribe = append(unsubscribe, in.Subscribe(pattern, func(eventType string, data []byte) {
			d := connector.Delivery{
				Message: connector.Message{Body: data, Headers: map[string]string{"event_type": eventType}},
				ID:      "event:" + eventType, Ack: noop, Nack: noop,
			}
			e.push(ctx, d)
		}))
	}
	e.mu.Lock()
	e.stop = func() {
		for _, u := range unsubscribe {
			u()
		}
	}
	e.mu.Unlock()
	return ch, nil
}
