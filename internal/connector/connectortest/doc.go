// Package connectortest is the conformance suite every connector passes: Run checks a
// connector's declared options (CheckSpec: the spec is well formed, its examples build,
// and missing, misspelt, mistyped and unset options are reported with their positions)
// and, against the local server of its system, the contract of sources and sinks: what
// a sink writes, the matching source delivers once; an acknowledged message is not
// delivered again; a message handed back with Nack is; a stopping source can still
// settle what it handed out; a source keeps at most its in-flight limit unsettled.
// Each connector package calls Run with a Harness, so a new connector gets every check.
package connectortest
