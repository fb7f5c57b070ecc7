package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/transform"
)

// Calls an integration sink makes at once; each message is one call.
const integrationConcurrency = 16

var integrationSpec = &option.Spec{
	Summary: `Calls an integration operation for each message, with every policy of the integration
(retries, breaker, rate limit …): this is also how flows write to HTTP APIs and S3-compatible
storage. A 2xx answer is success; 429 and 5xx answers and Junction's own failures are retried
by the flow; any other answer is the message's fault, so it goes to the dead-letter queue.`,
	Fields: []option.Field{
		{Name: "integration", Type: option.String, Required: option.Sink, Example: "CustomerService",
			Description: "the integration to call"},
		{Name: "operation", Type: option.String, Required: option.Sink, Example: "create_customer",
			Description: "the operation to call"},
		{Name: "params", Type: option.Any, Example: `{ id: "$.customer.id", email: "$.email" }`,
			Description: `the operation's parameters, { name: "$.path" or a literal }: a mapping template applied to each message.`,
			Parse: func(v any) (any, error) {
				return transform.CompileTemplate(config.Tree(v))
			}},
		{Name: "body", Type: option.String, Example: `"$"`,
			Description: `"$" sends the whole message as the raw body of a body_type: binary operation (an S3 put).`,
			Parse: option.Check(func(b string) error {
				if b != "$" {
					return errors.New(`only "$" (the whole message as the raw body) is supported`)
				}
				return nil
			})},
	},
	Examples: []option.Example{{Role: option.Sink, Title: "create a customer per message", Options: `integration: "CustomerService"
operation: "create_customer"
params: { email: "$.email", name: "$.name" }`}},
}

// emptyParams is the template of a sink without params: no parameters.
var emptyParams, _ = transform.CompileTemplate(map[string]any{})

func integrationKind() connector.Kind {
	return connector.Kind{
		Name: "integration",
		Spec: integrationSpec,
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			v, err := s.Decode(integrationSpec, option.Sink)
			if err != nil {
				return nil, err
			}
			k := &integrationSink{
				c: s.Connector, in: s.Env.Internal,
				integration: v.String("integration"), operation: v.String("operation"),
				params: option.Get[*transform.Template](v, "params"), rawBody: v.Has("body"),
			}
			if k.params == nil {
				k.params = emptyParams
			}
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
