package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
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
		NewSource: NewSource,
		NewSink:   NewSink,
		Check:     Check,
	}
}

type role int

const (
	roleCheck role = iota
	roleSource
	roleSink
)

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
	tls     bool
}

type saslOptions struct {
	mechanism, username, password string
}

// readOptions reads every key the kafka type knows, whatever the role, because a
// connector block may carry keys meant for the other role; the role only decides
// what is required.
func readOptions(s connector.Settings, ro role) (*options, error) {
	if s.Connector == nil {
		return nil, fmt.Errorf("kafka: settings without a connector")
	}
	o := &options{what: s.Connector.Type + " connector " + s.Connector.Name}
	r := s.Reader()

	o.brokers = r.Strings("brokers")
	if len(o.brokers) == 0 {
		r.Fail("brokers", "missing brokers (a list of host:port)")
	}
	for _, b := range o.brokers {
		if strings.TrimSpace(b) == "" {
			r.Fail("brokers", "empty broker address")
		}
	}

	topics := r.Strings("topics")
	topic := r.String("topic", "", false)
	switch ro {
	case roleSource:
		switch {
		case len(topics) > 0 && topic != "":
			r.Fail("topic", "set topic or topics, not both")
		case topic != "":
			o.topics = []string{topic}
		case len(topics) > 0:
			o.topics = topics
		default:
			r.Fail("topic", "missing topic (or topics) to consume")
		}
	case roleSink:
		if topic == "" {
			r.Fail("topic", "missing topic to produce to")
		}
		o.topic = topic
	case roleCheck:
		o.topics = topics
		if topic != "" {
			o.topics = append(o.topics, topic)
		}
	}

	o.group = r.String("group", "", ro == roleSource)

	switch start := r.String("start", StartDefault, false); start {
	case "earliest":
		o.start = kgo.NewOffset().AtStart()
	case "latest":
		o.start = kgo.NewOffset().AtEnd()
	default:
		r.Fail("start", "expected earliest or latest, found %q", start)
	}

	if key := r.String("key", "", false); key != "" {
		x, err := jp.ParseString(key)
		if err != nil {
			r.Fail("key", "not a JSONPath (such as $.id): %v", err)
		}
		o.key = x
	}

	o.tls = r.Bool("tls", false)

	block, hasSASL := r.Block("sasl")
	if err := r.Done(); err != nil {
		return nil, err
	}
	if hasSASL {
		sa, err := readSASL(block, o.what+" sasl", s.Env.Lookup())
		if err != nil {
			return nil, err
		}
		o.sasl = sa
	}
	return o, nil
}

func readSASL(block config.Options, what string, lookup config.LookupEnv) (*saslOptions, error) {
	r := block.Reader(what)
	mechanism := r.String("mechanism", "", true)
	switch mechanism {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		r.Fail("mechanism", "expected plain, scram-sha-256 or scram-sha-512, found %q", mechanism)
	}
	user := r.Value("username", true)
	pass := r.Value("password", true)
	if err := r.Done(); err != nil {
		return nil, err
	}
	sa := &saslOptions{mechanism: mechanism}
	for _, v := range []struct {
		name string
		val  config.Value
		dst  *string
	}{{"username", user, &sa.username}, {"password", pass, &sa.password}} {
		text, err := v.val.Resolve(lookup)
		if err != nil {
			pos := v.val.Pos
			if pos.Line == 0 {
				pos = block.Pos
			}
			return nil, &config.OptionError{Pos: pos, Msg: fmt.Sprintf("%s: %s: %v", what, v.name, err)}
		}
		*v.dst = text
	}
	return sa, nil
}

// clientOpts are the connection options shared by sources, sinks and Check.
func (o *options) clientOpts(logger *slog.Logger) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.brokers...),
		kgo.WithLogger(kgoLogger{logger}),
	}
	if o.tls {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
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
	o, err := readOptions(s, roleCheck)
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
