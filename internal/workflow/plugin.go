package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/plugin"
)

// Plugins calls plugin functions (*plugin.Manager).
type Plugins interface {
	Call(ctx context.Context, plugin, function string, input []byte) ([]byte, error)
}

// plugin runs the step's plugin function with the step's input; its output is the
// step's result. A failure the plugin marked permanent is not retried.
func (r *runner) plugin(ctx context.Context, s *step, input any) (any, error) {
	if r.e.o.Plugins == nil {
		return nil, permanent("plugins are not available here")
	}
	in, err := json.Marshal(input)
	if err != nil {
		return nil, permanent("input: %v", err)
	}
	out, err := r.e.o.Plugins.Call(ctx, s.integration, s.operation, in)
	if err != nil {
		if plugin.IsPermanent(err) {
			return nil, &permanentError{err}
		}
		return nil, err
	}
	v, err := decodeJSON(out)
	if err != nil {
		return nil, &permanentError{errors.New("the plugin's output is not JSON: " + err.Error())}
	}
	return v, nil
}

// pluginFunctions makes the environment entry of the plugin functions the workflows'
// templates and conditions call: {NAME: {FUNCTION: func}}. The argument (a list of them
// when there are several) goes in as JSON; each call is bounded by the plugin's own time
// limit.
func pluginFunctions(cfg *config.Config, plugins Plugins) map[string]any {
	var out map[string]any
	for _, ref := range cfg.PluginRefs() {
		if !strings.HasPrefix(ref.What, "workflow ") {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		ns, _ := out[ref.Plugin].(map[string]any)
		if ns == nil {
			ns = map[string]any{}
			out[ref.Plugin] = ns
		}
		name, function := ref.Plugin, ref.Function
		ns[function] = func(args ...any) (any, error) {
			if plugins == nil {
				return nil, errors.New("plugins are not available here")
			}
			var arg any = args
			if len(args) == 1 {
				arg = args[0]
			}
			in, err := json.Marshal(arg)
			if err != nil {
				return nil, err
			}
			out, err := plugins.Call(context.Background(), name, function, in)
			if err != nil {
				return nil, err
			}
			return decodeJSON(out)
		}
	}
	return out
}
