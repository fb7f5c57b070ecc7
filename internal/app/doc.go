// Package app assembles a running Junction from its parts: it loads the configuration,
// opens and migrates the store, makes the first admin token, starts the HTTP server and
// reloads the configuration on request. The command line (cmd/junction) is a thin layer
// of flags over this package, so tests start the real thing the same way users do.
package app
