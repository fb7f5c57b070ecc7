package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// What a workflow's templates and conditions may refer to (model_workflow.go): input (or
// workflow.input), workflow.id, steps.<id> of a step that completed before, and output in
// an output mapping. CodeAI's bare references ("workflow.input.order_id") become
// templates ("{{workflow.input.order_id}}"), seed 001's conditions lose their braces.

// refScope is what a template or condition may refer to.
type refScope struct {
	steps  []string // steps.<id>: the steps that complete before it runs
	all    bool     // every step: the workflow's output
	output bool     // output.…: the step's own result, in its output mapping
}

// templateText is one string of a workflow's templates, or a condition, kept with its
// position until every step ID of the workflow is known.
type templateText struct {
	at        Pos
	what      string // "workflow w step s input.items", for messages
	value     string
	scope     refScope
	condition bool
	set       func(string) // writes the normalised text back into the model
}

var (
	templateRef = regexp.MustCompile(`\{\{(.*?)\}\}`)
	refPath     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[[0-9]+\])*$`)
	bareRef     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+$`)
)

// refRoots are the names a reference starts with.
var refRoots = []string{"input", "workflow", "steps", "output"}

// finish normalises and checks every template and condition of the workflow. Problems
// are held (reporter.holdf): they count only if Junction runs the workflow.
func (wd *workflowDecoding) finish() {
	for _, t := range wd.texts {
		if t.condition {
			t.set(wd.normaliseCondition(t))
		} else {
			t.set(wd.normaliseTemplate(t))
		}
	}
}

func (wd *workflowDecoding) holdf(t *templateText, format string, args ...any) {
	wd.d.rep.holdf(wd.w, t.at, "%s: %s", t.what, fmt.Sprintf(format, args...))
}

// normaliseTemplate rewrites a bare reference to a template ("workflow.input.x" and
// "steps.<declared step>.…" become "{{…}}"; anything else stays a literal), writes
// "{{ path }}" as "{{path}}", and checks every reference.
func (wd *workflowDecoding) normaliseTemplate(t *templateText) string {
	v := t.value
	if expr, isExpr := strings.CutPrefix(v, "="); isExpr {
		wd.checkExpression(t, expr)
		return v
	}
	if bareRef.MatchString(v) {
		root, rest, _ := strings.Cut(v, ".")
		step, _, _ := strings.Cut(rest, ".")
		_, declared := wd.ids[step]
		switch {
		case root == "workflow" || root == "steps" && declared:
			v = "{{" + v + "}}"
		case root == "config":
			wd.checkRef(t, fmt.Sprintf("%q", v), v)
		case root == "steps":
			if s := suggest(step, wd.stepIDs()); s != "" {
				wd.holdf(t, "%q reads as a reference to step %s, which is not declared; did you mean %q?", v, step, s)
			}
		}
	}
	return templateRef.ReplaceAllStringFunc(v, func(m string) string {
		p := strings.TrimSpace(m[2 : len(m)-2])
		if !refPath.MatchString(p) {
			wd.holdf(t, "%s: expected a path such as {{input.x}} or {{steps.ID.field}} (a value starting with = is an expression)", m)
			return m
		}
		wd.checkRef(t, "{{"+p+"}}", p)
		return "{{" + p + "}}"
	})
}

// normaliseCondition removes the braces around paths ("{{steps.a.x}} && {{steps.b.y}} <
// 0.7" becomes "steps.a.x && steps.b.y < 0.7") and checks the names it reads.
func (wd *workflowDecoding) normaliseCondition(t *templateText) string {
	v := templateRef.ReplaceAllStringFunc(t.value, func(m string) string {
		p := strings.TrimSpace(m[2 : len(m)-2])
		if !refPath.MatchString(p) {
			wd.holdf(t, "%s: expected a path such as {{input.x}} or {{steps.ID.field}}", m)
			return m
		}
		return p
	})
	wd.checkExpression(t, v)
	return v
}

// checkExpression checks the references an expr-lang expression reads. Names that are
// not references (functions, true, a closure's fields) are expr-lang's; one that is a
// near miss of a reference's first name (stpes, inputs) is reported.
func (wd *workflowDecoding) checkExpression(t *templateText, src string) {
	for _, p := range exprPaths(src) {
		root, _, _ := strings.Cut(p, ".")
		switch {
		case slices.Contains(refRoots, root) || root == "config":
			wd.checkRef(t, p, p)
		case root != "in" && suggest(root, refRoots) != "":
			wd.holdf(t, "%s: unknown name %s; did you mean %q?", p, root, suggest(root, refRoots))
		}
	}
}

// checkRef checks one reference p, shown as written.
func (wd *workflowDecoding) checkRef(t *templateText, shown, p string) {
	segs := strings.FieldsFunc(p, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
	second := ""
	if len(segs) > 1 {
		second = segs[1]
	}
	switch segs[0] {
	case "input":
	case "workflow":
		if second != "input" && second != "id" {
			wd.holdf(t, "%s: a workflow's own names are workflow.input (its input) and workflow.id (the run's ID)", shown)
		}
	case "steps":
		wd.checkStepRef(t, shown, second)
	case "output":
		if !t.scope.output {
			wd.holdf(t, "%s: output is a step's own result, for its output mapping (output / output_mapping); other steps read it as steps.<id>", shown)
		}
	case "config":
		wd.holdf(t, "%s: config values belong to CodeAI's code generation (its config block is not run): write the value itself here", shown)
	default:
		wd.holdf(t, "%s: unknown reference: a reference starts with input, workflow.input, workflow.id, steps.<id> or output%s", shown, didYouMean(segs[0], refRoots))
	}
}

// checkStepRef checks steps.<id>: a step of the workflow that has completed when the
// reference is read.
func (wd *workflowDecoding) checkStepRef(t *templateText, shown, id string) {
	if id == "" {
		wd.holdf(t, "%s: expected steps.<step ID>…", shown)
		return
	}
	if _, declared := wd.ids[id]; !declared || strings.HasPrefix(id, "undo:") {
		wd.holdf(t, "%s: step %s is not declared in workflow %s%s", shown, id, wd.w.Name, didYouMean(id, wd.stepIDs()))
		return
	}
	if !t.scope.all && !slices.Contains(t.scope.steps, id) {
		wd.holdf(t, "%s: step %s has not completed when this is read: a step refers only to the steps before it (a parallel branch: to the steps before its parallel block)", shown, id)
	}
}

// stepIDs are the IDs a reference may name, sorted.
func (wd *workflowDecoding) stepIDs() []string {
	var out []string
	for id := range wd.ids {
		if !strings.HasPrefix(id, "undo:") {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// exprPaths returns the names an expr-lang expression reads, outside its string
// literals: "steps.a.x && len(input.items) > 0" reads steps.a.x, len and input.items.
// Members of other values (x.f(…).g) are not names.
func exprPaths(src string) []string {
	identStart := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	identByte := func(c byte) bool { return identStart(c) || c >= '0' && c <= '9' }
	var out []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j + 1
		case identStart(c) && (i == 0 || src[i-1] != '.' && !identByte(src[i-1])):
			j := i
			for j < len(src) && (identByte(src[j]) || src[j] == '.' && j+1 < len(src) && identStart(src[j+1])) {
				j++
			}
			out = append(out, src[i:j])
			i = j
		default:
			i++
		}
	}
	return out
}

// walkSteps calls fn for every step: in order, with the branches of a parallel step after
// it and a step's compensation after the step.
func walkSteps(steps []*WorkflowStep, fn func(*WorkflowStep)) {
	for _, st := range steps {
		fn(st)
		walkSteps(st.Branches, fn)
		if st.Compensation != nil {
			fn(st.Compensation)
		}
	}
}

// generatedActivities returns the operations a workflow's call steps name when none of
// them is of a declared integration: such a workflow is CodeAI's, whose activities are
// functions of the application it generates. nil when the workflow is one Junction runs.
// A name close to a declared integration's is a typo in a workflow of Junction's, which
// its checks report.
func generatedActivities(cfg *Config, w *Workflow) []string {
	var integrations []string
	for _, in := range cfg.Integrations {
		integrations = append(integrations, in.Name)
	}
	var calls []string
	declared := false
	walkSteps(w.Steps, func(st *WorkflowStep) {
		if st.Kind != WorkflowCall || st.Target == "" {
			return
		}
		if name, _, _ := strings.Cut(st.Target, "."); cfg.Integration(name) != nil || suggest(name, integrations) != "" {
			declared = true
		}
		if !slices.Contains(calls, st.Target) {
			calls = append(calls, st.Target)
		}
	})
	if declared {
		return nil
	}
	return calls
}

// activitiesReason says why a workflow of generated-application activities is not run,
// with a few of its activities.
func activitiesReason(activities []string) string {
	var quoted []string
	for _, a := range activities[:min(len(activities), 2)] {
		quoted = append(quoted, fmt.Sprintf("%q", a))
	}
	if len(activities) > 2 {
		quoted = append(quoted, "…")
	}
	return fmt.Sprintf("activities such as %s name no declared integration: they are functions of a CodeAI-generated application (code generation); declare integrations with those operations for Junction to call them", strings.Join(quoted, ", "))
}

// setAsideGeneratedWorkflows moves CodeAI's workflows, those whose activities name no
// declared integration, from cfg.Workflows to cfg.Ignored, with the handlers and jobs of
// their triggers; what their templates refer to is their application's business, so its
// problems are dropped. The problems of the workflows Junction runs are reported.
func setAsideGeneratedWorkflows(cfg *Config, rep *reporter) {
	var kept []*Workflow
	for _, w := range cfg.Workflows {
		activities := generatedActivities(cfg, w)
		if activities == nil {
			rep.release(w)
			kept = append(kept, w)
			continue
		}
		rep.drop(w)
		cfg.Ignored = append(cfg.Ignored, Ignored{Pos: w.Pos, Kind: "workflow activities", Name: w.Name, Reason: activitiesReason(activities)})
		cfg.Handlers = slices.DeleteFunc(cfg.Handlers, func(h *Handler) bool { return h.Trigger && h.Target == w.Name })
		cfg.Jobs = slices.DeleteFunc(cfg.Jobs, func(j *Job) bool { return j.Trigger && j.Workflow == w.Name })
	}
	cfg.Workflows = kept
}

// reportPartWorkflows reports the held problems of the workflows a file runs by itself,
// for DecodePart: a workflow whose activities name integrations of other files is known
// to run only once they are merged, and Merge does not see these problems again (Load
// does: it decodes and checks with one reporter).
func reportPartWorkflows(cfg *Config, rep *reporter) {
	for _, w := range cfg.Workflows {
		if generatedActivities(cfg, w) == nil {
			rep.release(w)
		}
	}
}

// checkWorkflowReferences reports what workflow steps name that is not declared: the
// operations they call (and parameters they pass), the events they emit or wait for,
// and the workflows they start.
func checkWorkflowReferences(cfg *Config, rep *reporter) {
	checkEvent := eventChecker(cfg, rep)
	for _, w := range cfg.Workflows {
		walkSteps(w.Steps, func(st *WorkflowStep) {
			if st.Target == "" {
				return // none, or not a string: reported
			}
			what := fmt.Sprintf("workflow %s step %s", w.Name, st.ID)
			switch st.Kind {
			case WorkflowCall:
				op := checkOperation(cfg, rep, st.TargetPos, what+" call", st.Target)
				checkParams(rep, st.TargetPos, what+" input", st.Target, op, slices.Sorted(maps.Keys(st.Input)))
			case WorkflowEmit:
				checkEvent(st.TargetPos, what+" emit", st.Target)
			case WorkflowWait:
				checkEvent(st.TargetPos, what+" wait_for", st.Target)
			case WorkflowChild:
				if st.Target == w.Name {
					rep.errorf(st.TargetPos, "%s workflow: a workflow cannot start itself", what)
					return
				}
				checkWorkflow(cfg, rep, st.TargetPos, what+" workflow", st.Target)
			}
		})
	}
}

// checkWorkflowSinks reports flow sinks of a `type: workflow` connector whose workflow
// (the sink's option, or the connector's) is not declared.
func checkWorkflowSinks(cfg *Config, rep *reporter) {
	for _, f := range cfg.Flows {
		for _, sk := range f.Sinks {
			c := cfg.Connector(sk.Connector)
			if c == nil || c.Type != "workflow" {
				continue
			}
			opt, ok := sk.Options.Get("workflow")
			if !ok {
				opt, ok = c.Options.Get("workflow")
			}
			if name, isString := opt.Value.(string); ok && isString {
				checkWorkflow(cfg, rep, opt.Pos, fmt.Sprintf("flow %s sink %s", f.Name, sk.Name), name)
			}
		}
	}
}

// checkWorkflow reports a reference to a workflow that is not declared, or is declared
// but not run (CodeAI's).
func checkWorkflow(cfg *Config, rep *reporter, at Pos, what, name string) {
	if cfg.Workflow(name) != nil {
		return
	}
	for _, ig := range cfg.Ignored {
		if ig.Name == name && strings.HasPrefix(ig.Kind, "workflow ") {
			rep.errorf(at, "%s: workflow %q is not run: %s", what, name, ig.Reason)
			return
		}
	}
	rep.errorf(at, "%s: workflow %q is not declared (workflow %s { … })%s", what, name, name, didYouMean(name, workflowNames(cfg)))
}
