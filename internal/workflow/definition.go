package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/retry"
)

// definition is a declared workflow compiled for running.
type definition struct {
	cfg    *config.Workflow
	steps  []*step
	byID   map[string]*step // every step, branches and compensations included
	output template         // nil: each step's output by ID
}

// step is one compiled step.
type step struct {
	cfg          *config.WorkflowStep
	integration  string // call
	operation    string
	input        template // nil: none
	output       template // the output mapping; nil: none
	match        template // wait
	cond         *condition
	retry        retry.Policy
	compensation *step
	branches     []*step
}

// DefaultStepRetry is the retry of a call, emit or child step when neither it nor its
// workflow has a `retry`: none beyond the integration's own policies.
var defaultStepRetry = retry.JobDefaults()

// compile compiles every declared workflow. Its errors carry the configuration's
// positions: `junction validate` reports them as it reports the decoder's.
func compile(cfg *config.Config) (map[string]*definition, error) {
	defs := make(map[string]*definition, len(cfg.Workflows))
	var errs []error
	for _, w := range cfg.Workflows {
		d := &definition{cfg: w, byID: map[string]*step{}}
		workflowRetry := defaultStepRetry.With(w.Retry)
		for _, s := range w.Steps {
			st, err := compileStep(d, s, workflowRetry, false)
			errs = append(errs, err)
			d.steps = append(d.steps, st)
		}
		if w.Output != nil {
			t, err := compileTemplate(w.Output)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: workflow %s output: %w", w.OutputPos, w.Name, err))
			}
			d.output = t
		}
		defs[w.Name] = d
	}
	return defs, errors.Join(errs...)
}

// Check compiles cfg's workflows as serve would, for `junction validate`: expressions
// and templates that do not compile are errors with their positions.
func Check(cfg *config.Config) error {
	_, err := compile(cfg)
	return err
}

func compileStep(d *definition, s *config.WorkflowStep, workflowRetry retry.Policy, inParallel bool) (*step, error) {
	st := &step{cfg: s, retry: workflowRetry}
	if s.Retry != nil {
		st.retry = defaultStepRetry.With(s.Retry)
	}
	d.byID[s.ID] = st
	var errs []error
	fail := func(pos config.Pos, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: workflow %s step %s: %s", pos, d.cfg.Name, s.ID, fmt.Sprintf(format, args...)))
	}
	var err error
	if s.Input != nil {
		if st.input, err = compileTemplate(s.Input); err != nil {
			fail(s.Pos, "input: %v", err)
		}
	}
	if s.Output != nil {
		if st.output, err = compileTemplate(s.Output); err != nil {
			fail(s.Pos, "output: %v", err)
		}
	}
	if s.Match != nil {
		if st.match, err = compileTemplate(s.Match); err != nil {
			fail(s.Pos, "match: %v", err)
		}
	}
	if s.Condition != "" {
		if st.cond, err = compileCondition(s.Condition); err != nil {
			fail(s.ConditionPos, "%v", err)
		}
	}
	switch s.Kind {
	case config.WorkflowCall:
		in, op, ok := strings.Cut(s.Target, ".")
		if !ok {
			fail(s.TargetPos, "call %q: expected \"Integration.operation\"", s.Target)
		}
		st.integration, st.operation = in, op
	case config.WorkflowPlugin:
		st.integration, st.operation, _ = strings.Cut(s.Target, ".") // the plugin and its function
	case config.WorkflowSleep, config.WorkflowWait, config.WorkflowChild:
		if inParallel {
			fail(s.Pos, "a parallel branch calls, emits or transforms: put %s steps before or after the parallel block", s.Kind)
		}
	case config.WorkflowParallel:
		for _, b := range s.Branches {
			bs, err := compileStep(d, b, workflowRetry, true)
			errs = append(errs, err)
			st.branches = append(st.branches, bs)
		}
	}
	if s.Compensation != nil {
		c, err := compileStep(d, s.Compensation, st.retry, true)
		errs = append(errs, err)
		st.compensation = c
	}
	return st, errors.Join(errs...)
}

// attemptTimeout bounds one attempt of a step: its own timeout, or DefaultStepTimeout.
func (s *step) attemptTimeout() time.Duration {
	if s.cfg.Timeout > 0 && s.cfg.Kind != config.WorkflowWait {
		return s.cfg.Timeout
	}
	return DefaultStepTimeout
}

// DefaultStepTimeout bounds one attempt of a step without a timeout.
const DefaultStepTimeout = 5 * time.Minute
