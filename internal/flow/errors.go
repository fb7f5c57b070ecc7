package flow

import (
	"errors"
	"fmt"
)

// StepError is a message's failure in one step (or sink), with the step's name: what the
// dead-letter queue, the flow's logs and its last error show.
type StepError struct {
	Step string // the step's name, "decode", or "sink NAME"
	Err  error
	// Permanent failures (invalid JSON, a schema violation, a 4xx answer) go to the
	// dead-letter queue without retries: the same input fails the same way again.
	Permanent bool
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

func permanent(step string, err error) *StepError {
	return &StepError{Step: step, Err: err, Permanent: true}
}

func transient(step string, err error) *StepError {
	return &StepError{Step: step, Err: err}
}

// StartError is a flow that could not start: it is misconfigured, or one of its sinks
// could not be opened. The flow stays stopped, and its status shows why; starting it
// again may work once the sink's system is back.
type StartError struct {
	Flow string
	Err  error // says which flow and why
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Errors callers branch on.
var (
	ErrNotFound = errors.New("flow: not found")
	ErrStopped  = errors.New("flow: not running")
)
