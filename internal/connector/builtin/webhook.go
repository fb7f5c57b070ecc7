package builtin

import (
	"context"
	"fmt"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/transform"
)

// Events a webhook sink publishes at once.
const webhookConcurrency = 16

var webhookSpec = &option.Spec{
	Summary: `Publishes each message as a webhook event to Junction's own fan-out: every endpoint
subscribed to the event type receives it, signed and retried. The event is stored with its
deliveries before the write returns, so an accepted message is not lost.`,
	Fields: []option.Field{
		{Name: "event_type", Type: option.String, Required: option.Sink, Example: `"order.created"`,
			Description: "the event type to publish"},
		{Name: "id", Type: option.String, Example: `"$.id"`,
			Description: "the JSONPath of the event's id in the message, so a message delivered again does not make a second event.",
			Parse:       option.Convert(transform.CompilePath)},
	},
	Examples: []option.Example{{Role: option.Sink, Title: "publish order.created", Options: `event_type: "order.created"
id: "$.id"`}},
}

func webhookKind() connector.Kind {
	return connector.Kind{
		Name: "webhook",
		Spec: webhookSpec,
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			v, err := s.Decode(webhookSpec, option.Sink)
			if err != nil {
				return nil, err
			}
			return &webhookSink{
				c: s.Connector, in: s.Env.Internal,
				eventType: v.String("event_type"), id: option.Get[*transform.Path](v, "id"),
			}, nil
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
		id, err := messageID(w.id, m.Body)
		if err != nil {
			return &connector.MessageError{Index: i, Err: err}
		}
		if err := in.PublishEvent(ctx, id, w.eventType, m.Body); err != nil {
			return err
		}
	}
	return nil
}

func (w *webhookSink) Close() error { return nil }

// messageID is the value at path in a message (its id, for sinks that make the write
// idempotent with it), or "" without a path or a value there; a body that is not JSON is
// an error.
func messageID(path *transform.Path, body []byte) (string, error) {
	if path == nil {
		return "", nil
	}
	doc, err := transform.Decode(body)
	if err != nil {
		return "", err
	}
	if v, ok := path.First(doc); ok && v != nil {
		return fmt.Sprint(v), nil
	}
	return "", nil
}
