package config

import (
	"strings"

	"github.com/junctionhq/junction/internal/transform"
)

// The settings of a `type: websocket` integration:
//
//	subscribe { message: { method: "SUBSCRIBE", params: ["{symbol}@ticker"], id: "{request_id}" }
//	            reply: { match: "$.id", error: "$.error" } }
//	heartbeat { interval: 20s  timeout: 5s  message: { op: "ping" }  reply: "$.pong" } | heartbeat: off
//	reconnect: exponential_backoff(500ms, max 30s) | reconnect { initial: 500ms, max: 30s, multiplier: 2 }
//
// and its operations:
//
//	operation price { message: { method: "ticker.price", params: { symbol: "{symbol}" }, id: "{request_id}" }
//	                  reply: { match: "$.id", error: "$.error" }  timeout: 5s }

// socketExpected is what a reply setting takes, for messages.
const socketReplyForm = `a JSONPath such as "$.id", or { match: "$.id", request: "$.id", error: "$.error" }`

// socketSettings are the keys only a websocket integration has, added to an
// integration block's settings; checkSocketIntegration reports them on other types.
func (d *decoder) socketSettings(in *Integration, into map[string]setting) {
	ws := func() *WebSocket {
		if in.WebSocket == nil {
			in.WebSocket = &WebSocket{}
		}
		return in.WebSocket
	}
	into["subscribe"] = func(e *Entry) { ws().Subscribe = d.socketRequest(e, "subscribe", false) }
	into["heartbeat"] = func(e *Entry) { ws().Heartbeat = d.heartbeat(e) }
	into["reconnect"] = func(e *Entry) { ws().Reconnect = d.reconnect(e) }
}

// socketRequest reads `subscribe { message: …, reply: … }`; replyRequired says whether
// the reply must be given (an operation's) or may be left out (a subscription's).
func (d *decoder) socketRequest(e *Entry, what string, replyRequired bool) *SocketRequest {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	r := &SocketRequest{Pos: e.KeyPos}
	var messageEntry *Entry
	d.block(what, entries, map[string]setting{
		"message": func(e *Entry) { messageEntry = e; r.Message, r.Params = d.messageTemplate(e) },
		"reply":   func(e *Entry) { r.Reply = d.reply(e) },
	})
	switch {
	case messageEntry == nil:
		d.rep.errorf(e.KeyPos, "%s: missing message (the JSON message to send, such as message: { method: \"SUBSCRIBE\", id: \"{request_id}\" })", what)
		return nil
	case r.Reply == nil && replyRequired:
		d.rep.errorf(e.KeyPos, "%s: missing reply (which received message answers it: %s)", what, socketReplyForm)
	}
	d.checkReplyRequest(what, r.Message, r.Reply)
	return r
}

// operationSocket reads an operation's `message` and `reply`, the two settings of a
// websocket integration's operation, into op.Send.
func (d *decoder) operationSocket(op *Operation) map[string]setting {
	send := func(e *Entry) *SocketRequest {
		if op.Send == nil {
			op.Send = &SocketRequest{Pos: e.KeyPos}
		}
		return op.Send
	}
	return map[string]setting{
		"message": func(e *Entry) {
			s := send(e)
			s.Message, s.Params = d.messageTemplate(e)
			s.Pos = e.KeyPos
			if d.messageWritten == nil {
				d.messageWritten = map[*SocketRequest]bool{}
			}
			d.messageWritten[s] = true
		},
		"reply": func(e *Entry) { send(e).Reply = d.reply(e) },
	}
}

// messageTemplate reads a message: a JSON value whose strings may hold {param}
// placeholders. It returns the value and its parameters (without request_id).
func (d *decoder) messageTemplate(e *Entry) (any, []string) {
	n := e.Value.Single()
	if n == nil {
		d.expect(e, `a JSON message such as { method: "SUBSCRIBE", id: "{request_id}" }, or a text`)
		return nil, nil
	}
	v, ok := d.jsonValue(e.Key, n)
	if !ok {
		return nil, nil
	}
	if v == nil {
		d.rep.errorf(n.Position(), "%s: expected a JSON message or a text, found null", e.Key)
		return nil, nil
	}
	var params []string
	seen := map[string]bool{RequestIDParam: true}
	templateStrings(n, func(s *String) {
		names, err := TemplateParams(s.Value)
		if err != nil {
			d.rep.errorf(s.P, "%s: %v", e.Key, err)
			return
		}
		for _, p := range names {
			if !seen[p] {
				seen[p] = true
				params = append(params, p)
			}
		}
	})
	return v, params
}

// templateStrings calls visit for every string of a message as written.
func templateStrings(n Node, visit func(*String)) {
	switch v := n.(type) {
	case *String:
		visit(v)
	case *List:
		for _, it := range v.Items {
			if w := it.Single(); w != nil {
				templateStrings(w, visit)
			}
		}
	case *Object:
		for _, e := range v.Entries {
			if w := e.Value.Single(); w != nil {
				templateStrings(w, visit)
			}
		}
	}
}

// reply reads `reply: "$.id"` (the same path in the reply and the request) or
// `reply: { match: "$.id", request: "$.params.id", error: "$.error" }`.
func (d *decoder) reply(e *Entry) *Reply {
	r := &Reply{Pos: e.KeyPos}
	if s, isString := e.Value.Single().(*String); isString {
		if d.jsonPath(e.Key, s) {
			r.Match, r.Request = s.Value, s.Value
		}
		return r
	}
	_, entries, isBlock := d.objectQuiet(e)
	if !isBlock {
		d.expect(e, socketReplyForm)
		return r
	}
	path := func(dst *string) setting {
		return func(e *Entry) {
			s, isString := e.Value.Single().(*String)
			if !isString {
				d.expect(e, `a JSONPath such as "$.id"`)
				return
			}
			if d.jsonPath(e.Key, s) {
				*dst = s.Value
			}
		}
	}
	matchWritten := false
	d.block("reply", entries, map[string]setting{
		"match":   func(e *Entry) { matchWritten = true; path(&r.Match)(e) },
		"request": path(&r.Request),
		"error":   path(&r.Error),
	})
	if !matchWritten {
		d.rep.errorf(e.KeyPos, "reply: missing match (the JSONPath into a received message that identifies the reply, such as \"$.id\")")
	}
	if r.Request == "" {
		r.Request = r.Match
	}
	return r
}

// jsonPath checks a JSONPath, reporting a bad one at its string.
func (d *decoder) jsonPath(key string, s *String) bool {
	if _, err := transform.CompilePath(s.Value); err != nil {
		d.rep.errorf(s.P, "%s: %v", key, err)
		return false
	}
	return true
}

// checkReplyRequest reports a reply whose request path selects nothing in the message:
// no reply could ever match it.
func (d *decoder) checkReplyRequest(what string, message any, r *Reply) {
	if r == nil || message == nil {
		return
	}
	p, err := transform.CompilePath(r.Request)
	if err != nil {
		return // reported where it was read
	}
	if _, found := p.First(message); !found {
		d.rep.errorf(r.Pos, "%s: reply: the message has nothing at %s, so no reply could match it; put an id there (such as id: \"{request_id}\") or set request:", what, r.Request)
	}
}

// heartbeat reads `heartbeat: off` or `heartbeat { interval, timeout, message, reply }`.
func (d *decoder) heartbeat(e *Entry) *Heartbeat {
	h := &Heartbeat{Pos: e.KeyPos}
	if id, isIdent := d.words(e.Value).Single().(*Ident); isIdent && (id.Name == "off" || id.Name == "false") {
		h.Off = true
		return h
	}
	_, entries, isBlock := d.objectQuiet(e)
	if !isBlock {
		d.expect(e, "off, or a block { interval: 30s, timeout: 10s, message: { … }, reply: … }")
		return nil
	}
	var messageEntry *Entry
	d.block("heartbeat", entries, map[string]setting{
		"interval": func(e *Entry) { h.Interval, _ = d.positiveDuration(e) },
		"timeout":  func(e *Entry) { h.Timeout, _ = d.positiveDuration(e) },
		"message": func(e *Entry) {
			messageEntry = e
			var params []string
			h.Message, params = d.messageTemplate(e)
			if len(params) > 0 {
				d.rep.errorf(e.KeyPos, "heartbeat: message: {%s} has no value here; a heartbeat's message may hold only {%s}", params[0], RequestIDParam)
			}
		},
		"reply": func(e *Entry) { h.Reply = d.reply(e) },
	})
	if h.Reply != nil && messageEntry == nil {
		d.rep.errorf(h.Reply.Pos, "heartbeat: reply answers a heartbeat message; give message: too (ping frames are answered by pongs)")
	}
	d.checkReplyRequest("heartbeat", h.Message, h.Reply)
	return h
}

// reconnect reads the back-off between connection attempts: a back-off word
// (exponential_backoff(1s, max 30s), constant_backoff(5s), linear_backoff(1s)) or a
// block { backoff, initial, max, multiplier }. There is no number of attempts: a feed
// reconnects for as long as its flow runs.
func (d *decoder) reconnect(e *Entry) *Retry {
	r := &Retry{Pos: e.KeyPos, Backoff: BackoffExponential}
	if _, entries, isBlock := d.objectQuiet(e); isBlock {
		d.block("reconnect", entries, d.backoffSettings(r, nil, "backoff", "initial", "max", "multiplier"))
		if r.Backoff != BackoffExponential && r.Multiplier > 0 {
			d.rep.warnf(e.KeyPos, "reconnect: a multiplier has no effect on a %s back-off", r.Backoff)
		}
		if r.Initial > 0 && r.Max > 0 && r.Max < r.Initial {
			d.rep.errorf(e.KeyPos, "reconnect: max %s is shorter than the first delay %s", r.Max, r.Initial)
		}
		return r
	}
	const expected = "a back-off such as exponential_backoff(1s, max 30s), constant_backoff(5s) or linear_backoff(1s), or a block { initial: 1s, max: 30s }"
	n := d.single(e, expected)
	if n == nil {
		return nil
	}
	name := ""
	switch w := n.(type) {
	case *Ident:
		name = w.Name
	case *Call:
		name = w.Name
	}
	if name != "exponential_backoff" && name != "constant_backoff" && name != "linear_backoff" {
		d.rep.errorf(n.Position(), "reconnect: expected %s, found %s", expected, Text(n))
		return nil
	}
	if !d.backoffWord(e.Key, r, n) {
		return nil
	}
	return r
}

// checkSocketIntegration applies the rules of websocket integrations, and reports their
// settings in integrations of other types.
func (d *decoder) checkSocketIntegration(in *Integration, wd *WebhookDelivery) {
	if in.Type != TypeWebSocket {
		if ws := in.WebSocket; ws != nil {
			d.rep.errorf(socketSettingPos(in, ws), "integration %s: subscribe, heartbeat and reconnect are settings of a websocket connection; set type: websocket", in.Name)
			in.WebSocket = nil
		}
		return
	}
	if in.WebSocket == nil {
		in.WebSocket = &WebSocket{}
	}
	if in.BaseURL == nil {
		d.rep.errorf(in.Pos, "integration %s: a websocket integration needs base_url: the ws:// or wss:// URL to connect to", in.Name)
	}
	if in.TLS != nil && in.BaseURL != nil && in.BaseURL.IsLiteral() {
		if u, _ := in.BaseURL.Resolve(nil); strings.HasPrefix(strings.ToLower(u), "ws://") {
			d.rep.warnf(in.TLS.Pos, "integration %s: tls has no effect on the ws:// base_url; use wss://", in.Name)
		}
	}
	notForSockets := func(at Pos, what string) {
		d.rep.errorf(at, "integration %s: %s does not apply to a websocket integration", in.Name, what)
	}
	if in.Idempotency != nil {
		notForSockets(in.Idempotency.Pos, "idempotency (a message has no header to carry a key)")
	}
	if in.Batching != nil {
		notForSockets(in.Batching.Pos, "batching")
	}
	if in.Signature != nil {
		notForSockets(in.Signature.Pos, "signature (it signs HTTP bodies)")
	}
	if in.DefaultCacheTTL != 0 {
		notForSockets(in.Pos, "default_cache_ttl (replies are not cached)")
	}
	if in.Fallback != nil && in.Fallback.Kind == FallbackCache {
		notForSockets(in.Fallback.Pos, "fallback: cache (replies are not cached; fallback: default({…}) works)")
	}
	if wd.DeadLetter != nil {
		notForSockets(wd.DeadLetter.Pos, "dead_letter")
	}
}

// socketSettingPos is where the first websocket setting of a block is.
func socketSettingPos(in *Integration, ws *WebSocket) Pos {
	switch {
	case ws.Subscribe != nil:
		return ws.Subscribe.Pos
	case ws.Heartbeat != nil:
		return ws.Heartbeat.Pos
	case ws.Reconnect != nil:
		return ws.Reconnect.Pos
	}
	// A setting whose own decoding failed (reported there) still made the block: the
	// integration's position, so the diagnostic keeps its file:line:col.
	return in.Pos
}

// checkSocketOperation checks an operation against its integration's type: a websocket
// integration's operations send a message and await a reply; the others' cannot.
func (d *decoder) checkSocketOperation(in *Integration, op *Operation) {
	if in.Type != TypeWebSocket {
		if op.Send != nil {
			d.rep.errorf(op.Send.Pos, "operation %s: message and reply belong to operations of websocket integrations; integration %s is type %s", op.Name, in.Name, in.Type)
			op.Send = nil
		}
		return
	}
	what := "operation " + op.Name
	switch {
	case op.Method != "" || op.Path != "" || op.GraphQL != nil:
		d.rep.errorf(op.Pos, "%s of websocket integration %s sends message: and awaits its reply; method, path, query and mutation do not apply", what, in.Name)
	case len(op.Query) > 0 || len(op.Body) > 0 || len(op.Headers) > 0 || op.BodyType != "json":
		d.rep.errorf(op.Pos, "%s of websocket integration %s: its parameters are the {placeholders} of message:; query, body, headers and body_type do not apply", what, in.Name)
	case op.Cache != 0 || len(op.SuccessCodes) > 0:
		d.rep.errorf(op.Pos, "%s of websocket integration %s: cache and success_codes do not apply (replies are not cached; a reply is a success unless its error path holds a value)", what, in.Name)
	case op.Send == nil || !d.messageWritten[op.Send]:
		d.rep.errorf(op.Pos, "%s of websocket integration %s needs message: (what to send)", what, in.Name)
	case op.Send.Message == nil:
		// reported where it was read
	case op.Send.Reply == nil:
		d.rep.errorf(op.Pos, "%s of websocket integration %s needs reply: (which received message answers it: %s)", what, in.Name, socketReplyForm)
	default:
		d.checkReplyRequest(what, op.Send.Message, op.Send.Reply)
	}
}
