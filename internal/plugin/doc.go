// Package plugin runs WebAssembly plugins (PRODUCT F1) in a sandbox on wazero, a
// WebAssembly runtime in pure Go.
//
// A plugin is a module built with the plugin kit (pkg/pluginkit) and a Manifest: its
// name, version, description, author, license, dependencies, the functions it provides,
// its capabilities and its limits. The Manager takes it through its lifecycle: it is
// installed (checked and compiled once), loaded (its pre_startup hook runs), executed
// (Call, from flow steps, workflow steps, handler actions and mapping expressions) and
// unloaded (its post_shutdown hook runs).
//
// # The sandbox
//
// Each plugin has its own wazero runtime, so its memory limit is its own; each call runs
// in one instance of the module, taken from a pool of up to Limits.Instances, so the
// module is compiled once and instantiated rarely. A call has a time limit, kept by a
// check Junction adds to every loop of the module (instrument.go). A trap, a time-out
// or an out-of-memory fails that call with a *CallError saying which, and throws the
// instance away; the next call gets a fresh one, and the process is never at risk.
//
// A plugin sees no file system, no network and no environment variables. Its
// capabilities grant what it may reach: http, a host function sending requests only to
// the hosts it names (no redirects followed), and env, the variables it names.
//
// Calls are counted on the Prometheus series of Options.Metrics (metrics.go), labelled
// only with the names of the plugins the Manager holds and the functions they declare.
package plugin
