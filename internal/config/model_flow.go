package config

import (
	"fmt"
	"time"
)

// Connector is `connector NAME { type: rabbitmq … }`: a system flows read from or write
// to, configured once and used by name (seed 002's connectors section).
type Connector struct {
	Pos     Pos
	Name    string
	Type    string  // rabbitmq, mqtt, nats, kafka, redis, postgres, schedule, http, events, integration, webhook, log
	Options Options // everything else; each connector type reads its own
}

// Options are settings in a generic shape, read by the component they belong to (a
// connector, a source or a sink) with their positions kept for messages; connectors
// decode them with their declared spec (internal/connector/option).
type Options struct {
	Pos     Pos
	Entries []Option
}

// Option is one setting. Value is a string, int64, float64, bool, nil, time.Duration,
// Value (env(NAME)/file(PATH)), []any, map[string]any or Options (a nested block).
type Option struct {
	Pos   Pos
	Key   string
	Value any
}

// Get returns the option with the key.
func (o Options) Get(key string) (Option, bool) {
	for _, e := range o.Entries {
		if e.Key == key {
			return e, true
		}
	}
	return Option{}, false
}

// OptionError is a problem with an option, with its position. Err is its cause when
// callers branch on it (a *MissingError: an environment variable that is not set).
type OptionError struct {
	Pos Pos
	Msg string
	Err error
}

func (e *OptionError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }
func (e *OptionError) Unwrap() error { return e.Err }

// ParseDuration reads a duration as the language writes it (5s, 1m30s, 2d), for the
// components that read their Options themselves.
func ParseDuration(s string) (time.Duration, error) { return parseDuration(s) }

// Suggest returns the candidate closest to s when it is close enough to be a typo: the
// "did you mean" of the language's messages, for components that read Options themselves.
func Suggest(s string, candidates []string) string { return suggest(s, candidates) }

// Tree converts an option value to a JSON-like tree for templates, payloads and
// parameters: nested blocks become map[string]any, lists []any, durations their text
// ("5s").
func Tree(v any) any {
	switch v := v.(type) {
	case Options:
		m := make(map[string]any, len(v.Entries))
		for _, e := range v.Entries {
			m[e.Key] = Tree(e.Value)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = Tree(x)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = Tree(x)
		}
		return out
	case time.Duration:
		return v.String()
	}
	return v
}

// Flow is `flow NAME { … }`: messages from a source through steps into sinks (seed 002).
type Flow struct {
	Pos         Pos
	Name        string
	Description string
	Source      Endpoint
	Steps       []*Step
	Sinks       []*Sink
	OnError     *ErrorPolicy // nil without on_error
	MaxInFlight int          // messages being processed at once (back-pressure); 0 = default
	Monitoring  Monitoring
}

// Endpoint is a flow's source: a connector and this flow's options for it.
type Endpoint struct {
	Pos       Pos
	Connector string
	Options   Options
}

// Sink is a named destination of a flow; routes send messages to sinks by name. A flow
// without a route step sends every message to every sink.
type Sink struct {
	Pos       Pos
	Name      string
	Connector string
	Options   Options
}

// Step kinds.
const (
	StepTransform = "transform"
	StepValidate  = "validate"
	StepEnrich    = "enrich"
	StepFilter    = "filter"
	StepRoute     = "route"
	StepSplit     = "split"
	StepPlugin    = "plugin"
)

// Step is one processing step; Kind says which of the fields is set.
type Step struct {
	Pos  Pos
	Name string
	Kind string

	Template any // transform: a mapping template (strings starting with "$" are JSONPath)

	Schema     any    // validate: an inline JSON Schema
	SchemaFile string // validate: a schema file, relative to the configuration file

	Integration string         // enrich: integration name
	Operation   string         // enrich: operation name
	Params      map[string]any // enrich: parameters (JSONPath strings or literals)
	As          string         // enrich: member of the message the result goes to

	Condition string // filter: expression; messages for which it is false are dropped

	Routes []Route // route: first matching condition wins

	Path string // split: JSONPath of the array whose elements become messages

	Plugin, Function string // plugin: the plugin function the message goes through (its output is the new message)
}

// Route sends messages for which When holds (or all, when Else) to sinks.
type Route struct {
	Pos  Pos
	When string // expression; "" for the else branch
	To   []string
}

// ErrorPolicy is `on_error`: what happens when a step or sink fails. The retry is
// written as everywhere else; then the message goes to a named dead-letter queue.
type ErrorPolicy struct {
	Pos        Pos
	Retry      *Retry // nil: no retries, the message goes to the queue at once
	DeadLetter string // "" means a queue named after the flow
}

// Monitoring is a flow's observability settings.
type Monitoring struct {
	Metrics        bool
	Tracing        Tracing
	LogLevel       string
	IncludePayload bool
}

// Tracing is `tracing: true|false` or `tracing { endpoint, sample_rate }` in a flow's
// monitoring block. Spans go to one OTLP collector per process, so the runtime turns
// tracing on for the whole process when any flow asks for it (the OTEL_* variables
// can too); a flow's own settings choose which of its messages are traced.
type Tracing struct {
	Pos      Pos
	Declared bool // written in the configuration; a flow without it follows the process
	On       bool
	// Endpoint is the OTLP/HTTP collector URL; "" leaves it to OTEL_EXPORTER_OTLP_ENDPOINT
	// or the exporter's default (http://localhost:4318).
	Endpoint string
	// SampleRate is the share of the flow's messages traced, 0 to 1 (1 when not given).
	SampleRate float64
}

// TracingEndpoint is the collector the flows' `tracing { endpoint }` names ("" when none
// does), and whether any flow turns tracing on: the process-wide part of the flows'
// tracing settings. checkTracingEndpoints has made sure the flows agree on one endpoint.
func (c *Config) TracingEndpoint() (endpoint string, on bool) {
	for _, f := range c.Flows {
		if t := f.Monitoring.Tracing; t.On {
			on = true
			if t.Endpoint != "" {
				endpoint = t.Endpoint
			}
		}
	}
	return endpoint, on
}
