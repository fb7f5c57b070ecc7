// Package wsclient keeps WebSocket connections to one upstream alive and speaks the two
// ways Junction uses them. A Feed hands every message received on to its receiver, in
// order and one at a time: while the receiver holds a message, nothing more is read from
// the socket, so TCP pushes back on the sender instead of messages piling up in memory.
// It subscribes on every new connection and reconnects with back-off whenever the
// connection fails. A Caller sends a request on a connection it keeps and returns the
// received message that matches it (a JSONPath into the reply equal to the request's
// value). Both check their connections with heartbeats: ping frames, or an
// application-level message, answered within a timeout.
//
// The package knows nothing of configuration: internal/integration builds the dialer
// (URL, headers, credentials, TLS) and the messages from a `type: websocket` block.
package wsclient
