// Package connectortest checks connectors against their real systems with one suite:
// what a sink writes, the matching source delivers; an acknowledged message is not
// delivered again; a message handed back with Nack is. Each connector package runs it
// against the local server of its system.
package connectortest
