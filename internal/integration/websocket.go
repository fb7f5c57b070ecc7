package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/transform"
	"github.com/junctionhq/junction/internal/wsclient"
)

// socket is what a `type: websocket` integration adds to its client: how a connection
// is made (URL, headers and credentials on the handshake, TLS), how one is checked and
// made again, what a feed subscribes with, and the connection its operations share.
type socket struct {
	c         *client
	subscribe *messageTemplate // nil: a feed sends nothing when it connects
	heartbeat *config.Heartbeat
	reconnect retry.Policy
	timeout   time.Duration // the handshake, a write, the wait for a subscription's reply
	ids       atomic.Uint64 // the {request_id} of every message sent
	caller    *wsclient.Caller
}

// messageTemplate is a message as declared, compiled: a JSON value whose strings hold
// {param} placeholders, and the paths that find its reply.
type messageTemplate struct {
	message any
	params  []string
	reply   *replyPaths // nil: no reply awaited
}

type replyPaths struct {
	match, request, err *transform.Path // err nil without an error path
}

// ReconnectDefaults is the back-off between a feed's connection attempts when
// `reconnect` does not say: from 1 s, doubling, at most 30 s, ±25 %.
func ReconnectDefaults() retry.Policy {
	return retry.Policy{Backoff: retry.BackoffExponential, Initial: time.Second, Multiplier: retry.DefaultMultiplier, Max: retry.DefaultMax, Jitter: retry.DefaultJitter}
}

// newSocket compiles a websocket integration's settings.
func newSocket(c *client, in *config.Integration) (*socket, error) {
	ws := in.WebSocket
	if ws == nil {
		ws = &config.WebSocket{}
	}
	s := &socket{c: c, heartbeat: ws.Heartbeat, reconnect: ReconnectDefaults().With(ws.Reconnect), timeout: attemptTimeout(0, in.Timeout)}
	var err error
	if ws.Subscribe != nil {
		if s.subscribe, err = compileMessage(ws.Subscribe.Message, ws.Subscribe.Params, ws.Subscribe.Reply); err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	opts, err := s.options()
	if err != nil {
		return nil, err
	}
	s.caller = wsclient.NewCaller(opts)
	return s, nil
}

// options are the connection settings every connection of the integration shares.
func (s *socket) options() (wsclient.Options, error) {
	o := wsclient.Options{
		Name: s.c.name, Dial: s.dial, Timeout: s.timeout, ReadLimit: s.c.env.maxResponseBytes,
		Clock: s.c.env.clock, Logger: s.c.env.logger, Status: s.c.noteConnection,
		Heartbeat: wsclient.Heartbeat{Interval: wsclient.HeartbeatIntervalDefault, Timeout: wsclient.HeartbeatTimeoutDefault},
	}
	hb := s.heartbeat
	switch {
	case hb == nil:
	case hb.Off:
		o.Heartbeat = wsclient.Heartbeat{}
	default:
		if hb.Interval > 0 {
			o.Heartbeat.Interval = hb.Interval
		}
		if hb.Timeout > 0 {
			o.Heartbeat.Timeout = hb.Timeout
		}
		if hb.Message != nil {
			t, err := compileMessage(hb.Message, nil, hb.Reply)
			if err != nil {
				return o, fmt.Errorf("heartbeat: %w", err)
			}
			o.Heartbeat.Message = func() *wsclient.Request {
				req, _ := s.request(t, nil) // it takes no parameters: nothing can be missing
				return req
			}
		}
	}
	return o, nil
}

func compileMessage(message any, params []string, r *config.Reply) (*messageTemplate, error) {
	t := &messageTemplate{message: message, params: params}
	if r == nil {
		return t, nil
	}
	t.reply = &replyPaths{}
	var err error
	if t.reply.match, err = transform.CompilePath(r.Match); err != nil {
		return nil, err
	}
	if t.reply.request, err = transform.CompilePath(r.Request); err != nil {
		return nil, err
	}
	if r.Error != "" {
		if t.reply.err, err = transform.CompilePath(r.Error); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// dial makes one connection: the handshake carries the integration's headers and
// credentials, applied as to any of its requests (an api_key in the query goes into
// the URL), over its TLS settings. Failures are redacted: a handshake URL may hold a key.
func (s *socket) dial(ctx context.Context) (*websocket.Conn, error) {
	c := s.c
	target := "http" + strings.TrimPrefix(c.baseURL, "ws") // ws:// → http://, wss:// → https://
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("%q is not a ws:// or wss:// URL", redact.URL(c.baseURL))
	}
	req.Header = c.staticHeaders.Clone()
	if err := c.st.cred.Apply(ctx, req, nil); err != nil {
		return nil, c.scrub(fmt.Errorf("could not obtain credentials: %w", redact.Error(err)))
	}
	conn, resp, err := websocket.Dial(ctx, req.URL.String(), &websocket.DialOptions{HTTPClient: c.st.calls, HTTPHeader: req.Header})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("the handshake was answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		return nil, c.scrub(redact.Error(err))
	}
	return conn, nil
}

// request renders a message with params and a fresh request id, and what answers it.
func (s *socket) request(t *messageTemplate, params map[string]any) (*wsclient.Request, []ParamError) {
	r := renderer{params: params, id: s.ids.Add(1), used: map[string]bool{}}
	sent := r.value(t.message)
	for name := range params {
		if !r.used[name] {
			r.problems = append(r.problems, ParamError{Param: name, Detail: "unknown parameter; the message takes: " + takes(t.params)})
		}
	}
	if len(r.problems) > 0 {
		sort.Slice(r.problems, func(i, j int) bool { return r.problems[i].Param < r.problems[j].Param })
		return nil, r.problems
	}
	var body []byte
	if text, isText := sent.(string); isText {
		body = []byte(text) // a text message is sent as written, not as a JSON string
	} else {
		var err error
		if body, err = json.Marshal(sent); err != nil {
			return nil, []ParamError{{Detail: "cannot encode the message: " + err.Error()}}
		}
	}
	req := &wsclient.Request{Message: body}
	if t.reply != nil {
		v, _ := t.reply.request.First(sent)
		req.Reply = &wsclient.Match{Path: t.reply.match, Value: wsclient.Text(v), Error: t.reply.err}
	}
	return req, nil
}

func takes(params []string) string {
	if len(params) == 0 {
		return "none"
	}
	return strings.Join(params, ", ")
}

// renderer fills a message's placeholders.
type renderer struct {
	params   map[string]any
	id       uint64
	used     map[string]bool
	problems []ParamError
}

func (r *renderer) value(v any) any {
	switch x := v.(type) {
	case string:
		return r.text(x)
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = r.value(it)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			out[k] = r.value(it)
		}
		return out
	}
	return v
}

// text fills a string: "{name}" alone becomes the parameter's value as it is (a number
// stays a number); a placeholder among other text becomes the parameter's text.
func (r *renderer) text(s string) any {
	names, err := config.TemplateParams(s)
	if err != nil || len(names) == 0 {
		return s
	}
	if len(names) == 1 && s == "{"+names[0]+"}" {
		v, ok := r.param(names[0])
		if !ok {
			return nil
		}
		return v
	}
	for _, name := range names {
		v, ok := r.param(name)
		if !ok {
			continue
		}
		text, scalar := scalarString(v)
		if u, isID := v.(uint64); isID {
			text, scalar = fmt.Sprint(u), true
		}
		if !scalar {
			r.problems = append(r.problems, ParamError{Param: name, Detail: "expected a string or number: it is part of a text in the message"})
			continue
		}
		s = strings.ReplaceAll(s, "{"+name+"}", text)
	}
	return s
}

func (r *renderer) param(name string) (any, bool) {
	if name == config.RequestIDParam {
		return r.id, true
	}
	r.used[name] = true
	v, ok := r.params[name]
	if !ok || v == nil {
		if !slices.ContainsFunc(r.problems, func(p ParamError) bool { return p.Param == name }) {
			r.problems = append(r.problems, ParamError{Param: name, Detail: "required (a {" + name + "} of the message)"})
		}
		return nil, false
	}
	return v, true
}

// noteConnection records how the integration's connections fare in its health: the
// last success and the last failure with its reason. Connections are not calls: they
// count in no success rate or latency.
func (c *client) noteConnection(err error) {
	now := c.env.clock.Now()
	c.st.stats.mu.Lock()
	defer c.st.stats.mu.Unlock()
	if err == nil {
		c.st.stats.lastSuccess = now
		return
	}
	c.st.stats.lastFailure, c.st.stats.lastError = now, "websocket: "+c.scrub(err).Error()
}

// FeedMessage is one message of a websocket integration's feed.
type FeedMessage struct {
	Body       []byte
	Binary     bool // a binary message; text otherwise
	Time       time.Time
	Connection int    // the feed's connection it came on, from 1
	Seq        uint64 // its place among that connection's messages, from 1
}

// Feed is a websocket integration's feed, subscribed with given parameters: Read reads
// it.
type Feed struct {
	opts wsclient.FeedOptions
}

// Feed returns a websocket integration's feed, subscribed with params filling its
// subscribe message. It connects nothing; the error, an *Error, says why the feed
// cannot be read: the integration does not exist, is not type websocket, is
// misconfigured, or params do not fit its subscribe message.
func (r *Runtime) Feed(integration string, params map[string]any) (*Feed, error) {
	c, err := r.client(integration)
	if err != nil {
		return nil, err
	}
	if c.socket == nil {
		if c.misconfigured != "" && c.typ == string(config.TypeWebSocket) {
			return nil, &Error{Kind: KindMisconfigured, Integration: c.name, Detail: "integration is misconfigured: " + c.misconfigured}
		}
		return nil, &Error{Kind: KindInvalidParams, Integration: c.name, Detail: fmt.Sprintf("integration %s is type %s; only a websocket integration has a feed", c.name, c.typ)}
	}
	s := c.socket
	f := &Feed{opts: wsclient.FeedOptions{Reconnect: s.reconnect}}
	if f.opts.Options, err = s.options(); err != nil {
		return nil, &Error{Kind: KindMisconfigured, Integration: c.name, Detail: err.Error()}
	}
	t := s.subscribe
	if t == nil {
		if len(params) > 0 {
			return nil, invalidParams(c.name, "subscribe", []ParamError{{Detail: "integration " + c.name + " declares no subscribe message to fill with params"}})
		}
		return f, nil
	}
	if _, problems := s.request(t, params); problems != nil {
		return nil, invalidParams(c.name, "subscribe", problems)
	}
	f.opts.Subscribe = func() (*wsclient.Request, error) {
		req, problems := s.request(t, params)
		if problems != nil {
			return nil, invalidParams(c.name, "subscribe", problems)
		}
		return req, nil
	}
	return f, nil
}

// Read reads the feed until ctx ends: it connects, subscribes, and calls receive with
// every message received, in order and one at a time, nothing being read while receive
// runs (the feed's back-pressure). Whenever the connection fails it connects and
// subscribes again after the integration's reconnect back-off. It returns nil when ctx
// ends. receive gets the connection's context and should return its error once that
// is done.
func (f *Feed) Read(ctx context.Context, receive func(context.Context, FeedMessage) error) error {
	err := wsclient.Feed(ctx, f.opts, func(ctx context.Context, m wsclient.Message) error {
		return receive(ctx, FeedMessage{Body: m.Data, Binary: m.Binary, Time: m.Time, Connection: m.Connection, Seq: m.Seq})
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
