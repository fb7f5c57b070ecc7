package redisstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/connector"
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

// readOptions reads every key the redis type knows in either role, because a
// connector block may carry keys meant for the other role; the role only decides
// what is required.
func readOptions(s connector.Settings, ro role) (*options, error) {
	if s.Connector == nil {
		return nil, errors.New("redis: settings without a connector")
	}
	o := &options{what: s.Connector.Type + " connector " + s.Connector.Name}
	r := s.Reader()

	if v := r.Value("url", true); !v.IsZero() {
		text, err := v.Resolve(s.Env.Lookup())
		if err != nil {
			r.Fail("url", "%v", err)
		} else if parsed, err := redis.ParseURL(text); err != nil {
			r.Fail("url", "%s", redactURLError(err))
		} else {
			o.redis, o.addr = parsed, parsed.Addr
		}
	}

	o.stream = r.String("stream", "", ro != roleCheck)
	o.group = r.String("group", "", ro == roleSource)
	o.consumer = r.String("consumer", "", false)

	o.start = StartDefault
	if v, ok := r.Any("start"); ok {
		switch v {
		case int64(0), "0":
			o.start = "0"
		case "$":
			o.start = "$"
		default:
			r.Fail("start", "expected 0 (the whole stream) or $ (new entries only), found %v", v)
		}
	}

	o.block = r.Duration("block", BlockDefault)
	if o.block < time.Millisecond {
		// BLOCK 0 would wait forever, and Close waits for the read to return.
		r.Fail("block", "must be at least 1ms, found %v", o.block)
	}
	o.claimAfter = r.Duration("claim_after", ClaimAfterDefault)
	if o.claimAfter < time.Millisecond {
		r.Fail("claim_after", "must be at least 1ms, found %v", o.claimAfter)
	}
	o.field = r.String("field", FieldDefault, false)
	if o.field == "" {
		r.Fail("field", "must not be empty")
	}
	o.maxLen = int64(r.Int("maxlen", 0))
	if o.maxLen < 0 {
		r.Fail("maxlen", "must not be negative, found %d", o.maxLen)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}

	if o.consumer == "" && ro == roleSource {
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
	o, err := readOptions(s, roleCheck)
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
	o, err := readOptions(s, roleSink)
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
