package config

import (
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// connector decodes `connector NAME { type: rabbitmq  url: env(AMQP_URL) … }`.
func (d *decoder) connector(pos Pos, name string, body []*Entry) *Connector {
	c := &Connector{Pos: pos, Name: name}
	var rest []*Entry
	for _, e := range body {
		if e.Key == "type" {
			c.Type, _ = d.name(e, "a connector type such as rabbitmq, mqtt, nats, kafka, redis, postgres, schedule, websocket, http, events, integration, webhook or log")
			continue
		}
		rest = append(rest, e)
	}
	if c.Type == "" {
		d.rep.errorf(pos, "connector %s: missing type (such as type: rabbitmq)", name)
	}
	c.Options = d.options(pos, rest)
	return c
}

// options converts entries into the generic Options shape.
func (d *decoder) options(pos Pos, entries []*Entry) Options {
	o := Options{Pos: pos}
	for _, e := range entries {
		o.Entries = append(o.Entries, Option{Pos: e.KeyPos, Key: e.Key, Value: d.optionValue(e.Value)})
	}
	return o
}

func (d *decoder) optionValue(ph *Phrase) any {
	n := ph.Single()
	if n == nil {
		return phraseText(ph) // several words: kept as written
	}
	return d.optionNode(n)
}

func (d *decoder) optionNode(n Node) any {
	switch v := n.(type) {
	case *String:
		return d.optionString(v)
	case *Number:
		return optionNumber(v.Text)
	case *Duration:
		dur, err := parseDuration(v.Text)
		if err != nil {
			d.rep.errorf(v.P, "%v", err)
		}
		return dur
	case *Ident:
		if x, ok := literalNames[v.Name]; ok {
			return x
		}
		return v.Name
	case *Call:
		if v.Name == "env" || v.Name == "file" {
			val, _ := d.valueOf("value", v)
			return val
		}
		return Text(v)
	case *List:
		out := make([]any, 0, len(v.Items))
		for _, it := range v.Items {
			out = append(out, d.optionValue(it))
		}
		return out
	case *Object:
		return d.options(v.P, v.Entries)
	}
	return Text(n)
}

// optionString is the value of a string option. YAML has no durations or calls: there
// "5s" and "env(X)" mean what they would unquoted.
func (d *decoder) optionString(v *String) any {
	if !v.FromData {
		return v.Value
	}
	if ph := d.reparse(v); ph != nil {
		switch w := ph.Single().(type) {
		case *Call:
			if w.Name == "env" || w.Name == "file" {
				return d.optionNode(w)
			}
		case *Duration:
			return d.optionNode(w)
		}
	}
	return v.Value
}

// optionNumber is a number option as an int64 when it is one, else as a float64.
func optionNumber(text string) any {
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i
	}
	f, _ := strconv.ParseFloat(text, 64)
	return f
}

// flow decodes `flow NAME { source, step NAME { … }…, sink NAME { … }…, on_error, … }`.
func (d *decoder) flow(pos Pos, name string, body []*Entry) *Flow {
	f := &Flow{Pos: pos, Name: name, Monitoring: Monitoring{Metrics: true, LogLevel: "info"}}
	d.block("flow "+name, body, map[string]setting{
		"description": func(e *Entry) { f.Description, _ = d.str(e) },
		"source":      func(e *Entry) { f.Source = d.flowEndpoint(e) },
		"step": func(e *Entry) {
			if n, b, ok := d.namedBlock(e); ok {
				for _, s := range f.Steps {
					if s.Name == n {
						d.rep.errorf(e.KeyPos, "step %s is declared twice in flow %s", n, name)
						return
					}
				}
				if s := d.step(e.KeyPos, n, b); s != nil {
					f.Steps = append(f.Steps, s)
				}
			}
		},
		"sink": func(e *Entry) {
			if n, b, ok := d.namedBlock(e); ok {
				for _, s := range f.Sinks {
					if s.Name == n {
						d.rep.errorf(e.KeyPos, "sink %s is declared twice in flow %s", n, name)
						return
					}
				}
				f.Sinks = append(f.Sinks, d.sink(e.KeyPos, n, b))
			}
		},
		"on_error":      func(e *Entry) { f.OnError = d.errorPolicy(e) },
		"max_in_flight": func(e *Entry) { f.MaxInFlight, _ = d.integer(e, 1, 1_000_000) },
		"monitoring":    func(e *Entry) { f.Monitoring = d.monitoring(e) },
	})
	if f.Source.Connector == "" {
		d.rep.errorf(pos, "flow %s: missing source (such as source: orders { batch_size: 100 })", name)
	}
	if len(f.Sinks) == 0 {
		d.rep.errorf(pos, "flow %s: needs at least one sink NAME { connector: … }", name)
	}
	sinks := map[string]bool{}
	for _, s := range f.Sinks {
		sinks[s.Name] = true
	}
	for _, st := range f.Steps {
		for _, r := range st.Routes {
			for _, to := range r.To {
				if !sinks[to] {
					d.rep.errorf(r.Pos, "flow %s: route to %q, which is not a sink of this flow", name, to)
				}
			}
		}
	}
	return f
}

// flowEndpoint reads `source: orders { batch_size: 100 }`, `source: orders` or (YAML)
// `source: { connector: orders, batch_size: 100 }`.
func (d *decoder) flowEndpoint(e *Entry) Endpoint {
	ep := Endpoint{Pos: e.KeyPos}
	ws := d.words(e.Value).Words
	switch {
	case len(ws) == 1:
		switch v := ws[0].(type) {
		case *Ident:
			ep.Connector, ep.Options = v.Name, Options{Pos: v.P}
			return ep
		case *Object:
			return d.endpointFromBlock(e.KeyPos, v.Entries, "source")
		}
	case len(ws) == 2:
		id, okID := ws[0].(*Ident)
		obj, okObj := ws[1].(*Object)
		if okID && okObj {
			ep.Connector, ep.Options = id.Name, d.options(obj.P, obj.Entries)
			return ep
		}
	}
	d.expect(e, "a connector name, optionally with options: orders { batch_size: 100 }")
	return ep
}

// endpointFromBlock reads { connector: NAME, …options }.
func (d *decoder) endpointFromBlock(pos Pos, entries []*Entry, what string) Endpoint {
	ep := Endpoint{Pos: pos}
	var rest []*Entry
	for _, e := range entries {
		if e.Key == "connector" {
			ep.Connector, _ = d.name(e, "a connector name")
			continue
		}
		rest = append(rest, e)
	}
	if ep.Connector == "" {
		d.rep.errorf(pos, "%s: missing connector (the name of a connector block)", what)
	}
	ep.Options = d.options(pos, rest)
	return ep
}

func (d *decoder) sink(pos Pos, name string, body []*Entry) *Sink {
	ep := d.endpointFromBlock(pos, body, "sink "+name)
	return &Sink{Pos: pos, Name: name, Connector: ep.Connector, Options: ep.Options}
}

// step decodes one step block; exactly one kind of work per step.
func (d *decoder) step(pos Pos, name string, body []*Entry) *Step {
	s := &Step{Pos: pos, Name: name}
	// kind claims the step for one kind of work, reporting a second one.
	kind := func(k string) bool {
		if s.Kind != "" {
			d.rep.errorf(pos, "step %s does both %s and %s: one kind of work per step", name, s.Kind, k)
			return false
		}
		s.Kind = k
		return true
	}
	d.block("step "+name, body, map[string]setting{
		"transform": func(e *Entry) {
			if kind(StepTransform) {
				d.stepTemplate(s, e)
			}
		},
		"validate": func(e *Entry) {
			if kind(StepValidate) {
				d.stepSchema(s, e)
			}
		},
		"enrich": func(e *Entry) {
			if kind(StepEnrich) {
				d.stepEnrich(s, e)
			}
		},
		"params": func(e *Entry) { d.stepParams(s, e) },
		"as":     func(e *Entry) { s.As, _ = d.name(e, "the member the result is stored in") },
		"filter": func(e *Entry) {
			if kind(StepFilter) {
				s.Condition, _ = d.str(e)
			}
		},
		"split": func(e *Entry) {
			if kind(StepSplit) {
				s.Path, _ = d.str(e)
			}
		},
		"route": func(e *Entry) {
			if kind(StepRoute) {
				s.Routes = d.routes(e)
			}
		},
		"plugin": func(e *Entry) {
			if kind(StepPlugin) {
				ref, ok := d.name(e, "a plugin function such as text.slugify")
				if s.Plugin, s.Function, ok = splitPluginRefOK(ref, ok); !ok {
					d.expect(e, "a plugin function such as text.slugify")
				}
			}
		},
	})
	switch {
	case s.Kind == "":
		d.rep.errorf(pos, "step %s: expected one of transform, validate, enrich, filter, route, split or plugin", name)
		return nil
	case s.Kind == StepEnrich && s.As == "":
		s.As = strings.ReplaceAll(s.Operation, "-", "_")
	case s.Kind != StepEnrich && (s.Params != nil || s.As != ""):
		d.rep.errorf(pos, "step %s: params and as belong to an enrich step", name)
	}
	return s
}

// stepTemplate reads `transform: { field: "$.path" … }`.
func (d *decoder) stepTemplate(s *Step, e *Entry) {
	if n := e.Value.Single(); n != nil {
		s.Template, _ = d.jsonValue(e.Key, n)
		return
	}
	d.expect(e, "a mapping template { field: \"$.path\" … }")
}

// stepSchema reads `validate: { …JSON Schema… }` or `validate: file("schema.json")`, a
// path relative to the file the step is in.
func (d *decoder) stepSchema(s *Step, e *Entry) {
	switch n := d.words(e.Value).Single().(type) {
	case *Call:
		if n.Name == "file" && len(n.Args) == 1 {
			if p, ok := n.Args[0].Single().(*String); ok {
				s.SchemaFile = p.Value
				if !filepath.IsAbs(p.Value) {
					s.SchemaFile = filepath.Join(filepath.Dir(s.Pos.File), p.Value)
				}
				return
			}
		}
	case *Object:
		s.Schema, _ = d.jsonValue(e.Key, n)
		return
	}
	d.expect(e, `a JSON Schema { … } or file("schema.json")`)
}

// stepEnrich reads `enrich: Integration.operation`.
func (d *decoder) stepEnrich(s *Step, e *Entry) {
	target, ok := d.name(e, "an operation such as CustomerService.get_customer")
	in, op, dotted := strings.Cut(target, ".")
	if !ok || !dotted || in == "" || op == "" {
		d.expect(e, "an operation such as CustomerService.get_customer")
		return
	}
	s.Integration, s.Operation = in, op
}

// stepParams reads `params: { name: "$.path" … }`.
func (d *decoder) stepParams(s *Step, e *Entry) {
	if n := e.Value.Single(); n != nil {
		if v, ok := d.jsonValue(e.Key, n); ok {
			if m, isMap := v.(map[string]any); isMap {
				s.Params = m
				return
			}
		}
	}
	d.expect(e, `parameters { name: "$.path" … }`)
}

// routes reads { "total >= 1000": high-value-orders, else: regular-orders }: conditions
// in order, the first that holds wins; a list sends to several sinks.
func (d *decoder) routes(e *Entry) []Route {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	var out []Route
	for _, re := range entries {
		r := Route{Pos: re.KeyPos, When: re.Key}
		if !re.Quoted && re.Key == "else" {
			r.When = ""
		}
		switch n := d.words(re.Value).Single().(type) {
		case *String:
			r.To = []string{n.Value}
		case *Ident:
			r.To = []string{n.Name}
		case *List:
			for _, it := range n.Items {
				switch w := it.Single().(type) {
				case *String:
					r.To = append(r.To, w.Value)
				case *Ident:
					r.To = append(r.To, w.Name)
				}
			}
		}
		if len(r.To) == 0 {
			d.rep.errorf(re.KeyPos, "route %q: expected a sink name or a list of them", re.Key)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (d *decoder) monitoring(e *Entry) Monitoring {
	m := Monitoring{Metrics: true, LogLevel: "info"}
	_, entries, ok := d.object(e)
	if !ok {
		return m
	}
	d.block("monitoring", entries, map[string]setting{
		"metrics": func(e *Entry) { m.Metrics, _ = d.boolean(e) },
		"tracing": func(e *Entry) { m.Tracing = d.tracing(e) },
		"logging": func(e *Entry) {
			_, entries, ok := d.object(e)
			if !ok {
				return
			}
			d.block("logging", entries, map[string]setting{
				"level": func(e *Entry) {
					m.LogLevel, _ = d.name(e, "debug, info, warn or error")
					switch m.LogLevel {
					case "debug", "info", "warn", "error":
					default:
						d.expect(e, "debug, info, warn or error")
					}
				},
				"include_payload": func(e *Entry) { m.IncludePayload, _ = d.boolean(e) },
			})
		},
	})
	return m
}

// tracing reads `tracing: true|false` or `tracing { endpoint: "…", sample_rate: 0.1 }`;
// a block turns tracing on.
func (d *decoder) tracing(e *Entry) Tracing {
	t := Tracing{Pos: e.KeyPos, Declared: true, SampleRate: 1}
	if _, isObj := d.words(e.Value).Single().(*Object); !isObj {
		t.On, _ = d.boolean(e)
		return t
	}
	_, entries, ok := d.object(e)
	if !ok {
		return t
	}
	t.On = true
	d.block("tracing", entries, map[string]setting{
		"endpoint": func(e *Entry) {
			s, ok := d.str(e)
			if !ok {
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
				d.expect(e, `an http(s) collector URL such as "http://otel-collector:4318"`)
				return
			}
			t.Endpoint = s
		},
		"sample_rate": func(e *Entry) {
			f, ok := d.float(e)
			if !ok {
				return
			}
			if f < 0 || f > 1 {
				d.expect(e, "a number from 0 to 1")
				return
			}
			t.SampleRate = f
		},
	})
	return t
}

// checkTracingEndpoints reports flows that name different tracing endpoints: a process
// exports its spans to one collector.
func checkTracingEndpoints(cfg *Config, rep *reporter) {
	var first *Flow
	for _, f := range cfg.Flows {
		t := f.Monitoring.Tracing
		if !t.On || t.Endpoint == "" {
			continue
		}
		if first == nil {
			first = f
			continue
		}
		if t.Endpoint != first.Monitoring.Tracing.Endpoint {
			rep.errorf(t.Pos, "tracing: endpoint %q differs from %q in flow %q; spans go to one collector per process", t.Endpoint, first.Monitoring.Tracing.Endpoint, first.Name)
		}
	}
}
