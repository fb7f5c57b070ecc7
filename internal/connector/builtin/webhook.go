package builtin

import (
	"context"
	"fmt"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/transform"
)

// Events a webhook sink publishes at once.
const webhookConcurrency = 16

func webhookKind() connector.Kind {
	return connector.Kind{
		Name: "webhook",
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			r := s.Reader()
			w := &webhookSink{eventType: r.String("event_type", "", true)}
			idPath := r.String("id", "", false)
			if err := r.Done(); err != nil {
				return nil, err
			}
			if idPath != "" {
				p, err := transform.CompilePath(idPath)
				if err != nil {
					return nil, fmt.Errorf("webhook connector %s: id: %w", s.Connector.Name, err)
				}
				w.id = p
			}
			w.c, w.in = s.Connector, s.Env.Internal
			return w, nil
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}

type webhookSink struct {
	c         *config.Connector
	in        connector.Internal
	eventType string
	id        *transform.Path
}

func (w *webhookSink) Batching() (int, int) { return 1, webhookConcurrency }

// Write publishes each message as an event; Junction stores it with its deliveries
// before Publish returns, so an accepted message is not lost.
func (w *webhookSink) Write(ctx context.Context, msgs []connector.Message) error {
	in, err := internal(w.c, w.in)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		id := ""
		if w.id != nil {
			doc, err := transform.Decode(m.Body)
			if err != nil {
				return &connector.MessageError{Index: i, Err: err}
			}
			if v, ok := w.id.First(doc); ok && v != nil {
				id = fmt.Sprint(v)
			}
		}
		if err := in.PublishEvent(ctx, id, w.eventType, m.Body); err != nil {
			return err
		}
	}
	return nil
}

func (w *webhookSink) Close() error { return nil }
