package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// What the language accepts but Junction does not run. Nothing declared is silently
// ignored: each such construct is kept in Config (Ignored, Handlers, Webhooks, event
// targets) and validate and serve print one warning per kind, at the first one, with
// how many there are, a few names, and why (reportNotRun).

// construct describes one kind of construct that is accepted and not run.
type construct struct {
	noun   string // singular, as in "4 entity blocks"
	reason string
}

// codeGeneration are CodeAI's constructs for generating an application (data models,
// API endpoints and their auth): they belong to CodeAI's code generation, not to an
// integration platform, so Junction never runs them.
var codeGeneration = map[string]construct{
	"config":     {"config block", "settings of a generated application belong to CodeAI's code generation; Junction is configured by flags and environment"},
	"entity":     {"entity block", "data models belong to CodeAI's code generation, not to Junction"},
	"enum":       {"enum block", "data models belong to CodeAI's code generation, not to Junction"},
	"database":   {"database block", "databases and their models belong to CodeAI's code generation, not to Junction"},
	"endpoint":   {"endpoint block", "generated API endpoints belong to CodeAI's code generation; Junction's HTTP API is built in"},
	"role":       {"role block", "roles of generated APIs belong to CodeAI's code generation, not to Junction"},
	"middleware": {"middleware block", "middleware of generated APIs belongs to CodeAI's code generation, not to Junction"},
	"auth":       {"auth provider block", "auth providers of generated APIs belong to CodeAI's code generation (an integration's auth goes inside integration NAME { … })"},
	"function":   {"function block", "functions of generated applications belong to CodeAI's code generation, not to Junction"},
	"job task":   {"task job", "a job's task is a function of a generated application: CodeAI's code generation, not Junction (a job Junction runs does call \"Integration.operation\", emit \"event.type\" or workflow \"name\")"},
	"job steps":  {"steps job", "a job's steps (query, action, template, send) work on the data model of a generated application: CodeAI's code generation, not Junction (a job Junction runs does call \"Integration.operation\", emit \"event.type\" or workflow \"name\")"},
	"trigger":    {"entity trigger", "event triggers watch entities of a generated application: CodeAI's code generation, not Junction (the event itself is declared)"},
	// Workflows, told apart by what their steps run: each workflow of activities has its
	// own reason, naming a few of them (activitiesReason); this one is the general case.
	"workflow activities": {"workflow of generated-application activities", "activities that name no declared integration are functions of a CodeAI-generated application (code generation); declare integrations with those operations for Junction to call them"},
	"workflow actions":    {"workflow of generated-application actions", "steps with action, for_each or check run functions of a CodeAI-generated application over its data model: CodeAI's code generation, not Junction (the steps of a workflow Junction runs call \"Integration.operation\", emit, wait_for, sleep, transform or start a workflow)"},
}

// notRunYet lists what Junction is to run but this version does not: each is reported
// as "declared but not run yet by this version", and the runtime does not start it.
// When a feature runs, remove its entry here (and the summary stops saying "not run").
var notRunYet = map[string]construct{
	"publish_to kafka": {"publish_to kafka(…) target", ""},
}

// Slack targets (publish_to: [slack("#channel")]) are sent through the operation
// SlackOperation of a declared integration SlackIntegration, with the parameters channel
// and text. Without that integration they have nothing to go through: they are reported
// as not run (never an error, so CodeAI's examples, which declare none, still load).
const (
	SlackIntegration = "Slack"
	SlackOperation   = "post_message"
)

// slackUnsent describes slack targets while no Slack integration is declared.
var slackUnsent = construct{"publish_to slack(…) target", `no integration Slack is declared to send them through (integration Slack { base_url: "https://slack.com/api"  auth: bearer(env(SLACK_TOKEN))  operation post_message { method: POST  path: "/chat.postMessage"  body: { channel: string, text: string } } })`}

// publishKinds are the target kinds publish_to knows: webhook, integration and slack
// route (eventroute); kafka is in notRunYet.
var publishKinds = []string{"webhook", "integration", "slack", "kafka"}

// NotRunYet reports whether a kind of construct (a key of the notRunYet table, such as
// "publish_to kafka") is declared but not run by this version.
func NotRunYet(kind string) bool {
	_, ok := notRunYet[kind]
	return ok
}

// notRunItem is one construct that is not run, for the report.
type notRunItem struct {
	kind        string
	pos         Pos
	name        string
	reason      string
	annotations []string
}

// notRunItems lists everything cfg declares that is not run.
func notRunItems(cfg *Config) []notRunItem {
	var items []notRunItem
	for _, ig := range cfg.Ignored {
		items = append(items, notRunItem{kind: ig.Kind, pos: ig.Pos, name: ig.Name, reason: ig.Reason, annotations: ig.Annotations})
	}
	for _, ev := range cfg.Events {
		for _, t := range ev.PublishTo {
			if kind := "publish_to " + t.Kind; NotRunYet(kind) {
				items = append(items, notRunItem{kind: kind, pos: t.Pos, name: fmt.Sprintf("%q", t.Name)})
			}
			if t.Kind == "slack" && cfg.Integration(SlackIntegration) == nil {
				items = append(items, notRunItem{kind: "publish_to slack", pos: t.Pos, name: fmt.Sprintf("%q", t.Name), reason: slackUnsent.reason})
			}
		}
	}
	return items
}

// reportNotRun prints one warning per kind of construct that is not run, at the first
// one: "4 entity blocks (Task, User, …) are not run: data models belong to …".
func reportNotRun(cfg *Config, rep *reporter) {
	byKind := map[string][]notRunItem{}
	var kinds []string
	for _, it := range notRunItems(cfg) {
		if _, seen := byKind[it.kind]; !seen {
			kinds = append(kinds, it.kind)
		}
		byKind[it.kind] = append(byKind[it.kind], it)
	}
	for _, kind := range kinds {
		items := byKind[kind]
		slices.SortStableFunc(items, func(a, b notRunItem) int { return comparePos(a.pos, b.pos) })
		rep.warnf(items[0].pos, "%s", notRunMessage(kind, items))
	}
}

// notRunMessage renders the warning for the items of one kind.
func notRunMessage(kind string, items []notRunItem) string {
	n := len(items)
	noun, reason := kind+" block", items[0].reason
	if c, ok := codeGeneration[kind]; ok {
		// The first one's reason, when it has its own (a workflow's names its activities).
		noun, reason = c.noun, cmp.Or(items[0].reason, c.reason)
	}
	if kind == "publish_to slack" {
		noun, reason = slackUnsent.noun, slackUnsent.reason
	}
	yet, notYet := notRunYet[kind]
	if notYet {
		noun = yet.noun
	}
	what := describeCount(n, noun)
	if head, tail, ok := strings.Cut(noun, " of "); ok && n != 1 {
		what = fmt.Sprintf("%d %ss of %s", n, head, tail) // 2 workflows of …
	}
	if names := itemNames(items); names != "" {
		what += " (" + names + ")"
	}
	verb := "is"
	if n > 1 {
		verb = "are"
	}
	msg := fmt.Sprintf("%s %s not run: %s", what, verb, reason)
	if notYet {
		msg = fmt.Sprintf("%s %s declared but not run yet by this version", what, verb)
	}
	var annotations []string
	for _, it := range items {
		for _, a := range it.annotations {
			if !slices.Contains(annotations, a) {
				annotations = append(annotations, a)
			}
		}
	}
	if len(annotations) > 0 {
		msg += "; their annotations (" + strings.Join(annotations, ", ") + ") go with them"
	}
	return msg
}

// itemNames lists the first three different names, then "…".
func itemNames(items []notRunItem) string {
	var names []string
	for _, it := range items {
		if it.name != "" && !slices.Contains(names, it.name) {
			names = append(names, it.name)
		}
	}
	if len(names) > 3 {
		names = append(names[:3], "…")
	}
	return strings.Join(names, ", ")
}

// comparePos orders positions the way Diagnostics.Sort does.
func comparePos(a, b Pos) int {
	switch {
	case a.File != b.File:
		return strings.Compare(a.File, b.File)
	case a.Line != b.Line:
		return a.Line - b.Line
	}
	return a.Col - b.Col
}
