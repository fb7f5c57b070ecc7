package config

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// workflowStepKinds are the settings that say what a step does: a step has exactly one.
// activity is CodeAI's word for call.
var workflowStepKinds = map[string]WorkflowStepKind{
	"call": WorkflowCall, "activity": WorkflowCall, "emit": WorkflowEmit, "wait_for": WorkflowWait,
	"sleep": WorkflowSleep, "transform": WorkflowTransform, "workflow": WorkflowChild, "parallel": WorkflowParallel,
	"plugin": WorkflowPlugin,
}

// stepSettingKinds are the kinds of step each optional setting goes with.
var stepSettingKinds = map[string][]WorkflowStepKind{
	"input":          {WorkflowCall, WorkflowEmit, WorkflowChild, WorkflowPlugin},
	"input_mapping":  {WorkflowCall, WorkflowEmit, WorkflowChild, WorkflowPlugin},
	"data":           {WorkflowEmit},
	"match":          {WorkflowWait},
	"output":         {WorkflowCall, WorkflowEmit, WorkflowWait, WorkflowTransform, WorkflowChild, WorkflowPlugin},
	"output_mapping": {WorkflowCall, WorkflowEmit, WorkflowWait, WorkflowTransform, WorkflowChild, WorkflowPlugin},
	"timeout":        {WorkflowCall, WorkflowEmit, WorkflowWait, WorkflowChild, WorkflowPlugin},
	"retry":          {WorkflowCall, WorkflowEmit, WorkflowChild, WorkflowPlugin},
	"retry_delays":   {WorkflowCall, WorkflowEmit, WorkflowChild, WorkflowPlugin},
	"on_failure":     {WorkflowCall, WorkflowEmit, WorkflowWait, WorkflowSleep, WorkflowTransform, WorkflowChild, WorkflowPlugin},
	"compensate":     {WorkflowCall, WorkflowEmit, WorkflowWait, WorkflowSleep, WorkflowTransform, WorkflowChild, WorkflowPlugin},
}

// stepSynonyms are the other names of step settings: seed 001's input_mapping and
// output_mapping and condition, CodeAI's activity and compensate, and an event's data.
var stepSynonyms = map[string]string{
	"input_mapping": "input", "data": "input", "output_mapping": "output", "condition": "if",
	"activity": "call", "compensate": "on_failure",
}

// workflowActions are the settings of CodeAI's steps that run code of a generated
// application (action: update(…), for_each over its data, check on its entities): a
// workflow with one is CodeAI's code generation, reported and never run.
var workflowActions = []string{"action", "for_each", "check"}

// stepID is what a step ID may be: it is written in references (steps.<id>.field) and
// in conditions, which read it as an identifier.
var stepID = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// workflowDecoding gathers what one workflow's steps say until all of them are read: a
// bare reference ("steps.x.output.y") is one only when x is a step of the workflow, and
// it must name a step that runs before, so templates and conditions are kept here with
// their positions, then normalised and checked by finish (workflow_refs.go).
type workflowDecoding struct {
	d         *decoder
	w         *Workflow
	ids       map[string]Pos // every step ID: steps, branches, parallel blocks, compensations
	parallels int            // parallel blocks so far, for their generated IDs
	done      []string       // the steps that complete before the next top-level step
	texts     []*templateText
	events    map[string]Pos // trigger events, by EventKey
	schedule  Pos            // the schedule trigger, if any
}

// workflow decodes `workflow NAME { … }` into the model of model_workflow.go. A CodeAI
// workflow whose steps run actions of its generated application is returned as Ignored.
// One whose activities name no declared integration is told apart later, when every
// file's integrations are known (setAsideGeneratedWorkflows).
func (d *decoder) workflow(pos Pos, name string, body []*Entry) (*Workflow, *Ignored) {
	if hasWorkflowActions(body) {
		return nil, &Ignored{Pos: pos, Kind: "workflow actions", Name: name, Reason: codeGeneration["workflow actions"].reason}
	}
	w := &Workflow{Pos: pos, Name: name}
	wd := &workflowDecoding{d: d, w: w, ids: map[string]Pos{}, events: map[string]Pos{}}
	retry := d.retryGroup()
	stepsGiven := false
	d.block("workflow "+name, body, retry.settings(map[string]setting{
		"description": func(e *Entry) { w.Description, _ = d.str(e) },
		"trigger":     wd.trigger,
		"timeout":     func(e *Entry) { w.Timeout, _ = d.positiveDuration(e) },
		"steps":       func(e *Entry) { stepsGiven = true; wd.steps(e) },
		"output": func(e *Entry) {
			w.OutputPos = e.KeyPos
			w.Output = wd.templates(e, "workflow "+name+" output", refScope{all: true})
		},
	}))
	w.Retry = retry.retry()
	if !stepsGiven {
		d.rep.errorf(pos, "workflow %s: missing steps { ID { call \"Integration.operation\" … } … }", name)
	}
	wd.finish()
	return w, nil
}

// hasWorkflowActions reports whether a step of the workflow body runs an action of a
// generated application.
func hasWorkflowActions(body []*Entry) bool {
	for _, e := range body {
		if e.Key != "steps" {
			continue
		}
		o, _ := e.Value.Single().(*Object)
		for _, step := range objectEntries(o) {
			stepBody, _ := step.Value.Single().(*Object)
			for _, s := range objectEntries(stepBody) {
				if slices.Contains(workflowActions, s.Key) {
					return true
				}
			}
		}
	}
	return false
}

func objectEntries(o *Object) []*Entry {
	if o == nil {
		return nil
	}
	return o.Entries
}

// trigger reads `trigger event "order.created"`, `trigger schedule "0 6 * * *"`,
// `trigger manual`, CodeAI's `trigger: OrderPlaced` (an event), or a list of them (YAML
// has one trigger key per workflow).
func (wd *workflowDecoding) trigger(e *Entry) {
	if l, ok := wd.d.words(e.Value).Single().(*List); ok {
		for _, it := range l.Items {
			wd.triggerOf(it.Pos, it)
		}
		return
	}
	wd.triggerOf(e.KeyPos, e.Value)
}

func (wd *workflowDecoding) triggerOf(at Pos, ph *Phrase) {
	const form = `event "type", schedule "cron expression" or manual`
	ws := wd.d.words(ph).Words
	t := WorkflowTrigger{Pos: at}
	switch {
	case len(ws) == 1 && isWord(ws[0], "manual"):
		t.Kind = "manual"
	case len(ws) == 2 && isWord(ws[0], "event"), len(ws) == 1 && !isWord(ws[0], "event") && !isWord(ws[0], "schedule"):
		n := ws[len(ws)-1]
		switch v := n.(type) {
		case *String:
			t.Event = v.Value
		case *Ident:
			t.Event = v.Name
		}
		if t.Event == "" {
			wd.d.rep.errorf(n.Position(), "trigger event: expected the event type as a string, found %s", Text(n))
			return
		}
		key := EventKey(t.Event)
		if first, dup := wd.events[key]; dup {
			wd.d.rep.errorf(at, "workflow %s: trigger event %q is given twice (first at line %d)", wd.w.Name, t.Event, first.Line)
			return
		}
		wd.events[key] = at
		t.Kind = "event"
	case len(ws) == 2 && isWord(ws[0], "schedule"):
		s, ok := ws[1].(*String)
		if !ok {
			wd.d.rep.errorf(ws[1].Position(), `trigger schedule: expected a cron expression such as "0 6 * * *", found %s`, Text(ws[1]))
			return
		}
		if _, err := CronParser.Parse(s.Value); err != nil {
			wd.d.rep.errorf(s.P, "trigger schedule: invalid cron expression %q: %v", s.Value, err)
			return
		}
		if wd.schedule.Line > 0 {
			wd.d.rep.errorf(at, "workflow %s: one schedule trigger per workflow (first at line %d); one cron expression can name several times", wd.w.Name, wd.schedule.Line)
			return
		}
		wd.schedule = at
		t.Kind, t.Schedule = "schedule", s.Value
	default:
		found := "nothing"
		if len(ws) > 0 {
			found = truncate(wordsText(ws), 50)
		}
		wd.d.rep.errorf(at, "trigger: expected %s, found %s", form, found)
		return
	}
	wd.w.Triggers = append(wd.w.Triggers, t)
}

// steps reads the steps block: `ID { … }` entries in the order they run, and unnamed
// `parallel { a { … } b { … } }` blocks, whose ID is parallel_N.
func (wd *workflowDecoding) steps(e *Entry) {
	o, ok := wd.d.words(e.Value).Single().(*Object)
	if !ok {
		wd.d.expect(e, "a block of steps { ID { … } … }")
		return
	}
	if len(o.Entries) == 0 {
		wd.d.rep.errorf(e.KeyPos, "workflow %s: steps is empty", wd.w.Name)
	}
	for _, se := range o.Entries {
		var st *WorkflowStep
		if se.Key == "parallel" && !se.Quoted {
			st = &WorkflowStep{Pos: se.KeyPos, ID: wd.parallelID(), Kind: WorkflowParallel}
			wd.declare(st.ID, st.Pos)
			st.Branches = wd.branches(se, wd.done)
		} else {
			st = wd.step(se, slices.Clone(wd.done), false)
		}
		if st == nil {
			continue
		}
		wd.w.Steps = append(wd.w.Steps, st)
		wd.done = append(wd.done, st.ID)
		for _, b := range st.Branches {
			wd.done = append(wd.done, b.ID)
		}
	}
}

func (wd *workflowDecoding) parallelID() string {
	wd.parallels++
	return fmt.Sprintf("parallel_%d", wd.parallels)
}

// branches reads the body of parallel { … }: one step per entry, each seeing the steps
// before the parallel block, not its siblings.
func (wd *workflowDecoding) branches(e *Entry, before []string) []*WorkflowStep {
	o, ok := wd.d.words(e.Value).Single().(*Object)
	if !ok {
		wd.d.expect(e, "a block of branches { ID { … } … }")
		return nil
	}
	if len(o.Entries) == 0 {
		wd.d.rep.errorf(e.KeyPos, "workflow %s: parallel has no branches", wd.w.Name)
	}
	var out []*WorkflowStep
	for _, be := range o.Entries {
		if be.Key == "parallel" && !be.Quoted {
			wd.d.rep.errorf(be.KeyPos, "workflow %s: parallel blocks do not nest: write the branches in one parallel block", wd.w.Name)
			continue
		}
		if st := wd.step(be, slices.Clone(before), true); st != nil {
			out = append(out, st)
		}
	}
	return out
}

// declare records a step ID, reporting one used twice.
func (wd *workflowDecoding) declare(id string, at Pos) {
	if first, dup := wd.ids[id]; dup {
		wd.d.rep.errorf(at, "workflow %s: step ID %s is used twice (first at line %d)", wd.w.Name, id, first.Line)
		return
	}
	wd.ids[id] = at
}

// step reads `ID { … }`. before are the steps that complete before it runs.
func (wd *workflowDecoding) step(e *Entry, before []string, branch bool) *WorkflowStep {
	id := e.Key
	o, isBlock := e.Value.Single().(*Object)
	switch {
	case e.Quoted || !stepID.MatchString(id):
		wd.d.rep.errorf(e.KeyPos, "workflow %s: step ID %q: expected letters, digits and _ (step IDs are written in references: steps.<id>.field)", wd.w.Name, id)
		return nil
	case !isBlock:
		wd.d.rep.errorf(e.KeyPos, "workflow %s: expected step %s { … } (or parallel { … }), found %s %s", wd.w.Name, id, id, truncate(phraseText(e.Value), 40))
		return nil
	}
	wd.declare(id, e.KeyPos)
	return wd.stepBody(id, e.KeyPos, o.Entries, before, branch, false)
}

// stepBody decodes the settings of a step, or of a compensation (on_failure { … }).
func (wd *workflowDecoding) stepBody(id string, pos Pos, body []*Entry, before []string, branch, compensation bool) *WorkflowStep {
	d := wd.d
	st := &WorkflowStep{Pos: pos, ID: id}
	what := fmt.Sprintf("workflow %s step %s", wd.w.Name, id)
	scope := refScope{steps: before}
	var kinds []*Entry
	given := map[string]*Entry{}
	kind := func(read setting) setting {
		return func(e *Entry) {
			if kinds = append(kinds, e); len(kinds) == 1 {
				st.Kind = workflowStepKinds[e.Key]
				read(e)
			}
		}
	}
	target := func(e *Entry) {
		if s, ok := d.str(e); ok {
			st.Target, st.TargetPos = s, e.Value.Words[0].Position()
		}
	}
	retry := d.retryGroup()
	settings := retry.settings(map[string]setting{
		"call":     kind(target),
		"activity": kind(target),
		"emit":     kind(target),
		"wait_for": kind(target),
		"workflow": kind(target),
		"plugin": kind(func(e *Entry) {
			target(e)
			if st.Target != "" && !validPluginRef(st.Target) {
				d.rep.errorf(e.KeyPos, `%s: plugin: expected "plugin.function", found %q`, what, st.Target)
			}
		}),
		"sleep":     kind(func(e *Entry) { st.Sleep, _ = d.positiveDuration(e) }),
		"transform": kind(func(e *Entry) { st.Input = wd.templates(e, what+" transform", scope) }),
		"parallel": kind(func(e *Entry) {
			if branch || compensation {
				d.rep.errorf(e.KeyPos, "%s: parallel blocks do not nest: a branch or compensation is one step", what)
				return
			}
			st.Branches = wd.branches(e, before)
		}),
		"input":          func(e *Entry) { st.Input = wd.templates(e, what+" "+e.Key, scope) },
		"input_mapping":  func(e *Entry) { st.Input = wd.templates(e, what+" "+e.Key, scope) },
		"data":           func(e *Entry) { st.Input = wd.templates(e, what+" data", scope) },
		"output":         func(e *Entry) { st.Output = wd.templates(e, what+" "+e.Key, refScope{steps: before, output: true}) },
		"output_mapping": func(e *Entry) { st.Output = wd.templates(e, what+" "+e.Key, refScope{steps: before, output: true}) },
		"match":          func(e *Entry) { st.Match = wd.templates(e, what+" match", scope) },
		"if":             func(e *Entry) { wd.condition(st, e, what, scope) },
		"condition":      func(e *Entry) { wd.condition(st, e, what, scope) },
		"on_false": func(e *Entry) {
			v, ok := d.name(e, "skip or stop")
			switch {
			case !ok:
			case v == OnFalseSkip || v == OnFalseStop:
				st.OnFalse = v
			default:
				d.expect(e, "skip or stop")
			}
		},
		"timeout":    func(e *Entry) { st.Timeout, _ = d.positiveDuration(e) },
		"on_failure": func(e *Entry) { st.Compensation = wd.compensation(e, id, before, compensation) },
		"compensate": func(e *Entry) { st.Compensation = wd.compensation(e, id, before, compensation) },
	})
	// given records each setting under one name, so that two names of one are reported.
	for k, s := range settings {
		settings[k] = func(e *Entry) {
			name := cmp.Or(stepSynonyms[k], k)
			if first := given[name]; first != nil && first.Key != e.Key {
				d.rep.errorf(e.KeyPos, "%s: %s and %s are the same setting (first at line %d); give one", what, e.Key, first.Key, first.KeyPos.Line)
				return
			}
			given[name] = e
			s(e)
		}
	}
	d.block("step "+id+" of workflow "+wd.w.Name, body, settings)
	st.Retry = retry.retry()
	switch len(kinds) {
	case 0:
		d.rep.errorf(pos, `%s: missing what it does: call "Integration.operation", emit "event.type", wait_for "event.type", sleep DURATION, transform { … }, workflow "name", plugin "name.function" or parallel { … }`, what)
		return st
	case 1:
	default:
		d.rep.errorf(kinds[1].KeyPos, "%s: %s and %s: a step does one thing (first at line %d)", what, kinds[1].Key, kinds[0].Key, kinds[0].KeyPos.Line)
	}
	for _, name := range slices.Sorted(maps.Keys(given)) {
		e := given[name]
		if kinds, limited := stepSettingKinds[e.Key]; limited && !slices.Contains(kinds, st.Kind) {
			d.rep.errorf(e.KeyPos, "%s: %s does not go with %s (it goes with %s)", what, e.Key, stepKindText(st.Kind), kindsText(kinds))
		}
	}
	if st.Kind == WorkflowWait && st.Timeout == 0 && given["timeout"] == nil {
		d.rep.errorf(kinds[0].KeyPos, "%s: wait_for needs a timeout: how long to wait for the event (such as timeout 24h)", what)
	}
	if at := given["on_false"]; at != nil && given["if"] == nil {
		d.rep.errorf(at.KeyPos, "%s: on_false goes with if \"condition\"", what)
	}
	if st.Condition != "" && st.OnFalse == "" {
		st.OnFalse = OnFalseSkip
	}
	return st
}

// compensation reads on_failure { … } / compensate { … }: one step that undoes the step
// id, seeing what the step saw and the step's own result.
func (wd *workflowDecoding) compensation(e *Entry, id string, before []string, nested bool) *WorkflowStep {
	what := fmt.Sprintf("workflow %s step %s", wd.w.Name, id)
	if nested {
		wd.d.rep.errorf(e.KeyPos, "%s: a compensation has no compensation of its own", what)
		return nil
	}
	o, ok := wd.d.words(e.Value).Single().(*Object)
	if !ok {
		wd.d.expect(e, `a step { call "Integration.operation" … } that undoes this one`)
		return nil
	}
	undo := "undo:" + id
	wd.declare(undo, e.KeyPos)
	return wd.stepBody(undo, e.KeyPos, o.Entries, append(slices.Clone(before), id), false, true)
}

func stepKindText(k WorkflowStepKind) string {
	switch k {
	case WorkflowCall:
		return "call"
	case WorkflowWait:
		return "wait_for"
	case WorkflowChild:
		return "workflow"
	}
	return string(k)
}

func kindsText(ks []WorkflowStepKind) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = stepKindText(k)
	}
	return strings.Join(out, ", ")
}

// templates reads an object of templates (input, output, match, data, transform): a
// literal tree whose strings are kept, with their positions, for finish.
func (wd *workflowDecoding) templates(e *Entry, what string, scope refScope) map[string]any {
	o, ok := wd.d.words(e.Value).Single().(*Object)
	if !ok {
		wd.d.expect(e, "an object { key: value … }")
		return nil
	}
	v, ok := wd.d.jsonValue(e.Key, o)
	if !ok {
		return nil
	}
	m := v.(map[string]any)
	wd.collect(o, m, what, "", scope, nil)
	return m
}

// collect walks a decoded tree beside the syntax it came from and records each string
// leaf, with how to write it back once normalised.
func (wd *workflowDecoding) collect(n Node, v any, what, at string, scope refScope, set func(any)) {
	switch n := n.(type) {
	case *Object:
		m := v.(map[string]any)
		for _, e := range n.Entries {
			key := e.Key
			wd.collect(e.Value.Single(), m[key], what, joinKey(at, key), scope, func(x any) { m[key] = x })
		}
	case *List:
		l := v.([]any)
		for i, it := range n.Items {
			wd.collect(it.Single(), l[i], what, fmt.Sprintf("%s[%d]", at, i), scope, func(x any) { l[i] = x })
		}
	case *String:
		wd.texts = append(wd.texts, &templateText{
			at: n.P, what: joinKey(what, at), value: n.Value, scope: scope,
			set: func(s string) { set(s) },
		})
	}
}

func joinKey(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || strings.HasPrefix(b, "["):
		return a + b
	}
	return a + "." + b
}

// condition reads if "…" / condition "…".
func (wd *workflowDecoding) condition(st *WorkflowStep, e *Entry, what string, scope refScope) {
	s, ok := e.Value.Single().(*String)
	if !ok {
		wd.d.expect(e, `a condition as a string, such as "steps.check.output.ok == true"`)
		return
	}
	if strings.TrimSpace(s.Value) == "" {
		wd.d.rep.errorf(s.P, "%s: %s: the condition is empty", what, e.Key)
		return
	}
	st.Condition, st.ConditionPos = s.Value, s.P
	wd.texts = append(wd.texts, &templateText{
		at: s.P, what: what + " " + e.Key, value: s.Value, scope: scope, condition: true,
		set: func(v string) { st.Condition = v },
	})
}

// addWorkflowTriggers makes the handlers and jobs that run a workflow's event and
// schedule triggers.
func addWorkflowTriggers(cfg *Config, w *Workflow) {
	for _, t := range w.Triggers {
		switch t.Kind {
		case "event":
			cfg.Handlers = append(cfg.Handlers, &Handler{Pos: t.Pos, Event: t.Event, EventPos: t.Pos, Action: "workflow", Target: w.Name, TargetPos: t.Pos, Trigger: true})
		case "schedule":
			cfg.Jobs = append(cfg.Jobs, &Job{Pos: t.Pos, Name: "workflow:" + w.Name, Schedule: t.Schedule, Workflow: w.Name, Trigger: true, CatchUp: CatchUpLatest})
		}
	}
}
