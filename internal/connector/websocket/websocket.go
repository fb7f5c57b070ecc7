package websocket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// ErrSettled is returned by a second Ack or Nack of the same delivery.
var ErrSettled = errors.New("websocket: delivery already settled")

var errNoServer = errors.New("needs a running Junction server (not available in this command)")

// spec declares the websocket connector's options.
var spec = &option.Spec{
	Summary: `The feed of a type: websocket integration as a source: every message its connection
receives becomes a flow message, in the order received. The integration connects, sends its
subscribe message (filled with this source's params), checks the connection with its
heartbeat, and reconnects with its back-off and subscribes again when the connection fails.`,
	Description: `The connection is read only while the flow has room for another message (max_in_flight
unsettled): a flow that falls behind stops the reading, and TCP holds the upstream back, so
nothing is buffered without bound and nothing received is dropped. A WebSocket has no
acknowledgements: Ack frees the message's place; Nack hands the message to the flow again,
before newer ones, while the source is open. What the upstream sends while no connection is
open (between a drop and the reconnect), and messages in flight when the flow stops or the
process dies, are lost unless the upstream replays them; within one connection every
message arrives, in order. Each message has the headers integration,
connection (which connection of the feed, from 1), sequence (its place in that connection,
from 1) and message_type (text or binary). In a cluster the source runs on one node at a
time (the holder of the lease flow-source:FLOW), or each node would subscribe and deliver
every message once.`,
	Fields: []option.Field{
		{Name: "integration", Type: option.String, Required: option.Source, Example: "Ticker",
			Description: "the type: websocket integration whose feed to read."},
		{Name: "params", Type: option.Any, Secret: true, Example: `{ symbol: "btcusdt" }`,
			Description: `the values of the {placeholders} of the integration's subscribe message, { name: value … }; each one it has is required, and no other. Values may be env(NAME) or file(PATH) (an API key in the subscription).`,
			Parse: func(v any) (any, error) {
				block, ok := v.(config.Options)
				if !ok {
					return nil, errors.New(`expected a block { name: value … }`)
				}
				params, _ := config.Tree(block).(map[string]any)
				return params, nil
			}},
	},
	Examples: []option.Example{{Role: option.Source, Title: "an exchange's ticker", Options: `integration: "Ticker"
params: { symbol: "btcusdt" }`}},
}

// Kind returns the websocket connector type: a source only.
func Kind() connector.Kind {
	return connector.Kind{
		Name: config.FeedConnectorType,
		Spec: spec,
		NewSource: func(s connector.Settings) (connector.Source, error) {
			v, err := s.Decode(spec, option.Source)
			if err != nil {
				return nil, err
			}
			src := &source{c: s.Connector, in: s.Env.Internal, integration: v.String("integration"), log: s.Env.Log()}
			if v.Has("params") {
				src.params = option.Get[map[string]any](v, "params")
			}
			return src, nil
		},
		// Every node would subscribe, and deliver every message once.
		Singleton: true,
		// The integration connects: checking it is calling one of its operations.
		Check: func(_ context.Context, s connector.Settings) error {
			_, err := s.Decode(spec, option.Alone)
			return err
		},
	}
}

type source struct {
	c           *config.Connector
	in          connector.Internal
	integration string
	params      map[string]any
	log         *slog.Logger
}

func (s *source) what() string { return s.c.Type + " connector " + s.c.Name }

// Open reads the integration's feed on a goroutine of its own until ctx ends. A message
// is read only once a place among the flow's inFlight is free; the reader waits for one
// inside the feed's receive, so the socket is not read meanwhile.
func (s *source) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	feeds, ok := s.in.(connector.Feeds)
	if !ok {
		return nil, fmt.Errorf("%s: %w", s.what(), errNoServer)
	}
	feed, err := feeds.Feed(s.integration, s.params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.what(), err)
	}
	r := &reader{
		src: s, out: make(chan connector.Delivery),
		places: make(chan struct{}, max(inFlight, 1)), again: make(chan connector.Delivery, max(inFlight, 1)),
		incoming: make(chan connector.Delivery),
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Go(r.pump)
	r.wg.Go(func() {
		defer r.cancel()
		if err := feed(r.ctx, r.receive); err != nil {
			s.log.Error("websocket feed ended", "connector", s.c.Name, "integration", s.integration, "error", err)
		}
	})
	return r.out, nil
}

// Close has nothing to release: the feed ends with Open's context.
func (s *source) Close() error { return nil }

// reader turns the feed's messages into deliveries.
type reader struct {
	src      *source
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	out      chan connector.Delivery
	places   chan struct{}           // one token per unsettled delivery
	again    chan connector.Delivery // Nack'ed deliveries, handed out before new ones
	incoming chan connector.Delivery // from receive to pump
}

// receive takes a place for the message (waiting, without reading the socket, while
// the flow holds inFlight of them) and hands it to the pump.
func (r *reader) receive(ctx context.Context, m connector.FeedMessage) error {
	select {
	case r.places <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	d := r.delivery(connector.Message{Body: m.Body, Time: m.Time, Headers: headers(r.src.integration, m.Connection, m.Seq, m.Binary)})
	select {
	case r.incoming <- d:
		return nil
	case <-ctx.Done():
		<-r.places
		return ctx.Err()
	}
}

// pump is the only sender on out, and closes it when the source ends.
func (r *reader) pump() {
	defer close(r.out)
	for {
		var d connector.Delivery
		select {
		case d = <-r.again:
		default:
			select {
			case d = <-r.again:
			case d = <-r.incoming:
			case <-r.ctx.Done():
				return
			}
		}
		select {
		case r.out <- d:
		case <-r.ctx.Done():
			return
		}
	}
}

func (r *reader) delivery(m connector.Message) connector.Delivery {
	d := connector.Delivery{Message: m, ID: fmt.Sprintf("websocket:%s:%s:%s", r.src.integration, m.Headers["connection"], m.Headers["sequence"])}
	var settled atomic.Bool
	d.Ack = func(context.Context) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrSettled
		}
		<-r.places
		return nil
	}
	d.Nack = func(context.Context) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrSettled
		}
		if r.ctx.Err() != nil {
			<-r.places // the source is closing: nobody would take it again
			return nil
		}
		r.again <- r.delivery(m) // never blocks: its place is one of the inFlight
		return nil
	}
	return d
}

// Headers of every message.
func headers(integration string, connection int, seq uint64, binary bool) map[string]string {
	typ := "text"
	if binary {
		typ = "binary"
	}
	return map[string]string{"integration": integration, "connection": strconv.Itoa(connection), "sequence": strconv.FormatUint(seq, 10), "message_type": typ}
}
