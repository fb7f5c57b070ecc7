package workflow

import (
	"context"
	"encoding/json"
	"errors"

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
