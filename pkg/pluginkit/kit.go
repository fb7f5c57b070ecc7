package pluginkit

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/junctionhq/junction/pkg/pluginkit/abi"
)

// Func is a plugin function on raw JSON: input is one JSON value, and so must the output
// be. The input is valid only during the call (its buffer takes the next input): copy
// what you keep. In WebAssembly every heap allocation costs about a microsecond, so a
// function on a flow's hot path allocates little: FieldsInto with an array on the
// stack, Object.Raw for values passed through, one Object for the output.
type Func func(input []byte) ([]byte, error)

// registry holds what the plugin registered, in order: a function's index in it is its
// number in calls from Junction.
var registry struct {
	names    []string
	funcs    []Func
	startup  func() error
	shutdown func() error
}

// Register makes fn callable by Junction as name. Call it from an init function; a name
// registered twice panics, since Junction could not tell which one is meant.
func Register(name string, fn Func) {
	if name == "" || fn == nil {
		panic("pluginkit: Register needs a name and a function")
	}
	for _, n := range registry.names {
		if n == name {
			panic(fmt.Sprintf("pluginkit: function %q is registered twice", name))
		}
	}
	registry.names = append(registry.names, name)
	registry.funcs = append(registry.funcs, fn)
}

// Handle registers a function on Go values: the input is decoded from JSON into In
// (an input that does not decode fails the call as permanent), the result encoded
// into JSON.
func Handle[In, Out any](name string, fn func(In) (Out, error)) {
	Register(name, func(input []byte) ([]byte, error) {
		var in In
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, Permanent(fmt.Errorf("input: %w", err))
		}
		out, err := fn(in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

// OnStartup sets the pre_startup hook: it runs once each time Junction loads the plugin,
// before any call; an error stops the load.
func OnStartup(fn func() error) { registry.startup = fn }

// OnShutdown sets the post_shutdown hook: it runs once when Junction unloads the plugin
// (unregistered, replaced, or Junction stopping); an error is logged.
func OnShutdown(fn func() error) { registry.shutdown = fn }

// permanentError marks an error that will happen again with the same input.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that trying again will not mend (invalid input): a flow
// then sends the message to its dead letters at once instead of retrying it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Call runs the registered function name on input in this process, as Junction would:
// for tests of a plugin's functions with go test.
func Call(name string, input []byte) ([]byte, error) {
	for i, n := range registry.names {
		if n == name {
			out, status := call(i, input)
			switch status {
			case abi.StatusOK:
				return out, nil
			case abi.StatusPermanent:
				return nil, Permanent(errors.New(string(out)))
			}
			return nil, errors.New(string(out))
		}
	}
	return nil, fmt.Errorf("pluginkit: no function %q is registered", name)
}

// call runs function i, turning an error or a panic into an error status and message.
func call(i int, input []byte) (out []byte, status uint32) {
	if i < 0 || i >= len(registry.funcs) {
		return []byte(fmt.Sprintf("no function number %d", i)), abi.StatusPermanent
	}
	return guard(func() ([]byte, error) { return registry.funcs[i](input) })
}

// guard runs fn; a panic becomes an error, so the plugin's instance lives on.
func guard(fn func() ([]byte, error)) (out []byte, status uint32) {
	defer func() {
		if p := recover(); p != nil {
			out, status = []byte(fmt.Sprintf("panic: %v", p)), abi.StatusError
		}
	}()
	out, err := fn()
	switch {
	case err == nil:
		if len(out) > abi.MaxLength {
			return []byte(fmt.Sprintf("output of %d bytes is beyond the limit of %d", len(out), abi.MaxLength)), abi.StatusPermanent
		}
		return out, abi.StatusOK
	case IsPermanent(err):
		return []byte(err.Error()), abi.StatusPermanent
	}
	return []byte(err.Error()), abi.StatusError
}
