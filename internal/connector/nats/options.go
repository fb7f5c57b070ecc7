package nats

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
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
	tls   *tls.Config // the tls option; nil: TLS only as the URL (tls://) or the server asks

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

// spec declares the nats connector's options.
var spec = &option.Spec{
	Summary: `NATS JetStream: flows read from a stream through a durable pull consumer,
acknowledging each message when they are done with it, and publish to a subject, a write
succeeding once the stream has stored every message (each publish acknowledgement is
checked). The connector creates its stream when it does not exist, and adds missing subjects
to it.`,
	Description: `The consumer's max_ack_pending is the flow's in-flight limit. Ack acknowledges, Nack asks
for immediate redelivery (NAK). Deliveries taken from the stream but not yet settled when the
source closes are delivered again after ack_wait.

Deliveries carry the headers subject, stream, stream_seq and num_delivered, the message's
NATS headers (first value of each), and message_id from Nats-Msg-Id. The sink sends a
message's headers as NATS headers, except those and the Nats-* ones.`,
	Fields: []option.Field{
		{Name: "url", Type: option.String, Required: option.Always, Secret: true, Example: `"nats://localhost:4222"`,
			Description: "the server's URL, nats://host:4222, or several separated by commas (tls://, ws:// and wss:// too)",
			Parse:       option.Convert(parseURL)},
		option.TLS("It makes nats:// URLs connect with TLS too; a server that requires TLS gets it with the system's CAs even without it."),
		option.Format(),
		{Name: "stream", Type: option.String, Required: option.Source, Example: "ORDERS",
			Description: "the JetStream stream's name", Parse: option.Check(checkName("stream"))},
		{Name: "subjects", Type: option.Strings, Example: `["orders.>"]`,
			Description: "subjects the stream stores: when set, the stream is created (file storage) if it does not exist, or these are added to its subjects.",
			Parse:       option.Check(checkSubjects)},
		{Name: "durable", Type: option.String, For: option.Source, Required: option.Source, Example: "order-sync",
			Description: "the durable consumer's name, which keeps the source's position in the stream across restarts. Flows sharing it share the messages.",
			Parse:       option.Check(checkName("consumer"))},
		{Name: "filter_subject", Type: option.String, For: option.Source,
			Description: "only messages on this subject (wildcards allowed).",
			Parse: option.Check(func(s string) error {
				if s != "" && !validSubject(s, true) {
					return fmt.Errorf("%q is not a valid subject", s)
				}
				return nil
			})},
		{Name: "ack_wait", Type: option.Duration, For: option.Source, Default: AckWaitDefault, Min: time.Second,
			Description: "a delivery not settled within it is delivered again."},
		{Name: "deliver", Type: option.String, For: option.Source, Default: "all", Enum: []string{"all", "new"},
			Description: "where a new consumer starts: all (the start of the stream) or new (from now). JetStream cannot change it later, so a different value for an existing durable fails Open."},
		{Name: "max_deliver", Type: option.Int, For: option.Source, Min: 0,
			Description: "deliveries of one message before JetStream gives up on it; 0 is no limit."},
		{Name: "subject", Type: option.String, For: option.Sink, Required: option.Sink, Example: `"orders.created"`,
			Description: "the subject to publish to (no wildcards)",
			Parse: option.Check(func(s string) error {
				if s != "" && !validSubject(s, false) {
					return fmt.Errorf("%q is not a subject one can publish to (no wildcards)", s)
				}
				return nil
			})},
		{Name: "dedupe", Type: option.Bool, For: option.Sink, Default: true,
			Description: `send the message's id (its "id", else its "message_id" header) as Nats-Msg-Id, so JetStream stores a message retried within the stream's duplicate window once.`},
	},
	Check: func(v *option.Values, _ option.Role) {
		if len(v.Strings("subjects")) > 0 && v.String("stream") == "" && v.OK("stream") {
			v.Fail("subjects", "subjects are the stream's: set stream too")
		}
	},
	Examples: []option.Example{
		{Role: option.Source, Title: "a durable consumer of a stream it creates", Options: `url: "nats://localhost:4222"
stream: ORDERS
subjects: ["orders.>"]
durable: "order-sync"
filter_subject: "orders.created"`},
		{Role: option.Sink, Title: "publish to a stream's subject", Options: `url: "nats://localhost:4222"
stream: ORDERS
subjects: ["orders.>"]
subject: "orders.created"`},
	},
}

// checkName checks a stream's or consumer's name.
func checkName(what string) func(string) error {
	return func(name string) error {
		if strings.ContainsAny(name, ".*> \t\r\n/\\") {
			return fmt.Errorf("%q: a %s name cannot contain . * > / \\ or spaces", name, what)
		}
		return nil
	}
}

func checkSubjects(subjects []string) error {
	for _, sub := range subjects {
		if !validSubject(sub, true) {
			return fmt.Errorf("%q is not a valid subject", sub)
		}
	}
	return nil
}

// readOptions decodes the options for role (option.Alone for Check).
func readOptions(s connector.Settings, role option.Role) (*options, error) {
	v, err := s.Decode(spec, role)
	if err != nil {
		return nil, err
	}
	u := option.Get[serverURL](v, "url")
	o := &options{
		url: u.raw, where: u.where, name: s.Connector.Name, logger: s.Env.Log(), tls: option.TLSConfig(v),
		stream: v.String("stream"), subjects: v.Strings("subjects"),
		durable: v.String("durable"), filter: v.String("filter_subject"), ackWait: v.Duration("ack_wait"),
		deliver: jetstream.DeliverAllPolicy, maxDeliver: v.Int("max_deliver"),
		subject: v.String("subject"), dedupe: v.Bool("dedupe"),
	}
	if v.String("deliver") == "new" {
		o.deliver = jetstream.DeliverNewPolicy
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

// serverURL is the url option as given (it may hold credentials), and without
// credentials for messages.
type serverURL struct{ raw, where string }

func parseURL(raw string) (serverURL, error) {
	var shown []string
	for _, part := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" {
			// url.Parse's errors quote the whole URL, password included.
			return serverURL{}, errors.New("expected a URL such as nats://127.0.0.1:4222")
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return serverURL{}, fmt.Errorf("unsupported scheme %q; expected nats, tls, ws or wss", u.Scheme)
		}
		u.User = nil
		shown = append(shown, u.String())
	}
	return serverURL{raw: raw, where: strings.Join(shown, ",")}, nil
}
