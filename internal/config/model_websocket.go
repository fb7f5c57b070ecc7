package config

import "time"

// WebSocket is what a `type: websocket` integration adds to the common settings
// (base_url ws:// or wss://, auth and headers on the handshake, tls, timeout, retry,
// circuit_breaker, rate_limit, fallback: default). Its operations are SocketRequests.
type WebSocket struct {
	// Subscribe is sent on every new connection of a feed (a flow's websocket source),
	// so a reconnected feed is subscribed again; nil: nothing is sent.
	Subscribe *SocketRequest
	// Heartbeat checks that a connection is alive; nil: the defaults (ping frames).
	Heartbeat *Heartbeat
	// Reconnect is the back-off between connection attempts. Attempts is not used: a
	// feed reconnects as long as its flow runs. nil: the defaults.
	Reconnect *Retry
}

// RequestIDParam is the placeholder every message template may hold besides its
// parameters: a number unique to each message sent on the integration's connections,
// for the reply to quote.
const RequestIDParam = "request_id"

// SocketRequest is a message to send on a WebSocket and, for operations and an
// acknowledged subscription, the reply that answers it.
type SocketRequest struct {
	Pos Pos
	// Message is a JSON value (map[string]any, []any, string, int64, float64, bool, nil)
	// whose strings may hold {param} placeholders: "{symbol}@ticker" puts the text of the
	// parameter in the string; a string that is only "{limit}" is replaced by the
	// parameter's value as it is (a number stays a number).
	Message any
	// Params are the placeholders of Message in order of first appearance, without
	// request_id: the parameters the request takes, all required.
	Params []string
	// Reply is the answer awaited; nil: none (a subscription that is not acknowledged).
	Reply *Reply
}

// Reply says which received message answers a request: the one whose value at Match
// equals the request's value at Request (compared as text, so 7 and "7" are equal).
type Reply struct {
	Pos     Pos
	Match   string // JSONPath into a received message
	Request string // JSONPath into the message sent; written or Match
	// Error is a JSONPath into the reply: a reply with a value other than null there
	// is a refusal (an operation answers 400, a subscription fails). "" when none.
	Error string
}

// Heartbeat checks a connection: every Interval it sends a ping frame, or Message when
// one is given, and a connection with no answer within Timeout (the pong, the Reply, or
// without Reply any message) is closed and made again. While a flow holds the feed back,
// nothing is read from the connection and the check waits.
type Heartbeat struct {
	Pos      Pos
	Interval time.Duration // 0: the default
	Timeout  time.Duration // 0: the default
	Message  any           // an application-level heartbeat (JSON, with {request_id}); nil: ping frames
	Reply    *Reply        // what answers Message; nil: any message received
	Off      bool          // `heartbeat: off`: no check at all
}
