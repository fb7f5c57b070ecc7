// Package integration calls the outside systems a configuration declares. New compiles
// each integration once into a client: resolved settings and credentials, live policy
// state (breaker, statistics, rate limit) and, per operation, a pipeline of ordered
// stages (pipeline.go; one stage_*.go file each). Call, Forward and the Caller interface
// are the one way in for the gateway API, the proxy, `junction call`, event routes and
// flow steps. A runtime built with Options.Previous carries the state of unchanged
// integrations over a configuration reload.
package integration
