package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/transform"
)

// pluginStep: the message, as JSON, goes through the plugin function, whose output is
// the new message. A failure the plugin marked permanent (invalid input) sends the
// message to the dead letters at once; any other (a trap, a time-out, an out-of-memory,
// a plugin not registered yet) is retried with the flow's on_error policy, then
// dead-lettered, so a message is never lost to a plugin.
//
// A plugin step reads and writes JSON, so the flow spares it what it would not use: as
// the first step it gets the message's bytes as they came (rawDecode; the plugin sees
// invalid JSON as its input error), and as the last step its output goes to the sinks
// as it is, once checked to be JSON.
func pluginStep(s *config.Step, plugins Plugins, last bool) func(context.Context, item) ([]item, *StepError) {
	return func(ctx context.Context, it item) ([]item, *StepError) {
		if plugins == nil {
			return nil, transient(s.Name, errors.New("plugins are not available here"))
		}
		in, err := encode(it.doc)
		if err != nil {
			return nil, permanent(s.Name, err)
		}
		out, err := plugins.Call(ctx, s.Plugin, s.Function, in)
		if err != nil {
			if plugin.IsPermanent(err) {
				return nil, permanent(s.Name, err)
			}
			return nil, transient(s.Name, err)
		}
		notJSON := func(err error) ([]item, *StepError) {
			return nil, permanent(s.Name, fmt.Errorf("plugin %s.%s answered with output that is not JSON: %w", s.Plugin, s.Function, err))
		}
		if last {
			if !json.Valid(out) {
				return notJSON(errors.New("invalid JSON"))
			}
			it.doc = rawJSON(out)
			return []item{it}, nil
		}
		doc, err := transform.Decode(out)
		if err != nil {
			return notJSON(err)
		}
		it.doc = doc
		return []item{it}, nil
	}
}

// rawJSON is a message kept as its JSON bytes between a plugin step and the source or
// the sinks; no other step ever sees one.
type rawJSON []byte

func rawDecode(b []byte) (any, error) { return rawJSON(b), nil }

// encode is a message's JSON.
func encode(doc any) ([]byte, error) {
	if r, ok := doc.(rawJSON); ok {
		return r, nil
	}
	return transform.Encode(doc)
}

// pluginFunctions gives mapping expressions the plugin functions
// (plugin.NAME.FUNCTION(x)): each call is bounded by the plugin's own time limit.
type pluginFunctions struct{ plugins Plugins }

func (f pluginFunctions) Call(plugin, function string, input []byte) ([]byte, error) {
	if f.plugins == nil {
		return nil, errors.New("plugins are not available here")
	}
	return f.plugins.Call(context.Background(), plugin, function, input)
}
