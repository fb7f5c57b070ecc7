package builtin

import (
	"context"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
)

func eventsKind() connector.Kind {
	return connector.Kind{
		Name: "events",
		NewSource: func(s connector.Settings) (connector.Source, error) {
			r := s.Reader()
			patterns := r.Strings("events")
			if err := r.Done(); err != nil {
				return nil, err
			}
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
