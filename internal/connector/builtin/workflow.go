package builtin

import (
	"context"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/transform"
)

// Runs a workflow sink starts at once.
const workflowConcurrency = 16

var workflowSpec = &option.Spec{
	Summary: `Starts a run of a declared workflow for each message, with the message (a JSON
object) as the run's input. The run is stored before the write returns, so an accepted
message is not lost; the run then goes on by itself (GET /workflows/runs/{id}).`,
	Fields: []option.Field{
		{Name: "workflow", Type: option.String, Required: option.Sink, Example: `"verified_payment"`,
			Description: "the declared workflow to run"},
		{Name: "id", Type: option.String, Example: `"$.payment_id"`,
			Description: "the JSONPath of an id in the message: the run's ID is made from it, so a message delivered again does not start a second run.",
			Parse:       option.Convert(transform.CompilePath)},
	},
	Examples: []option.Example{{Role: option.Sink, Title: "run verified_payment per message", Options: `workflow: "verified_payment"
id: "$.payment_id"`}},
}

func workflowKind() connector.Kind {
	return connector.Kind{
		Name: "workflow",
		Spec: workflowSpec,
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			v, err := s.Decode(workflowSpec, option.Sink)
			if err != nil {
				return nil, err
			}
			return &workflowSink{
				c: s.Connector, in: s.Env.Internal,
				workflow: v.String("workflow"), id: option.Get[*transform.Path](v, "id"),
			}, nil
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}

type workflowSink struct {
	c        *config.Connector
	in       connector.Internal
	workflow string
	id       *transform.Path
}

func (w *workflowSink) Batching() (int, int) { return 1, workflowConcurrency }

// Write starts one run per message; a message that is not a JSON object, or that the
// workflow refuses, is the message's fault (dead-lettered, not retried).
func (w *workflowSink) Write(ctx context.Context, msgs []connector.Message) error {
	in, err := internal(w.c, w.in)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		id, err := messageID(w.id, m.Body)
		if err != nil {
			return &connector.MessageError{Index: i, Err: err}
		}
		if err := in.StartWorkflow(ctx, w.workflow, id, m.Body); err != nil {
			return err
		}
	}
	return nil
}

func (w *workflowSink) Close() error { return nil }
