package nats

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
)

// Defaults and timings.
const (
	AckWaitDefault = 30 * time.Second
	dialTimeout    = 10 * time.Second
	requestTimeout = 10 * time.Second // JetStream API calls without a deadline of their own
	publishTimeout = 30 * time.Second // an acknowledgement that never comes fails the publish
)

type options struct {
	url   string // resolved; may hold credentials
	where string // url without credentials
	name  string

	stream   string
	subjects []string

	durable    string
	filter     string
	ackWait    time.Duration
	deliver    jetstream.DeliverPolicy
	maxDeliver int

	subject string
	dedupe  bool

	logger *slog.Logger
}

func readOptions(s connector.Settings, role string) (*options, error) {
	r := s.Reader()
	o := &options{name: s.Connector.Name, logger: s.Env.Log()}

	if v := r.Value("url", true); !v.IsZero() {
		o.url, o.where = resolveURL(r, v, s.Env.Lookup())
	}
	o.stream = r.String("stream", "", false)
	if strings.ContainsAny(o.stream, ".*> \t\r\n/\\") {
		r.Fail("stream", "%q: a stream name cannot contain . * > / \\ or spaces", o.stream)
	}
	o.subjects = r.Strings("subjects")
	for _, sub := range o.subjects {
		if !validSubject(sub, true) {
			r.Fail("subjects", "%q is not a valid subject", sub)
		}
	}
	if len(o.subjects) > 0 && o.stream == "" {
		r.Fail("subjects", "subjects are the stream's: set stream too")
	}

	o.durable = r.String("durable", "", false)
	if strings.ContainsAny(o.durable, ".*> \t\r\n/\\") {
		r.Fail("durable", "%q: a consumer name cannot contain . * > / \\ or spaces", o.durable)
	}
	o.filter = r.String("filter_subject", "", false)
	if o.filter != "" && !validSubject(o.filter, true) {
		r.Fail("filter_subject", "%q is not a valid subject", o.filter)
	}
	o.ackWait = r.Duration("ack_wait", AckWaitDefault)
	if o.ackWait < time.Second {
		r.Fail("ack_wait", "expected at least 1s")
	}
	switch d := r.String("deliver", "all", false); d {
	case "all":
		o.deliver = jetstream.DeliverAllPolicy
	case "new":
		o.deliver = jetstream.DeliverNewPolicy
	default:
		r.Fail("deliver", "expected all or new, found %q", d)
	}
	o.maxDeliver = r.Int("max_deliver", 0)
	if o.maxDeliver < 0 {
		r.Fail("max_deliver", "must not be negative (0 means no limit)")
	}

	o.subject = r.String("subject", "", false)
	if o.subject != "" && !validSubject(o.subject, false) {
		r.Fail("subject", "%q is not a subject one can publish to (no wildcards)", o.subject)
	}
	o.dedupe = r.Bool("dedupe", true)

	switch role {
	case "source":
		if o.stream == "" {
			r.Fail("stream", "a nats source reads a JetStream stream: set stream")
		}
		if o.durable == "" {
			r.Fail("durable", "a nats source needs a durable consumer name, which keeps its position: set durable")
		}
	case "sink":
		if o.subject == "" {
			r.Fail("subject", "a nats sink publishes to a subject: set subject")
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return o, nil
}

// validSubject checks a subject's tokens; wildcards (* for a token, > for the rest)
// only where a filter is meant.
func validSubject(s string, wildcards bool) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return false
		case t == "*" || t == ">":
			if !wildcards || (t == ">" && i != len(tokens)-1) {
				return false
			}
		case strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

// covers reports whether the stream subject pattern takes in subject s (which may be
// a pattern itself).
func covers(pattern, s string) bool {
	p, t := strings.Split(pattern, "."), strings.Split(s, ".")
	for i, pt := range p {
		if pt == ">" {
			return i < len(t)
		}
		if i >= len(t) {
			return false
		}
		switch {
		case pt == "*":
			if t[i] == ">" {
				return false
			}
		case pt != t[i]:
			return false
		}
	}
	return len(p) == len(t)
}

// resolveURL resolves env(…) and checks each server URL, returning the URL and a form
// without credentials.
func resolveURL(r *config.OptionReader, v config.Value, le config.LookupEnv) (string, string) {
	raw, err := v.Resolve(le)
	if err != nil {
		r.Fail("url", "%v", err)
		return "", ""
	}
	var shown []string
	for _, part := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" {
			// url.Parse's errors quote the whole URL, password included.
			r.Fail("url", "expected a URL such as nats://127.0.0.1:4222")
			return "", ""
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			r.Fail("url", "unsupported scheme %q; expected nats, tls, ws or wss", u.Scheme)
			return "", ""
		}
		u.User = nil
		shown = append(shown, u.String())
	}
	return raw, strings.Join(shown, ",")
}
