package amqp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Defaults of the options.
const (
	ReconnectDelayDefault = 2 * time.Second // poll_interval
	dialTimeout           = 10 * time.Second
)

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
	// tls is the tls option's settings, nil when it is not set. With an amqps:// URL
	// amqp091 does the handshake with them; with amqp:// dial does it itself, since a
	// tls option always means TLS.
	tls    *tls.Config
	scheme string // "amqp" or "amqps"

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

// spec declares the rabbitmq connector's options.
var spec = &option.Spec{
	Summary: `Reads from a RabbitMQ queue with manual acknowledgements and publishes to an
exchange with publisher confirms: a message is acknowledged only after the flow is done with
it, and a write succeeds only after RabbitMQ has taken every message. The connector declares
its exchanges, queue and bindings itself (idempotently) whenever it connects, and reconnects
when the connection drops.`,
	Description: `Deliveries carry the headers routing_key, exchange, message_id, content_type and
redelivered (when set), plus the message's AMQP headers as strings. The sink sends a message's
message_id and content_type headers as those properties and its other headers as AMQP headers.`,
	Fields: []option.Field{
		{Name: "url", Type: option.String, Required: option.Always, Secret: true, Example: "env(AMQP_URL)",
			Description: "the broker's URL, amqp://user:pass@host:5672/vhost or amqps://…",
			Parse:       option.Convert(parseURL)},
		option.TLS("It makes an amqp:// URL connect with TLS too (to the URL's port, 5672 when none is written); with amqps:// it replaces the URL's cacertfile, certfile, keyfile and server_name_indication parameters."),
		option.Format(),
		{Name: "exchanges", Type: option.Blocks, Example: `[{ name: "orders", type: topic }]`,
			Description: "exchanges to declare whenever the connector connects.",
			Fields: []option.Field{
				{Name: "name", Type: option.String, Required: option.Always, Description: "the exchange's name (the default exchange needs no declaring)"},
				{Name: "type", Type: option.String, Default: "topic", Enum: []string{"direct", "topic", "fanout", "headers"}, Description: "the exchange type"},
				{Name: "durable", Type: option.Bool, Default: true, Description: "whether the exchange survives a broker restart"},
			}},
		{Name: "queue", Type: option.Block, Shorthand: "name", Required: option.Source, Example: `{ name: "order-processing" }`,
			Description: "the queue to read from, declared whenever the connector connects. A sink publishing to the default exchange routes to it by name.",
			Fields: []option.Field{
				{Name: "name", Type: option.String, Required: option.Always, Description: "the queue's name"},
				{Name: "durable", Type: option.Bool, Default: true, Description: "whether the queue survives a broker restart"},
				{Name: "arguments", Type: option.Map, Example: "{ x-queue-type: quorum, x-message-ttl: 60000 }",
					Description: "queue arguments (x-…); durations are sent as milliseconds",
					Parse:       option.Convert(table)},
			}},
		{Name: "bindings", Type: option.Blocks, Example: `[{ exchange: "orders", routing_key: "order.*" }]`,
			Description: "bindings of the queue to exchanges.",
			Fields: []option.Field{
				{Name: "exchange", Type: option.String, Required: option.Always, Description: "the exchange to bind the queue to"},
				{Name: "routing_key", Type: option.String, Description: "the binding key (topic patterns such as order.*)"},
			}},
		{Name: "prefetch", Type: option.Int, For: option.Source, Min: 0, Max: 65535,
			Description: "unacknowledged messages RabbitMQ sends ahead. Default and cap: the flow's in-flight limit."},
		{Name: "batch_size", Type: option.Int, For: option.Source, Min: 0,
			Description: "caps prefetch too (seed 002's name for it)."},
		{Name: "poll_interval", Type: option.Duration, For: option.Source, Default: ReconnectDelayDefault, Min: time.Duration(0),
			Description: "how long to wait before reconnecting after the connection drops. Deliveries are pushed, never polled."},
		{Name: "visibility_timeout", Type: option.Duration, For: option.Source, Min: time.Duration(0),
			Description: "a delivery not settled within it is handed back to RabbitMQ (requeued) by the connector, so a stuck message is delivered again; its late Ack or Nack then fails. 0 is off."},
		{Name: "exchange", Type: option.String, For: option.Sink,
			Description: `the exchange to publish to; "" is the default exchange, which routes by queue name.`},
		{Name: "routing_key", Type: option.String, For: option.Sink,
			Description: "the routing key. Default: the message's routing_key header, else the queue's name when publishing to the default exchange."},
		{Name: "persistent", Type: option.Bool, For: option.Sink, Default: true,
			Description: "delivery mode 2, so messages survive a broker restart."},
		{Name: "mandatory", Type: option.Bool, For: option.Sink,
			Description: "a message no queue is bound for is an error instead of being dropped by RabbitMQ."},
	},
	Check: func(v *option.Values, _ option.Role) {
		if v.Has("bindings") && v.Block("queue") == nil && v.OK("queue") {
			v.Fail("bindings", "bindings bind the queue to exchanges, but no queue is set")
		}
	},
	Examples: []option.Example{
		{Role: option.Source, Title: "a durable queue bound to a topic exchange", Options: `url: "amqp://localhost:5672/"
exchanges: [{ name: "orders", type: topic }]
queue: { name: "order-processing", durable: true }
bindings: [{ exchange: "orders", routing_key: "order.*" }]
prefetch: 50`},
		{Role: option.Sink, Title: "publish to a topic exchange", Options: `url: "amqp://localhost:5672/"
exchange: "orders"
routing_key: "order.created"`},
	},
}

// readOptions decodes the options for role (option.Alone for Check).
func readOptions(s connector.Settings, role option.Role) (*options, error) {
	v, err := s.Decode(spec, role)
	if err != nil {
		return nil, err
	}
	u := option.Get[brokerURL](v, "url")
	o := &options{
		url: u.raw, where: u.where, name: s.Connector.Name, logger: s.Env.Log(), now: time.Now,
		tls: option.TLSConfig(v), scheme: u.scheme,
		prefetch: v.Int("prefetch"), batchSize: v.Int("batch_size"),
		reconnectDelay: v.Duration("poll_interval"), visibility: v.Duration("visibility_timeout"),
		exchange: v.String("exchange"), hasKey: v.Has("routing_key"), routingKey: v.String("routing_key"),
		persistent: v.Bool("persistent"), mandatory: v.Bool("mandatory"),
	}
	if s.Env.Clock != nil {
		o.now = s.Env.Clock.Now
	}
	for _, x := range v.Blocks("exchanges") {
		o.exchanges = append(o.exchanges, exchange{name: x.String("name"), kind: x.String("type"), durable: x.Bool("durable")})
	}
	if q := v.Block("queue"); q != nil {
		o.queue = &queue{name: q.String("name"), durable: q.Bool("durable"), args: option.Get[amqp091.Table](q, "arguments")}
	}
	for _, b := range v.Blocks("bindings") {
		o.bindings = append(o.bindings, binding{exchange: b.String("exchange"), key: b.String("routing_key")})
	}
	return o, nil
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

// brokerURL is the url option: as given (it may hold a password), and without
// credentials for messages.
type brokerURL struct{ raw, where, scheme string }

func parseURL(raw string) (brokerURL, error) {
	u, err := amqp091.ParseURI(raw)
	if err != nil {
		// url.Parse's errors quote the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return brokerURL{}, fmt.Errorf("not a valid amqp:// or amqps:// URL: %v", err)
	}
	return brokerURL{raw: raw, where: redact(u), scheme: u.Scheme}, nil
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
