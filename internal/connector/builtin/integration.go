package builtin

import (
	"context"
	"fmt"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/transform"
)

// Calls an integration sink makes at once; each message is one call.
const integrationConcurrency = 16

func integrationKind() connector.Kind {
	return connector.Kind{
		Name: "integration",
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			r := s.Reader()
			k := &integrationSink{
				integration: r.String("integration", "", true),
				operation:   r.String("operation", "", true),
			}
			params, _ := r.Tree("params")
			k.rawBody = r.String("body", "", false) == "$"
			if r.Has("body") && !k.rawBody {
				r.Fail("body", `only "$" (the whole message as the raw body) is supported`)
			}
			if err := r.Done(); err != nil {
				return nil, err
			}
			if params == nil {
				params = map[string]any{}
			}
			tmpl, err := transform.CompileTemplate(params)
			if err != nil {
				return nil, fmt.Errorf("%s connector %s: params: %w", s.Connector.Type, s.Connector.Name, err)
			}
			k.params, k.c, k.in = tmpl, s.Connector, s.Env.Internal
			return k, nil
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}

type integrationSink struct {
	c                      *config.Connector
	in                     connector.Internal
	integration, operation string
	params                 *transform.Template
	rawBody                bool
}

func (k *integrationSink) Batching() (int, int) { return 1, integrationConcurrency }

// Write calls the operation once per message. 2xx is success; 429 and 5xx answers and
// Junction's own failures are retried by the flow; any other answer is the message's
// fault, so it is dead-lettered.
func (k *integrationSink) Write(ctx context.Context, msgs []connector.Message) error {
	in, err := internal(k.c, k.in)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		doc, err := transform.Decode(m.Body)
		if err != nil {
			return &connector.MessageError{Index: i, Err: err}
		}
		p, err := k.params.Apply(doc)
		if err != nil {
			return &connector.MessageError{Index: i, Err: fmt.Errorf("params: %w", err)}
		}
		params, _ := p.(map[string]any)
		var body []byte
		if k.rawBody {
			body = m.Body
		}
		status, answer, err := in.CallOperation(ctx, k.integration, k.operation, params, body)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", k.integration, k.operation, err)
		}
		if status < 200 || status > 299 {
			e := fmt.Errorf("%s.%s answered %d: %.200s", k.integration, k.operation, status, answer)
			if status == 429 || status >= 500 {
				return e
			}
			return &connector.MessageError{Index: i, Err: e}
		}
	}
	return nil
}

func (k *integrationSink) Close() error { return nil }
