// Package websocket is the websocket connector: a flow source that reads the feed of a
// `type: websocket` integration. Every message the integration's connection receives is
// one flow message; the connection is read only while the flow has room for another
// message (its in-flight limit), so a flow that falls behind holds the upstream back
// through TCP rather than Junction buffering or dropping what arrives. Connecting,
// subscribing, heartbeats and reconnecting are the integration's (internal/wsclient).
package websocket
