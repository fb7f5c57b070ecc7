package config

import (
	"regexp"
	"slices"
	"strings"
)

// event decodes `event NAME { description, payload { … } | schema { … }, publish_to [ … ],
// trigger: when … }`. A trigger (`when Product.quantity < Product.low_stock_threshold`)
// watches an entity of CodeAI's generated application: it is returned, to be reported as
// not run, and the event is declared all the same.
func (d *decoder) event(pos Pos, name string, body []*Entry) (*EventType, *Ignored) {
	ev := &EventType{Pos: pos, Name: name}
	var trigger *Ignored
	payload := func(e *Entry) { ev.Payload = d.fieldBlock(e, true) }
	d.block("event "+name, body, map[string]setting{
		"description": func(e *Entry) { ev.Description, _ = d.str(e) },
		"payload":     payload,
		"schema":      payload,
		"publish_to":  func(e *Entry) { ev.PublishTo = d.targets(e) },
		"trigger": func(e *Entry) {
			if len(e.Value.Words) == 0 {
				d.expect(e, "a condition on an entity, such as when Product.quantity < 10")
				return
			}
			trigger = &Ignored{Pos: e.KeyPos, Kind: "trigger", Name: name, Reason: codeGeneration["trigger"].reason}
		},
	})
	return ev, trigger
}

// targets reads [slack("#alerts"), webhook("monitoring")], or in YAML
// ["slack(\"#alerts\")"] and [{slack: "#alerts"}].
func (d *decoder) targets(e *Entry) []Target {
	items, ok := d.list(e, `a list of targets such as [slack("#alerts"), webhook("monitoring")]`)
	if !ok {
		return nil
	}
	var out []Target
	for _, it := range items {
		switch n := d.words(it).Single().(type) {
		case *Call:
			if s, ok := singleString(n.Args); ok && n.Name != "" {
				out = append(out, Target{Pos: n.P, Kind: n.Name, Name: s})
				continue
			}
		case *Object:
			if len(n.Entries) == 1 {
				if s, ok := n.Entries[0].Value.Single().(*String); ok {
					out = append(out, Target{Pos: n.P, Kind: n.Entries[0].Key, Name: s.Value})
					continue
				}
			}
		}
		d.rep.errorf(it.Pos, `%s: expected a target such as webhook("monitoring") or integration("Slack"), found %s`, e.Key, phraseText(it))
	}
	return out
}

func singleString(args []*Phrase) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	s, ok := args[0].Single().(*String)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// webhook decodes the colon-less dialect's outbound webhook:
//
//	webhook NAME { event "order.completed"  url "https://…"  method POST  headers { … }
//	               retry 5 initial_interval "1s" backoff 2.0  secret env(HOOK_SECRET) }
//
// Its retry is the one grammar's (decode_retry.go); `backoff 2.0` is an exponential
// back-off growing by 2.
func (d *decoder) webhook(pos Pos, name string, body []*Entry) *Webhook {
	w := &Webhook{Pos: pos, Name: name, Method: "POST"}
	retry := d.retryGroup()
	d.block("webhook "+name, body, retry.settings(map[string]setting{
		"event": func(e *Entry) {
			if s, ok := d.str(e); ok {
				w.Events = append(w.Events, s)
			}
		},
		"events": func(e *Entry) { w.Events = append(w.Events, d.stringList(e)...) },
		"url": func(e *Entry) {
			if v, ok := d.value(e); ok {
				w.URL = v
				d.checkURL(e, v)
			}
		},
		"method": func(e *Entry) {
			m, ok := d.name(e, "POST, PUT or PATCH")
			if m = strings.ToUpper(m); ok && m != "POST" && m != "PUT" && m != "PATCH" {
				d.expect(e, "POST, PUT or PATCH")
				return
			}
			w.Method = m
		},
		"headers": func(e *Entry) { w.Headers = d.webhookHeaders(name, e) },
		"secret":  func(e *Entry) { w.Secret, _ = d.value(e) },
	}, "initial_interval", "backoff"))
	w.Retry = retry.retry()
	if len(w.Events) == 0 {
		d.rep.errorf(pos, `webhook %s: missing event (such as event "order.completed")`, name)
	}
	if w.URL.IsZero() {
		d.rep.errorf(pos, "webhook %s: missing url", name)
	}
	if !w.Secret.IsZero() && w.Secret.WrittenInFile() {
		d.rep.errorf(w.Secret.Pos, "webhook %s secret: secrets must come from env(NAME), \"$NAME\" or file(\"path\"), not be written in the file%s", name, defaultNote(w.Secret))
	}
	return w
}

// webhookReserved are the headers Junction sets on every delivery: the body's type, the
// Standard Webhooks signature headers, and what HTTP itself decides. A declared
// webhook's headers cannot replace them, so a receiver can always verify what it got.
var webhookReserved = map[string]string{
	"content-type":      "Junction sends application/json",
	"webhook-id":        "Standard Webhooks signing sets it",
	"webhook-timestamp": "Standard Webhooks signing sets it",
	"webhook-signature": "Standard Webhooks signing sets it",
	"host":              "it comes from the url",
	"content-length":    "HTTP sets it",
	"transfer-encoding": "HTTP sets it",
	"connection":        "HTTP sets it",
}

// webhookHeaders reads a webhook's headers, refusing those Junction sets itself, except
// `Content-Type: application/json`, which says what Junction sends anyway (and is kept:
// the delivery's own Content-Type is set after the declared headers).
func (d *decoder) webhookHeaders(name string, e *Entry) []Header {
	hs := d.headers(e)
	out := hs[:0]
	for _, h := range hs {
		lower := strings.ToLower(h.Name)
		why, reserved := webhookReserved[lower]
		sameType := lower == "content-type" && h.Value.IsLiteral() && strings.EqualFold(strings.TrimSpace(h.Value.String()), "application/json")
		if reserved && !sameType {
			d.rep.errorf(h.Pos, "webhook %s header %s: Junction sets this header on every delivery (%s); remove it", name, h.Name, why)
			continue
		}
		out = append(out, h)
	}
	return out
}

// handlerActions are what `on "event" do ACTION "target"` may do.
var handlerActions = map[string]bool{"workflow": true, "integration": true, "webhook": true, "emit": true, "plugin": true}

// handler decodes `on "user.created" do workflow "send_welcome_email" [async]`.
func (d *decoder) handler(e *Entry) *Handler {
	const form = `on "event.name" do workflow|integration|webhook|emit|plugin "target" [async]`
	ws := e.Value.Words
	if e.Colon || len(e.Value.Modifiers) > 0 || len(ws) < 4 || len(ws) > 5 {
		d.rep.errorf(e.KeyPos, "expected %s", form)
		return nil
	}
	ev, okEv := ws[0].(*String)
	action, okAction := ws[2].(*Ident)
	target, okTarget := ws[3].(*String)
	switch {
	case !okEv:
		d.rep.errorf(ws[0].Position(), "on: expected the event name as a string, found %s", Text(ws[0]))
	case !isWord(ws[1], "do"):
		d.rep.errorf(ws[1].Position(), "on: expected do after the event name, found %s", Text(ws[1]))
	case !okAction || !handlerActions[action.Name]:
		d.rep.errorf(ws[2].Position(), "on: expected workflow, integration, webhook, emit or plugin, found %s", Text(ws[2]))
	case !okTarget:
		d.rep.errorf(ws[3].Position(), "on: expected the target name as a string, found %s", Text(ws[3]))
	case len(ws) == 5 && !isWord(ws[4], "async"):
		d.rep.errorf(ws[4].Position(), "on: expected async or the end of the line, found %s", Text(ws[4]))
	case action.Name == "plugin" && !validPluginRef(target.Value):
		d.rep.errorf(ws[3].Position(), `on: do plugin: expected "plugin.function", found %q`, target.Value)
	default:
		return &Handler{Pos: e.KeyPos, Event: ev.Value, EventPos: ev.P, Action: action.Name, Target: target.Value, TargetPos: target.P, Async: len(ws) == 5}
	}
	return nil
}

// source decodes `source NAME { verify: github  secret: env(X)  event: "github.{header:X-GitHub-Event}" … }`.
func (d *decoder) source(pos Pos, name string, body []*Entry) *Source {
	src := &Source{Pos: pos, Name: name, Event: name + ".received"}
	settings := map[string]setting{
		"verify": func(e *Entry) {
			v, ok := d.name(e, strings.Join(VerifySchemes, ", "))
			if ok && !slices.Contains(VerifySchemes, v) {
				d.expect(e, strings.Join(VerifySchemes, ", "))
				return
			}
			src.Verify = v
		},
		"secret":    func(e *Entry) { src.Secret, _ = d.value(e) },
		"event":     func(e *Entry) { src.Event, _ = d.str(e) },
		"tolerance": func(e *Entry) { src.Tolerance, _ = d.positiveDuration(e) },
		"header":    func(e *Entry) { src.Header, _ = d.str(e) },
		"id_header": func(e *Entry) { src.IDHeader, _ = d.str(e) },
		"publish":   func(e *Entry) { src.Publish, _ = d.boolean(e) },
		"algorithm": func(e *Entry) {
			src.Algorithm, _ = d.name(e, "sha256 or sha512")
			if src.Algorithm != "sha256" && src.Algorithm != "sha512" {
				d.expect(e, "sha256 or sha512")
			}
		},
	}
	body, src.Catalog = d.withCatalog("source", name, body, settings)
	d.block("source "+name, body, settings)
	switch {
	case src.Verify == "":
		d.rep.errorf(pos, "source %s: missing verify (one of %s)", name, strings.Join(VerifySchemes, ", "))
	case src.Secret.IsZero():
		d.rep.errorf(pos, "source %s: missing secret (such as secret: env(%s_WEBHOOK_SECRET))", name, strings.ToUpper(name))
	case src.Secret.WrittenInFile():
		d.rep.errorf(src.Secret.Pos, "source %s secret: secrets must come from env(NAME), \"$NAME\" or file(\"path\"), not be written in the file%s", name, defaultNote(src.Secret))
	case src.Verify == "hmac" && src.Header == "":
		d.rep.errorf(pos, `source %s: verify hmac needs header (such as header: "X-Signature")`, name)
	case src.Publish && !publishableTemplate(src.Event):
		d.rep.errorf(pos, `source %s: publish: true needs an event type such as "%s.{header:X-Event}" (letters, digits, _ and - in dot-separated parts, with {header:Name} or {body:field} anywhere), found %q`, name, name, src.Event)
	}
	return src
}

// SourcePlaceholder is a {header:Name} or {body:field} in a source's event type; the
// webhook service fills it from each message.
var SourcePlaceholder = regexp.MustCompile(`\{(header|body):([^}]+)\}`)

// publishableEventType is what POST /events accepts as a type.
var publishableEventType = regexp.MustCompile(`^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$`)

// publishableTemplate reports whether a source's event type, once its placeholders are
// filled (each with a non-empty value of the same characters), is a type that can be
// published as a webhook event.
func publishableTemplate(tmpl string) bool {
	return publishableEventType.MatchString(SourcePlaceholder.ReplaceAllString(tmpl, "x"))
}
