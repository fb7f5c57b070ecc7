package connector

import (
	"context"
	"time"
)

// Feeds are the message feeds of Junction's websocket integrations, which the websocket
// source reads. The server's bridge implements it beside Internal; the source asks for
// it with a type assertion, so other Internals (tools, tests) need not.
type Feeds interface {
	// Feed returns the feed of a websocket integration subscribed with params (the
	// values of its subscribe message's placeholders), or why it cannot be read: no
	// such websocket integration, a misconfigured one, params it does not take or
	// lacks. It connects nothing.
	Feed(integration string, params map[string]any) (Feed, error)
}

// Feed reads a feed until ctx ends, then returns nil: it connects, subscribes and calls
// receive with every message received, in order and one at a time, reading nothing
// more while receive runs (TCP then holds the sender back), and connects and
// subscribes again by itself after the connection fails. receive gets a context that
// ends with the connection, and returns its error then.
type Feed func(ctx context.Context, receive func(context.Context, FeedMessage) error) error

// FeedMessage is one message of a feed.
type FeedMessage struct {
	Body       []byte
	Binary     bool // a binary message; text otherwise
	Time       time.Time
	Connection int    // the feed's connection it came on, from 1
	Seq        uint64 // its place among that connection's messages, from 1
}
