package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// CatchUp says what a job does, at start, with the ticks it missed while no process ran.
type CatchUp string

// The catch-up policies.
const (
	CatchUpLatest CatchUp = "latest" // one run for all the missed ticks (the default)
	CatchUpAll    CatchUp = "all"    // one run per missed tick, at most MaxCatchUp
	CatchUpNone   CatchUp = "none"   // skip them
)

// MaxCatchUp bounds the runs of catch_up all: more missed ticks than this is an outage,
// not a backlog to replay.
const MaxCatchUp = 100

// Job is a scheduled job: `job NAME { schedule "0 * * * *" | every 5m … call | emit | workflow }`.
type Job struct {
	Pos         Pos
	Name        string
	Description string
	Schedule    string        // a cron expression (5 fields, or 6 with seconds, or @hourly …)
	Every       time.Duration // or a fixed interval; ticks are multiples of it since the Unix epoch
	Timezone    string        // of the cron expression; "" is UTC
	Timeout     time.Duration // of one attempt; 0: the default
	Retry       *Retry
	Queue       string // accepted and shown; it has no effect yet
	CatchUp     CatchUp

	// What it runs: one of Call, Emit or Workflow.
	Call     string // "Integration.operation"
	CallPos  Pos
	Input    map[string]any // the call's parameters
	Emit     string         // the event type published
	EmitPos  Pos
	Data     map[string]any // the event's data
	Workflow string
	// Trigger marks a job made from a workflow's `trigger schedule "…"`; its name is
	// "workflow:" + the workflow's name.
	Trigger bool
}

// CronParser reads a job's schedule: five fields, an optional leading seconds field, or
// a descriptor (@hourly, @daily, …), as the schedule connector does.
var CronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// jobCodeGeneration are the settings of CodeAI's jobs that run code of a generated
// application: a job that has one is CodeAI's code generation (reported, never run).
var jobCodeGeneration = map[string]string{
	"task": "job task", "steps": "job steps", "step": "job steps", "action": "job steps",
	"query": "job steps", "template": "job steps", "send": "job steps",
}

// job decodes `job NAME { … }`. A CodeAI job that runs a task or steps of a generated
// application is returned as Ignored, as what it is, and its other settings are CodeAI's.
func (d *decoder) job(pos Pos, name string, body []*Entry) (*Job, *Ignored) {
	for _, e := range body {
		if kind, ok := jobCodeGeneration[e.Key]; ok {
			return nil, &Ignored{Pos: pos, Kind: kind, Name: name, Reason: codeGeneration[kind].reason}
		}
	}
	j := &Job{Pos: pos, Name: name, CatchUp: CatchUpLatest}
	var whatAt []*Entry
	var inputAt, dataAt *Entry
	var schedulePos Pos
	retry := d.retryGroup()
	d.block("job "+name, body, retry.settings(map[string]setting{
		"description": func(e *Entry) { j.Description, _ = d.str(e) },
		"schedule":    func(e *Entry) { schedulePos = e.KeyPos; d.jobSchedule(j, e) },
		"every": func(e *Entry) {
			schedulePos = e.KeyPos
			j.Every, _ = d.positiveDuration(e)
		},
		"timezone": func(e *Entry) {
			tz, ok := d.str(e)
			if !ok {
				return
			}
			if _, err := time.LoadLocation(tz); err != nil || tz == "" || strings.EqualFold(tz, "local") {
				d.rep.errorf(e.Value.Words[0].Position(), "timezone: unknown time zone %q: expected an IANA name such as \"Europe/Paris\" or \"UTC\"", tz)
				return
			}
			j.Timezone = tz
		},
		"timeout": func(e *Entry) { j.Timeout, _ = d.positiveDuration(e) },
		"queue":   func(e *Entry) { j.Queue, _ = d.name(e, "a queue name") },
		"catch_up": func(e *Entry) {
			v, ok := d.name(e, "latest, all or none")
			switch c := CatchUp(v); {
			case !ok:
			case c == CatchUpLatest || c == CatchUpAll || c == CatchUpNone:
				j.CatchUp = c
			default:
				d.expect(e, "latest, all or none")
			}
		},
		"call": func(e *Entry) {
			whatAt = append(whatAt, e)
			if target, ok := d.str(e); ok {
				j.Call, j.CallPos = target, e.Value.Words[0].Position()
			}
		},
		"input": func(e *Entry) { inputAt = e; j.Input = d.jobObject(e) },
		"emit": func(e *Entry) {
			whatAt = append(whatAt, e)
			if ev, ok := d.str(e); ok {
				j.Emit, j.EmitPos = ev, e.Value.Words[0].Position()
			}
		},
		"data": func(e *Entry) { dataAt = e; j.Data = d.jobObject(e) },
		"workflow": func(e *Entry) {
			whatAt = append(whatAt, e)
			j.Workflow, _ = d.str(e)
		},
		"on_complete": d.codeAIHook(name),
		"on_fail":     d.codeAIHook(name),
	}))
	j.Retry = retry.retry()
	switch {
	case j.Schedule == "" && j.Every == 0:
		if schedulePos.Line == 0 {
			d.rep.errorf(pos, `job %s: missing schedule (such as schedule "0 * * * *" or every 5m)`, name)
		}
	case j.Schedule != "" && j.Every > 0:
		d.rep.errorf(schedulePos, "job %s: give either a cron schedule or every DURATION, not both", name)
	}
	switch len(whatAt) {
	case 0:
		d.rep.errorf(pos, `job %s: missing what it runs: call "Integration.operation", emit "event.type" or workflow "name"`, name)
	case 1:
	default:
		d.rep.errorf(whatAt[1].KeyPos, "job %s: %s and %s: a job runs one thing (first at line %d)", name, whatAt[1].Key, whatAt[0].Key, whatAt[0].KeyPos.Line)
	}
	if inputAt != nil && j.Call == "" {
		d.rep.errorf(inputAt.KeyPos, "job %s: input goes with call \"Integration.operation\"", name)
	}
	if dataAt != nil && j.Emit == "" {
		d.rep.errorf(dataAt.KeyPos, "job %s: data goes with emit \"event.type\"", name)
	}
	if j.Timezone != "" && j.Every > 0 {
		d.rep.warnf(pos, "job %s: timezone has no effect on every %s: intervals do not depend on the time zone", name, j.Every)
	}
	if j.Queue != "" {
		d.rep.warnf(pos, "job %s: queue %q has no effect yet: every job runs as soon as its tick comes", name, j.Queue)
	}
	return j, nil
}

// jobSchedule reads `schedule "0 * * * *"` or CodeAI's `schedule: every 1h`.
func (d *decoder) jobSchedule(j *Job, e *Entry) {
	ws := d.words(e.Value).Words
	if len(ws) == 2 && isWord(ws[0], "every") {
		v, err := durationOf(ws[1])
		if err == nil && v <= 0 {
			err = fmt.Errorf("expected a duration greater than zero, found %s", Text(ws[1]))
		}
		if err != nil {
			d.rep.errorf(ws[1].Position(), "schedule: every: %v", err)
			return
		}
		j.Every = v
		return
	}
	s, ok := e.Value.Single().(*String)
	if !ok {
		d.expect(e, `a cron expression such as "0 * * * *", or every DURATION`)
		return
	}
	if _, err := CronParser.Parse(s.Value); err != nil {
		d.rep.errorf(s.P, "schedule: invalid cron expression %q: %v", s.Value, err)
		return
	}
	j.Schedule = s.Value
}

// jobObject reads input { … } or data { … }: a literal object.
func (d *decoder) jobObject(e *Entry) map[string]any {
	if n := d.words(e.Value).Single(); n != nil {
		if _, isObj := n.(*Object); isObj {
			if v, ok := d.jsonValue(e.Key, n); ok {
				return v.(map[string]any)
			}
			return nil
		}
	}
	d.expect(e, "an object { key: value … }")
	return nil
}

// codeAIHook refuses on_complete / on_fail in a job Junction runs: they belong to
// CodeAI's steps jobs; a Junction job's outcome is in GET /jobs/{name}/runs.
func (d *decoder) codeAIHook(name string) setting {
	return func(e *Entry) {
		d.rep.errorf(e.KeyPos, "job %s: %s belongs to CodeAI's steps jobs; a job that calls or emits records its outcome in GET /jobs/%s/runs (route events with an event's publish_to)", name, e.Key, name)
	}
}

// checkJobReferences reports jobs that call operations, or emit events, that are not
// declared, and workflows that are not (or are not run). The jobs of workflows'
// schedule triggers are unique as their workflows are.
func checkJobReferences(cfg *Config, rep *reporter) {
	written := slices.DeleteFunc(slices.Clone(cfg.Jobs), func(j *Job) bool { return j.Trigger })
	checkUnique(rep, "job", written, func(j *Job) (string, Pos) { return j.Name, j.Pos })
	checkEvent := eventChecker(cfg, rep)
	for _, j := range cfg.Jobs {
		what := "job " + j.Name
		switch {
		case j.Call != "":
			op := checkOperation(cfg, rep, j.CallPos, what+" call", j.Call)
			checkParams(rep, j.CallPos, what+" input", j.Call, op, slices.Sorted(maps.Keys(j.Input)))
		case j.Emit != "":
			checkEvent(j.EmitPos, what+" emit", j.Emit)
		case j.Workflow != "":
			checkWorkflow(cfg, rep, j.Pos, what+" workflow", j.Workflow)
		}
	}
}
