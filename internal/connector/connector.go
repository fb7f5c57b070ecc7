package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Message is one unit of data moving through a flow.
type Message struct {
	Body    []byte            // the payload; flows that transform expect JSON
	Headers map[string]string // what the source knows about it: routing key, topic, subject, …
	Time    time.Time         // when the source produced or received it
	// Doc is the message as a flow's steps left it (a tree, see package transform) when
	// the flow encoded Body from one, else nil. A sink that reads fields of a message
	// (a record key) reads them here, since Body may be Avro or Protobuf.
	Doc any
}

// Delivery is a message received from a source. Exactly one of Ack or Nack must be called
// once the flow is done with it: Ack after every sink accepted it (or it went to the
// dead-letter queue), Nack to have the source deliver it again later. Settling is what
// makes flows at-least-once: a message is never acknowledged before it is safe.
type Delivery struct {
	Message
	ID   string // the source's id, for logs ("amqp:17", "nats:orders:42")
	Ack  func(ctx context.Context) error
	Nack func(ctx context.Context) error
}

// Source hands out messages.
type Source interface {
	// Open starts receiving. Deliveries arrive on the channel until ctx is done, then the
	// channel is closed. The source keeps at most inFlight deliveries unsettled at a time
	// (broker prefetch, credit, or simply not reading further): that is the flow's
	// back-pressure, so memory stays bounded whatever the backlog.
	Open(ctx context.Context, inFlight int) (<-chan Delivery, error)
	// Close releases the connection; deliveries not settled by then are redelivered by
	// the system later (or were never taken from it).
	Close() error
}

// Sink accepts messages.
type Sink interface {
	// Write returns nil only when every message is accepted durably by the system (a
	// confirmed publish, a committed insert). On error, none of them should be assumed
	// written; the flow retries the batch (sinks should be idempotent where they can:
	// upserts, message ids).
	Write(ctx context.Context, msgs []Message) error
	Close() error
}

// Batching is implemented by sinks that want other batches than the engine's default
// (up to 256 messages, two writes at a time): sinks that call an API once per message
// take batches of one, and more of them at once.
type Batching interface {
	Batching() (maxBatch, concurrent int)
}

// Settings are what a connector is built from: the connector block's options with the
// flow's own options for it (a source's batch_size, a sink's table) on top.
type Settings struct {
	Connector *config.Connector
	Options   config.Options // merged: the flow's options win over the connector's
	Env       Env
	// Flow names the flow using the connector ("" for `junction connector test`):
	// sources that keep their own progress (a table cursor) keep it per flow.
	Flow string
}

// Decode reads the merged options against the connector's spec for role (option.Source,
// option.Sink, or option.Alone for the connector block on its own).
func (s Settings) Decode(spec *option.Spec, role option.Role) (*option.Values, error) {
	if s.Connector == nil {
		return nil, errors.New("connector: settings without a connector")
	}
	return spec.Decode(option.Input{
		What:    s.Connector.Type + " connector " + s.Connector.Name,
		Options: s.Options,
		Role:    role,
		Lookup:  s.Env.Lookup(),
	})
}

// Env is what connectors may use of Junction itself.
type Env struct {
	LookupEnv config.LookupEnv
	Logger    *slog.Logger
	Clock     clock.Clock
	// Internal bridges, set by the server (nil in tools that do not run one).
	Internal Internal
}

// The Env's settings, or what a connector uses when one is not set (tools and tests
// build connectors with a partial Env): the process environment, a discarding logger,
// the real clock.

// Lookup returns LookupEnv, or os.LookupEnv.
func (e Env) Lookup() config.LookupEnv {
	if e.LookupEnv != nil {
		return e.LookupEnv
	}
	return os.LookupEnv
}

// Log returns Logger, or one that discards.
func (e Env) Log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Time returns Clock, or the real clock.
func (e Env) Time() clock.Clock {
	if e.Clock != nil {
		return e.Clock
	}
	return clock.Real{}
}

// Internal connects flows to Junction's own capabilities: the event bus, webhook
// publishing, integration calls and the HTTP server. Each is optional.
type Internal interface {
	// Subscribe delivers internal events whose type matches pattern ("order.*", "*").
	Subscribe(pattern string, handle func(eventType string, data []byte)) (unsubscribe func())
	// PublishEvent publishes a webhook event (fan-out to subscribed endpoints).
	PublishEvent(ctx context.Context, id, eventType string, data []byte) error
	// CallOperation calls an integration operation with JSON parameters (and the raw
	// body of a `body_type: binary` operation, or nil).
	CallOperation(ctx context.Context, integration, operation string, params map[string]any, body []byte) (status int, answer []byte, err error)
	// StartWorkflow stores a run of a declared workflow with the JSON object input; a
	// non-empty id makes the start idempotent (the same id starts one run). An input or
	// workflow the engine refuses is a *MessageError.
	StartWorkflow(ctx context.Context, workflow, id string, input []byte) error
	// HandleHTTP receives POSTs to /in/{path} as messages for the named flow (whose
	// source's format says what bodies the server accepts); the returned function stops
	// it.
	HandleHTTP(path, flow string, handle func(ctx context.Context, m Message) error) (stop func(), err error)
}

// Kind is one type of connector. A nil NewSource or NewSink means it cannot be one.
type Kind struct {
	Name string
	// Spec declares the options it reads, in either role: the constructors decode with
	// it, `junction validate` checks every declared connector with it, and the reference
	// (docs/connectors.md) is generated from it.
	Spec      *option.Spec
	NewSource func(s Settings) (Source, error)
	NewSink   func(s Settings) (Sink, error)
	// Singleton says its source must be open on one node of a cluster at a time: a
	// timetable, a table polled with a shared cursor, a LISTEN channel every connection
	// hears. Each node would otherwise deliver every message once. The flow engine opens
	// such a source only while its node holds the flow's source lease. Sources of brokers
	// whose consumers share the work (queues, consumer groups) are not singletons.
	Singleton bool
	// Check tries to reach the system (for `junction connector test`), saying why not.
	Check func(ctx context.Context, s Settings) error
}

// Validate checks a connector block on its own against the kind's spec, without
// connecting: `junction validate` does it for every declared connector, used by a flow
// or not. Variables and files that cannot be read are left out: they make the flows that
// use the connector misconfigured, and validate warns about them already.
func (k Kind) Validate(c *config.Connector, lookup config.LookupEnv) error {
	if k.Spec == nil {
		return nil
	}
	_, err := Settings{Connector: c, Options: c.Options, Env: Env{LookupEnv: lookup}}.Decode(k.Spec, option.Alone)
	return withoutMissing(err)
}

// withoutMissing drops the problems caused by an unset variable or unreadable file.
func withoutMissing(err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if _, missing := errors.AsType[*config.MissingError](err); missing {
			return nil
		}
		return err
	}
	var keep []error
	for _, e := range joined.Unwrap() {
		if withoutMissing(e) != nil {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

// Merge puts a flow's options over its connector's.
func Merge(base, over config.Options) config.Options {
	out := config.Options{Pos: over.Pos}
	if out.Pos.Line == 0 {
		out.Pos = base.Pos
	}
	seen := map[string]bool{}
	for _, e := range over.Entries {
		seen[e.Key] = true
		out.Entries = append(out.Entries, e)
	}
	for _, e := range base.Entries {
		if !seen[e.Key] {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}

// MessageError is a sink's report that one message of a batch can never be written as
// it is (its body is not JSON, it lacks an upsert key): retrying cannot help, so the flow
// sends that message to its dead-letter queue and writes the others again without it.
// Any other error from Write is taken as the system being unavailable, and retried.
type MessageError struct {
	Index int // of the message in the batch given to Write
	Err   error
}

func (e *MessageError) Error() string { return fmt.Sprintf("message %d: %v", e.Index, e.Err) }
func (e *MessageError) Unwrap() error { return e.Err }
