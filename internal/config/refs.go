package config

import (
	"fmt"
	"slices"
	"strings"
)

// Unknown references are errors with a position: what a handler does (`do integration
// "Name.op"`, `do webhook "x"`, `do workflow "x"`, `do emit "ev"`), the event it handles,
// and where an event is published (`publish_to`).

// EventKey is the form in which event names are compared: `.` and `_` are the same, so
// `on "user.created"` handles `event user_created` (CodeAI's own examples mix them). The
// runtime matches handlers to events by the same rule.
func EventKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// checkEventReferences reports the references of handlers and publish_to targets that
// name nothing declared.
func checkEventReferences(cfg *Config, rep *reporter) {
	checkEvent := eventChecker(cfg, rep)
	var webhooks []string
	for _, w := range cfg.Webhooks {
		webhooks = append(webhooks, w.Name)
	}
	for _, h := range cfg.Handlers {
		what := fmt.Sprintf("on %q", h.Event)
		if h.Trigger {
			what = fmt.Sprintf("workflow %s trigger event", h.Target)
		}
		checkEvent(h.EventPos, what, h.Event)
		switch h.Action {
		case "integration":
			op := checkOperation(cfg, rep, h.TargetPos, what+" do integration", h.Target)
			checkParams(rep, h.TargetPos, what+" do integration", h.Target, op, payloadFields(cfg, h.Event))
		case "webhook":
			if !slices.Contains(webhooks, h.Target) {
				rep.errorf(h.TargetPos, "%s do webhook: webhook %q is not declared (webhook %s { … })%s", what, h.Target, h.Target, didYouMean(h.Target, webhooks))
			}
		case "workflow":
			checkWorkflow(cfg, rep, h.TargetPos, what+" do workflow", h.Target)
		case "emit":
			checkEvent(h.TargetPos, what+" do emit", h.Target)
		}
	}
	for _, ev := range cfg.Events {
		for _, t := range ev.PublishTo {
			what := fmt.Sprintf("event %s publish_to", ev.Name)
			switch t.Kind {
			case "integration":
				op := checkOperation(cfg, rep, t.Pos, what+" integration(…)", t.Name)
				checkParams(rep, t.Pos, what+" integration(…)", t.Name, op, payloadFields(cfg, ev.Name))
			case "slack":
				if cfg.Integration(SlackIntegration) != nil {
					op := checkOperation(cfg, rep, t.Pos, what+" slack(…)", SlackIntegration+"."+SlackOperation)
					checkParams(rep, t.Pos, what+" slack(…)", SlackIntegration+"."+SlackOperation, op, []string{"channel", "text"})
				}
			case "webhook":
				// webhook("type") publishes an event of that type to the endpoints
				// subscribed to it, which are registered through the API, not declared:
				// any type is a valid target.
			default:
				if !slices.Contains(publishKinds, t.Kind) {
					rep.errorf(t.Pos, "%s: unknown target %s(…): expected %s%s", what, t.Kind, targetKinds(), didYouMean(t.Kind, publishKinds))
				}
			}
		}
	}
}

// BinaryBodyParam is the parameter that carries the raw body of a `body_type: binary`
// operation.
const BinaryBodyParam = "body"

// Params lists, sorted, every parameter the operation accepts: its path parameters,
// query and body fields, GraphQL variables, the parameters its header templates use,
// and BinaryBodyParam for a binary body. A call with any other parameter fails.
func (op *Operation) Params() []string {
	names := slices.Clone(op.PathParams)
	for _, fs := range [][]*Field{op.Query, op.Body} {
		for _, f := range fs {
			names = append(names, f.Name)
		}
	}
	if op.GraphQL != nil {
		for _, f := range op.GraphQL.Variables {
			names = append(names, f.Name)
		}
	}
	for _, h := range op.Headers {
		params, _ := TemplateParams(h.Value.String())
		names = append(names, params...)
	}
	if op.BodyType == "binary" {
		names = append(names, BinaryBodyParam)
	}
	if op.Computes == ComputePresignedURL {
		names = append(names, PresignMethodParam, PresignExpiresParam, PresignContentTypeParam)
	}
	if op.Send != nil {
		names = append(names, op.Send.Params...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// checkParams reports the parameters a call passes (an event's payload fields, a job's
// input) that the operation does not take: every such call would fail, so it is an
// error in the file rather than a dead execution later.
func checkParams(rep *reporter, at Pos, what, ref string, op *Operation, given []string) {
	if op == nil || op.Method == MethodInternal {
		return
	}
	takes := op.Params()
	list := "it takes none"
	if len(takes) > 0 {
		list = "it takes: " + strings.Join(takes, ", ")
	}
	for _, name := range given {
		if !slices.Contains(takes, name) {
			rep.errorf(at, "%s: %s takes no parameter %q, so every call would fail (%s)%s", what, ref, name, list, didYouMean(name, takes))
		}
	}
}

// payloadFields are the fields of the declared event the name refers to (by eventKey),
// the parameters a handler or route passes on; nil when the event or its payload is not
// declared.
func payloadFields(cfg *Config, event string) []string {
	for _, ev := range cfg.Events {
		if EventKey(ev.Name) == EventKey(event) {
			var names []string
			for _, f := range ev.Payload {
				names = append(names, f.Name)
			}
			return names
		}
	}
	return nil
}

// eventChecker returns a check that reports a reference to an event no declaration
// names (by EventKey). Without event declarations any event type is accepted, as POST
// /events accepts any; once some are declared, a reference must name one of them.
func eventChecker(cfg *Config, rep *reporter) func(at Pos, what, name string) {
	events := map[string]string{} // EventKey → name as declared
	var eventKeys []string
	for _, ev := range cfg.Events {
		events[EventKey(ev.Name)] = ev.Name
		eventKeys = append(eventKeys, EventKey(ev.Name))
	}
	return func(at Pos, what, name string) {
		if _, declared := events[EventKey(name)]; len(events) == 0 || declared {
			return
		}
		hint := ""
		if s := suggest(EventKey(name), eventKeys); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", events[s])
		}
		rep.errorf(at, "%s: event %q is not declared%s", what, name, hint)
	}
}

// workflowNames are the names of the workflows Junction runs.
func workflowNames(cfg *Config) []string {
	var names []string
	for _, w := range cfg.Workflows {
		names = append(names, w.Name)
	}
	return names
}

// checkOperation reports a "Name.operation" reference to an operation not declared, and
// returns the operation when it is.
func checkOperation(cfg *Config, rep *reporter, at Pos, what, ref string) *Operation {
	name, op, ok := strings.Cut(ref, ".")
	if !ok || name == "" || op == "" {
		rep.errorf(at, "%s: expected \"Integration.operation\", found %q", what, ref)
		return nil
	}
	in := cfg.Integration(name)
	if in == nil {
		var names []string
		for _, x := range cfg.Integrations {
			names = append(names, x.Name)
		}
		rep.errorf(at, "%s: integration %q is not declared%s", what, name, didYouMean(name, names))
		return nil
	}
	decl := in.Operation(op)
	if decl == nil {
		var ops []string
		for _, x := range in.Operations {
			ops = append(ops, x.Name)
		}
		rep.errorf(at, "%s: integration %s has no operation %q%s", what, name, op, didYouMean(op, ops))
	}
	return decl
}

// didYouMean is "; did you mean "x"?" when a candidate is close to name, else "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

func targetKinds() string {
	var out []string
	for _, k := range publishKinds {
		out = append(out, k+"(…)")
	}
	return strings.Join(out, ", ")
}
