package amqp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
)

// Defaults of the options.
const (
	ReconnectDelayDefault = 2 * time.Second // poll_interval
	dialTimeout           = 10 * time.Second
)

var exchangeKinds = map[string]bool{"direct": true, "topic": true, "fanout": true, "headers": true}

type exchange struct {
	name, kind string
	durable    bool
}

type queue struct {
	name    string
	durable bool
	args    amqp091.Table
}

type binding struct {
	exchange, key string
}

// options are everything a rabbitmq connector reads, for both roles: a connector block
// declares the topology that its sources and sinks share.
type options struct {
	url   string // resolved; may hold a password, never printed
	where string // url without credentials, for messages
	name  string // the connector's name, for RabbitMQ's connection list and logs

	exchanges []exchange
	queue     *queue
	bindings  []binding

	prefetch       int
	batchSize      int
	reconnectDelay time.Duration
	visibility     time.Duration

	exchange   string
	routingKey string
	hasKey     bool
	persistent bool
	mandatory  bool

	logger *slog.Logger
	now    func() time.Time
}

// readOptions reads and checks every option; role is "source", "sink" or "" (Check),
// and adds that role's requirements.
func readOptions(s connector.Settings, role string) (*options, error) {
	what := s.Connector.Type + " connector " + s.Connector.Name
	r := s.Reader()
	o := &options{name: s.Connector.Name, logger: s.Env.Log(), now: time.Now}
	if s.Env.Clock != nil {
		o.now = s.Env.Clock.Now
	}
	var sub []error // problems inside nested blocks, reported before unknown keys

	rawURL := r.Value("url", true)
	if !rawURL.IsZero() {
		o.url, o.where = resolveURL(r, rawURL, s.Env.Lookup())
	}

	for i, b := range r.Blocks("exchanges") {
		xr := b.Reader(fmt.Sprintf("%s: exchanges[%d]", what, i))
		x := exchange{
			name:    xr.String("name", "", true),
			kind:    xr.String("type", "topic", false),
			durable: xr.Bool("durable", true),
		}
		if !exchangeKinds[x.kind] {
			xr.Fail("type", "expected direct, topic, fanout or headers, found %q", x.kind)
		}
		if x.name == "" {
			xr.Fail("name", "an exchange needs a name (the default exchange needs no declaring)")
		}
		if err := xr.Done(); err != nil {
			sub = append(sub, err)
		}
		o.exchanges = append(o.exchanges, x)
	}

	if v, ok := r.Any("queue"); ok {
		q, err := readQueue(r, what, v)
		if err != nil {
			sub = append(sub, err)
		}
		o.queue = q
	}

	for i, b := range r.Blocks("bindings") {
		br := b.Reader(fmt.Sprintf("%s: bindings[%d]", what, i))
		bd := binding{exchange: br.String("exchange", "", true), key: br.String("routing_key", "", false)}
		if err := br.Done(); err != nil {
			sub = append(sub, err)
		}
		o.bindings = append(o.bindings, bd)
	}
	if len(o.bindings) > 0 && o.queue == nil {
		r.Fail("bindings", "bindings bind the queue to exchanges, but no queue is set")
	}

	o.prefetch = r.Int("prefetch", 0)
	o.batchSize = r.Int("batch_size", 0)
	o.reconnectDelay = r.Duration("poll_interval", ReconnectDelayDefault)
	o.visibility = r.Duration("visibility_timeout", 0)
	if o.prefetch < 0 || o.prefetch > 65535 {
		r.Fail("prefetch", "expected a number from 0 to 65535, found %d", o.prefetch)
	}
	if o.batchSize < 0 {
		r.Fail("batch_size", "must not be negative")
	}
	if o.reconnectDelay < 0 {
		r.Fail("poll_interval", "must not be negative")
	}
	if o.visibility < 0 {
		r.Fail("visibility_timeout", "must not be negative")
	}

	o.exchange = r.String("exchange", "", false)
	o.hasKey = r.Has("routing_key")
	o.routingKey = r.String("routing_key", "", false)
	o.persistent = r.Bool("persistent", true)
	o.mandatory = r.Bool("mandatory", false)

	if role == "source" && o.queue == nil {
		r.Fail("queue", "a rabbitmq source reads from a queue: set queue (a name or { name, durable })")
	}

	if len(sub) > 0 {
		return nil, sub[0]
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return o, nil
}

// readQueue reads `queue: "name"` or `queue: { name, durable, arguments }`.
func readQueue(r *config.OptionReader, what string, v any) (*queue, error) {
	switch q := v.(type) {
	case string:
		if q == "" {
			r.Fail("queue", "the queue needs a name")
		}
		return &queue{name: q, durable: true}, nil
	case config.Options:
		qr := q.Reader(what + ": queue")
		out := &queue{name: qr.String("name", "", true), durable: qr.Bool("durable", true)}
		if out.name == "" {
			qr.Fail("name", "the queue needs a name")
		}
		if args, ok := qr.Block("arguments"); ok {
			t, err := table(args)
			if err != nil {
				qr.Fail("arguments", "%v", err)
			}
			out.args = t
		}
		return out, qr.Done()
	}
	r.Fail("queue", "expected a queue name or a block { name, durable, arguments }, found %v", v)
	return nil, nil
}

// table converts queue arguments (x-message-ttl: 60000, x-queue-type: quorum …) to
// AMQP field values.
func table(o config.Options) (amqp091.Table, error) {
	t := amqp091.Table{}
	for _, e := range o.Entries {
		v, err := fieldValue(e.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Key, err)
		}
		t[e.Key] = v
	}
	return t, nil
}

func fieldValue(v any) (any, error) {
	switch x := v.(type) {
	case string, int64, float64, bool, nil:
		return x, nil
	case time.Duration:
		// RabbitMQ's time arguments (x-message-ttl, x-expires) are in milliseconds.
		return x.Milliseconds(), nil
	case config.Options:
		return table(x)
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			fv, err := fieldValue(it)
			if err != nil {
				return nil, err
			}
			out[i] = fv
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value %v", v)
}

// resolveURL resolves env(…) references and checks the URL, returning it and a form
// without credentials for messages.
func resolveURL(r *config.OptionReader, v config.Value, lookup config.LookupEnv) (string, string) {
	raw, err := v.Resolve(lookup)
	if err != nil {
		r.Fail("url", "%v", err)
		return "", ""
	}
	u, err := amqp091.ParseURI(raw)
	if err != nil {
		// url.Parse's errors quote the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		r.Fail("url", "not a valid amqp:// or amqps:// URL: %v", err)
		return "", ""
	}
	return raw, redact(u)
}

func redact(u amqp091.URI) string {
	vhost := ""
	if u.Vhost != "/" {
		vhost = url.PathEscape(u.Vhost)
	}
	return fmt.Sprintf("%s://%s:%d/%s", u.Scheme, u.Host, u.Port, vhost)
}

// prefetchFor is how many unacknowledged deliveries RabbitMQ may send ahead: never more
// than the flow's in-flight limit, which is the source's promise to the flow.
func (o *options) prefetchFor(inFlight int) int {
	n := max(inFlight, 1)
	if o.prefetch > 0 {
		n = min(n, o.prefetch)
	}
	if o.batchSize > 0 {
		n = min(n, o.batchSize)
	}
	return min(n, 65535)
}

// sinkKey is the routing key of a message: the routing_key option, else the message's
// routing_key header, else (for the default exchange) the queue's name.
func (o *options) sinkKey(m connector.Message) string {
	if o.hasKey {
		return o.routingKey
	}
	if k, ok := m.Headers["routing_key"]; ok {
		return k
	}
	if o.exchange == "" && o.queue != nil {
		return o.queue.name
	}
	return ""
}
