// Package abi is the contract between Junction and a plugin module: the names of the
// functions a plugin exports and imports, how a result is packed into one 64-bit
// number, and the JSON shapes that cross the boundary. The plugin kit (package
// pluginkit) implements the plugin's side and Junction (internal/plugin) the host's;
// both import this package, so they cannot drift apart.
//
// # Calling a function
//
// The host asks the plugin for a buffer of the input's size (ExportBuffer), writes the
// input there, and calls ExportCall with the function's index in the plugin's
// Description and the input's length. The plugin answers with a packed Result: where
// its output (or error message) lies in its memory, how long it is, and whether it is
// a value, an error or a permanent error. The output stays valid until the next call.
//
// # Host functions
//
// A plugin reaches the outside only through the host module HostModule: ImportHTTP
// sends an HTTP request (allowed only to the hosts the plugin's http capability names),
// ImportTakeResponse copies the answer into the plugin's memory, and ImportLog writes a
// line to Junction's log.
package abi
