package config

import "time"

// Workflow is `workflow NAME { … }`: steps run in order, durably, by internal/workflow
// (PRODUCT D7). Two ways of writing it are accepted: CodeAI's (`activity "I.op"`,
// `input { k: "steps.x.output.y" }`, `if "…"`, `parallel { … }`) and seed 001's
// (`input_mapping` / `output_mapping` with `{{input.x}}` and `{{steps.id.field}}`,
// `condition "{{a}} && {{b}} < 0.7"`). The decoder normalises both into this model:
//
//   - Every value of Input, Output, Match and a workflow's Output is a template: a string
//     "{{path}}" alone keeps the type of what path names, a string with "{{path}}" inside
//     text is interpolated, a string starting with "=" is an expr-lang expression, any
//     other value is a literal. CodeAI's bare references ("workflow.input.order_id",
//     "steps.validate_order.output.total") are rewritten to "{{…}}" by the decoder.
//   - Paths start with input (the run's input; workflow.input is the same), steps.<id>
//     (a completed step: its mapped output fields, and .output for its whole result) or,
//     in an output mapping only, output (the step's own result).
//   - Condition is an expr-lang expression over the same names, braces removed.
type Workflow struct {
	Pos         Pos
	Name        string
	Description string
	Triggers    []WorkflowTrigger // none: manual only (API, CLI, handlers, jobs, flows)
	Timeout     time.Duration     // of a whole run, from its creation; 0: none
	Retry       *Retry            // default retry of the steps that call or emit; nil: none
	Steps       []*WorkflowStep
	Output      map[string]any // the run's result; nil: every step's output by step ID
	OutputPos   Pos
}

// WorkflowTrigger is `trigger event "order.created"`, `trigger schedule "0 6 * * *"` or
// `trigger manual`. Event and schedule triggers are also added to Config.Handlers and
// Config.Jobs (Handler.Trigger, Job.Trigger), which run them.
type WorkflowTrigger struct {
	Pos      Pos
	Kind     string // event, schedule or manual
	Event    string // for event
	Schedule string // for schedule: a cron expression
}

// WorkflowStepKind says what a step does.
type WorkflowStepKind string

// The step kinds.
const (
	WorkflowCall      WorkflowStepKind = "call"      // call "Integration.operation" (CodeAI: activity): every policy of the operation applies
	WorkflowEmit      WorkflowStepKind = "emit"      // emit "event.type": publish an event with Input as its data
	WorkflowWait      WorkflowStepKind = "wait"      // wait_for "event.type": until an event whose data matches Match arrives, or Timeout
	WorkflowSleep     WorkflowStepKind = "sleep"     // sleep 5m
	WorkflowTransform WorkflowStepKind = "transform" // transform { k: template … }: its output is the evaluated object
	WorkflowChild     WorkflowStepKind = "workflow"  // workflow "child": start a child run with Input and wait for its result
	WorkflowParallel  WorkflowStepKind = "parallel"  // parallel { a { … } b { … } }: Branches run at once; it completes when all have
	WorkflowPlugin    WorkflowStepKind = "plugin"    // plugin "name.function": the function with Input; its output is the step's result
)

// OnFalse says what a step whose condition is false does.
const (
	OnFalseSkip = "skip" // the step is skipped and the run goes on (the default)
	OnFalseStop = "stop" // the run ends here, as stopped: early termination, not a failure
)

// WorkflowStep is one step of a workflow.
type WorkflowStep struct {
	Pos       Pos
	ID        string // unique in its workflow, parallel branches and compensations included
	Kind      WorkflowStepKind
	Target    string // call: "Integration.operation"; emit and wait: the event type; workflow: the child's name; plugin: "name.function"
	TargetPos Pos
	Input     map[string]any // call: parameters; emit: event data; workflow: the child's input; transform: the result
	Output    map[string]any // output_mapping: fields kept as steps.<id>.<field>; nil keeps the result's fields
	Match     map[string]any // wait: fields the event's data must equal (templates)
	Sleep     time.Duration  // sleep
	// Condition (if / condition) is evaluated before the step; false skips it, or stops
	// the run with OnFalse "stop".
	Condition    string
	ConditionPos Pos
	OnFalse      string
	Timeout      time.Duration // of one attempt (call, emit, child), or how long a wait lasts; 0: the operation's own
	Retry        *Retry        // nil: the workflow's Retry
	// Compensation (on_failure / compensate { … }) undoes this step when a later step
	// fails: compensations of completed steps run in reverse order of completion. Its ID
	// is "undo:" + ID.
	Compensation *WorkflowStep
	Branches     []*WorkflowStep // parallel
}

// Workflow returns the declared workflow with the name, or nil.
func (c *Config) Workflow(name string) *Workflow {
	for _, w := range c.Workflows {
		if w.Name == name {
			return w
		}
	}
	return nil
}
