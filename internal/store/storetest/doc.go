// Package storetest is the conformance suite every store.Store implementation must pass.
// Each backend's own test calls Run with a function that opens a fresh, empty database,
// so the behaviour the interface's doc comments promise is checked once, the same way,
// on SQLite and on PostgreSQL.
package storetest
