// Package testkit holds the small helpers that tests of several packages share: a
// buffer that goroutines may write while the test reads it, and a walk through
// decoded JSON. Only tests (and test servers) import it.
package testkit
