package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Defaults of the options and of the timing the options do not expose.
const (
	StartDefault = "earliest"

	// commitInterval is how often acknowledged offsets are committed while consuming:
	// the longest window of work redone after a crash, traded against commit traffic.
	commitInterval = 5 * time.Second
	// checkTimeout bounds Check when the caller's context has no deadline.
	checkTimeout = 10 * time.Second
	// closeTimeout bounds the final commit of Close.
	closeTimeout = 10 * time.Second
)

// Kind returns the kafka connector type.
func Kind() connector.Kind {
	return connector.Kind{
		Name:      "kafka",
		Spec:      spec,
		NewSource: NewSource,
		NewSink:   NewSink,
		Check:     Check,
	}
}

// options are the settings of one use of the connector, read and checked up front.
type options struct {
	what    string // "kafka connector NAME", for messages
	brokers []string
	topics  []string // source
	topic   string   // sink
	group   string
	start   kgo.Offset
	key     jp.Expr // nil: records without key
	sasl    *saslOptions
	tls     *tls.Config // nil: plain text
}

type saslOptions struct {
	mechanism, username, password string
}

// spec declares the kafka connector's options.
var spec = &option.Spec{
	Summary: `Apache Kafka and Kafka-compatible brokers such as Redpanda, with franz-go. The source
consumes topics as a consumer group and commits an offset only once the record, and every
earlier record of its partition, is acknowledged; the sink produces each batch with acks=all
and returns once every record is stored.`,
	Description: `Settling: Ack marks a record done; the longest acknowledged prefix of each partition is
committed every few seconds, when partitions are revoked, and on Close. Nack keeps the record
uncommitted and hands it out again from memory (ahead of new records), so the committed offset
never passes it; if the process stops first, Kafka redelivers it and everything after it from
the committed offset. Records after a nacked one are not delivered a second time while the
source runs: in-flight processing already gives up strict per-partition order, so replaying
them would only add duplicates.`,
	Fields: []option.Field{
		{Name: "brokers", Type: option.Strings, Required: option.Always, Example: `["localhost:9092"]`,
			Description: "the seed brokers, a list of host:port",
			Parse: option.Check(func(brokers []string) error {
				if slices.ContainsFunc(brokers, func(b string) bool { return strings.TrimSpace(b) == "" }) {
					return errors.New("empty broker address")
				}
				return nil
			})},
		{Name: "topics", Type: option.Strings, For: option.Source, Example: `["orders", "refunds"]`,
			Description: "the topics a source consumes (or topic, for one)."},
		{Name: "topic", Type: option.String, Required: option.Sink, Example: "orders",
			Description: "the topic a sink produces to. A source consumes it when topics is not set."},
		{Name: "group", Type: option.String, For: option.Source, Required: option.Source, Example: "order-sync",
			Description: "the consumer group, which keeps the source's committed offsets"},
		{Name: "start", Type: option.String, For: option.Source, Default: StartDefault, Enum: []string{"earliest", "latest"},
			Description: "where a group without committed offsets starts."},
		{Name: "key", Type: option.String, For: option.Sink, Example: `"$.id"`,
			Description: "the JSONPath of the record key in the message body; records have no key when unset.",
			Parse:       option.Convert(parseKey)},
		{Name: "sasl", Type: option.Block,
			Description: "SASL authentication.",
			Fields: []option.Field{
				{Name: "mechanism", Type: option.String, Required: option.Always, Enum: []string{"plain", "scram-sha-256", "scram-sha-512"}, Description: "the SASL mechanism"},
				{Name: "username", Type: option.String, Required: option.Always, Secret: true, Description: "the user name"},
				{Name: "password", Type: option.String, Required: option.Always, Secret: true, Description: "the password"},
			}},
		option.TLS("Each broker's certificate must carry the broker's host name (as the brokers and the cluster's metadata name it) unless server_name is set."),
		option.Format(),
	},
	Check: func(v *option.Values, role option.Role) {
		if role != option.Source {
			return
		}
		switch topics, topic := v.Strings("topics"), v.String("topic"); {
		case len(topics) > 0 && topic != "":
			v.Fail("topic", "set topic or topics, not both")
		case len(topics) == 0 && topic == "" && v.OK("topics"):
			v.Fail("topic", "missing topic (or topics) to consume")
		}
	},
	Examples: []option.Example{
		{Role: option.Source, Title: "a consumer group on two topics", Options: `brokers: ["localhost:9092"]
topics: ["orders", "refunds"]
group: "order-sync"
start: earliest`},
		{Role: option.Sink, Title: "records keyed by the order id", Options: `brokers: ["localhost:9092"]
topic: "orders-enriched"
key: "$.id"`},
	},
}

func parseKey(key string) (jp.Expr, error) {
	if key == "" {
		return nil, nil
	}
	x, err := jp.ParseString(key)
	if err != nil {
		return nil, fmt.Errorf("not a JSONPath (such as $.id): %v", err)
	}
	return x, nil
}

// readOptions decodes the options for role (option.Alone for Check).
func readOptions(s connector.Settings, role option.Role) (*options, error) {
	v, err := s.Decode(spec, role)
	if err != nil {
		return nil, err
	}
	o := &options{
		what: s.Connector.Type + " connector " + s.Connector.Name, brokers: v.Strings("brokers"),
		group: v.String("group"), start: kgo.NewOffset().AtStart(), key: option.Get[jp.Expr](v, "key"), tls: option.TLSConfig(v),
	}
	if v.String("start") == "latest" {
		o.start = kgo.NewOffset().AtEnd()
	}
	topics, topic := v.Strings("topics"), v.String("topic")
	switch role {
	case option.Source:
		o.topics = topics
		if topic != "" {
			o.topics = []string{topic}
		}
	case option.Sink:
		o.topic = topic
	default:
		o.topics = topics
		if topic != "" {
			o.topics = append(o.topics, topic)
		}
	}
	if sa := v.Block("sasl"); sa != nil {
		o.sasl = &saslOptions{mechanism: sa.String("mechanism"), username: sa.String("username"), password: sa.String("password")}
	}
	return o, nil
}

// clientOpts are the connection options shared by sources, sinks and Check.
func (o *options) clientOpts(logger *slog.Logger) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.brokers...),
		kgo.WithLogger(kgoLogger{logger}),
	}
	if o.tls != nil {
		// franz-go clones it per dial and sets ServerName to the broker's host when empty.
		opts = append(opts, kgo.DialTLSConfig(o.tls))
	}
	if sa := o.sasl; sa != nil {
		switch sa.mechanism {
		case "plain":
			opts = append(opts, kgo.SASL(plain.Auth{User: sa.username, Pass: sa.password}.AsMechanism()))
		case "scram-sha-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: sa.username, Pass: sa.password}.AsSha256Mechanism()))
		case "scram-sha-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: sa.username, Pass: sa.password}.AsSha512Mechanism()))
		}
	}
	return opts
}

// Check connects to the brokers and, when topics are configured, checks they exist.
func Check(ctx context.Context, s connector.Settings) error {
	o, err := readOptions(s, option.Alone)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, checkTimeout)
		defer cancel()
	}
	cl, err := kgo.NewClient(o.clientOpts(s.Env.Log())...)
	if err != nil {
		return fmt.Errorf("%s: %w", o.what, err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("%s: no broker reachable at %s: %w", o.what, strings.Join(o.brokers, ", "), err)
	}
	if len(o.topics) == 0 {
		return nil
	}
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range o.topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("%s: metadata: %w", o.what, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			return fmt.Errorf("%s: topic %q: %w", o.what, name, err)
		}
	}
	return nil
}

// kgoLogger passes franz-go's warnings and errors to the connector's logger; its info
// and debug lines are too chatty for an integration server's log.
type kgoLogger struct{ l *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	}
	k.l.Log(context.Background(), lvl, "kafka: "+msg, keyvals...)
}
