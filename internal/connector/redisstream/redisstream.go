package redisstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Defaults of the options.
const (
	FieldDefault      = "body"
	StartDefault      = "0"
	BlockDefault      = time.Second
	ClaimAfterDefault = time.Minute
)

const (
	// checkTimeout bounds Check, Open's first commands and Close's clean-up when the
	// context has no deadline of its own.
	checkTimeout = 10 * time.Second
	// retryDelay is the pause after a failed read, so a Redis outage is not a busy loop.
	retryDelay = time.Second
)

// Kind returns the redis connector type.
func Kind() connector.Kind {
	return connector.Kind{
		Name:      "redis",
		Spec:      spec,
		NewSource: NewSource,
		NewSink:   NewSink,
		Check:     Check,
	}
}

type options struct {
	what  string         // "redis connector NAME", for messages
	redis *redis.Options // parsed from url; holds the password, never printed
	addr  string         // host:port, safe to print

	stream            string
	group             string
	consumer          string
	generatedConsumer bool // deleted from the group on Close when nothing is pending for it
	start             string
	block             time.Duration
	claimAfter        time.Duration
	field             string
	maxLen            int64
}

// spec declares the redis connector's options.
var spec = &option.Spec{
	Summary: `Redis Streams. The source reads a stream as a member of a consumer group: an entry
stays in the group's pending list until it is acknowledged (XACK), entries a crashed consumer
left pending are taken over with XAUTOCLAIM, and a consumer that restarts under the same name
first receives its own pending entries again. The sink appends each batch with XADD inside
MULTI/EXEC.`,
	Description: `Durability: Write returns after EXEC, so the entries are in Redis memory; they survive a
Redis restart only as far as its persistence (AOF with appendfsync always, or RDB snapshots)
is configured. A Redis without persistence keeps nothing on disk.

Settling: Ack is XACK. Nack leaves the entry pending and hands it out again from memory; if
the process stops first, the entry is still pending and is redelivered to a consumer with the
same name when it starts, or to any consumer after claim_after.`,
	Fields: []option.Field{
		{Name: "url", Type: option.String, Required: option.Always, Secret: true, Example: `"redis://localhost:6379/0"`,
			Description: "the server's URL, redis://[user:password@]host:port/db or rediss://…",
			Parse:       option.Convert(parseURL)},
		{Name: "stream", Type: option.String, Required: option.Source | option.Sink, Example: "orders",
			Description: "the stream's key"},
		{Name: "group", Type: option.String, For: option.Source, Required: option.Source, Example: "order-sync",
			Description: "the consumer group, created with MKSTREAM when missing"},
		{Name: "consumer", Type: option.String, For: option.Source,
			Description: "this consumer's name. Default: junction-<hostname>-<random>; set a stable name so a restarted instance takes its pending entries back at once."},
		{Name: "start", Type: option.Any, For: option.Source, Default: StartDefault, Enum: []string{"0", "$"},
			Description: "where a newly created group starts: 0 (the whole stream) or $ (new entries only)."},
		{Name: "block", Type: option.Duration, For: option.Source, Default: BlockDefault, Min: time.Millisecond,
			Description: "how long one read waits for new entries."},
		{Name: "claim_after", Type: option.Duration, For: option.Source, Default: ClaimAfterDefault, Min: time.Millisecond,
			Description: "pending entries idle longer than this are taken over from their consumer, presumed dead; keep it above the longest processing time."},
		{Name: "field", Type: option.String, Default: FieldDefault,
			Description: "the entry field holding the message body. The source turns the other fields into headers, and an entry without the field into a JSON object of all its fields.",
			Parse: option.Check(func(f string) error {
				if f == "" {
					return errors.New("must not be empty")
				}
				return nil
			})},
		{Name: "maxlen", Type: option.Int, For: option.Sink, Min: 0,
			Description: "trim the stream to about this many entries (XADD MAXLEN ~); 0 is no trimming."},
		option.TLS("A redis:// url then connects with TLS as rediss:// does; the url alone works too (rediss://, with the system's CAs)."),
		option.Format(),
	},
	Check: func(v *option.Values, _ option.Role) {
		if r := option.Get[*redis.Options](v, "url"); r != nil && r.Network == "unix" && option.TLSConfig(v) != nil {
			v.Fail(option.TLSName, "a unix:// url has no TLS: remove one of the two")
		}
	},
	Examples: []option.Example{
		{Role: option.Source, Title: "a consumer group with a stable consumer name", Options: `url: "redis://localhost:6379/0"
stream: "orders"
group: "order-sync"
consumer: "worker-1"`},
		{Role: option.Sink, Title: "a capped stream", Options: `url: "redis://localhost:6379/0"
stream: "orders-out"
maxlen: 100000`},
	},
}

func parseURL(text string) (*redis.Options, error) {
	parsed, err := redis.ParseURL(text)
	if err != nil {
		return nil, errors.New(redactURLError(err))
	}
	return parsed, nil
}

// readOptions decodes the options for role (option.Alone for Check).
func readOptions(s connector.Settings, role option.Role) (*options, error) {
	v, err := s.Decode(spec, role)
	if err != nil {
		return nil, err
	}
	o := &options{
		what: s.Connector.Type + " connector " + s.Connector.Name, redis: option.Get[*redis.Options](v, "url"),
		stream: v.String("stream"), group: v.String("group"), consumer: v.String("consumer"),
		start: fmt.Sprint(v.Any("start")), block: v.Duration("block"), claimAfter: v.Duration("claim_after"),
		field: v.String("field"), maxLen: int64(v.Int("maxlen")),
	}
	o.addr = o.redis.Addr
	if cfg := option.TLSConfig(v); cfg != nil {
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(o.addr)
		}
		o.redis.TLSConfig = cfg
	}
	if o.consumer == "" && role == option.Source {
		o.consumer, o.generatedConsumer = defaultConsumer(), true
	}
	return o, nil
}

// redactURLError drops the URL from url.Parse errors: it may hold a password.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return "invalid URL: " + ue.Err.Error()
	}
	return err.Error()
}

func defaultConsumer() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "junction-" + host + "-" + hex.EncodeToString(b)
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, checkTimeout)
}

// Check pings Redis and, when a stream is configured, checks that its key is a stream
// (or does not exist yet).
func Check(ctx context.Context, s connector.Settings) error {
	o, err := readOptions(s, option.Alone)
	if err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	// One attempt is enough to say why Redis cannot be reached; the client's retries
	// would only delay the answer.
	once := *o.redis
	once.MaxRetries, once.DialerRetries = -1, 1
	rdb := redis.NewClient(&once)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%s: cannot reach Redis at %s: %w", o.what, o.addr, err)
	}
	if o.stream == "" {
		return nil
	}
	typ, err := rdb.Type(ctx, o.stream).Result()
	if err != nil {
		return fmt.Errorf("%s: type of %s: %w", o.what, o.stream, err)
	}
	if typ != "stream" && typ != "none" {
		return fmt.Errorf("%s: key %s is a %s, not a stream", o.what, o.stream, typ)
	}
	return nil
}

// Sink appends messages to a stream.
type Sink struct {
	o   *options
	rdb *redis.Client
}

var _ connector.Sink = (*Sink)(nil)

// NewSink checks the options and creates the client (which connects lazily).
func NewSink(s connector.Settings) (connector.Sink, error) {
	o, err := readOptions(s, option.Sink)
	if err != nil {
		return nil, err
	}
	return &Sink{o: o, rdb: redis.NewClient(o.redis)}, nil
}

// Write appends the batch in one MULTI/EXEC transaction, so readers never see part of
// a batch or another client's entries in between. Redis does not roll a transaction
// back: if EXEC fails part-way (out of memory), the entries before the failure stay
// and a retried batch writes them again, which is at-least-once like every sink. Only
// the body is written, in the configured field.
func (s *Sink) Write(ctx context.Context, msgs []connector.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range msgs {
			p.XAdd(ctx, &redis.XAddArgs{
				Stream: s.o.stream,
				MaxLen: s.o.maxLen,
				Approx: s.o.maxLen > 0, // "~" lets Redis trim whole nodes: far cheaper
				Values: []any{s.o.field, m.Body},
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: XADD to %s: %w", s.o.what, s.o.stream, err)
	}
	return nil
}

// Close closes the client.
func (s *Sink) Close() error { return s.rdb.Close() }
