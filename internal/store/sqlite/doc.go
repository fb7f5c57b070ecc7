// Package sqlite implements store.Store on a single SQLite file with the pure-Go driver
// modernc.org/sqlite, so Junction runs with no external database and no cgo. It is the
// default backend: durable (WAL, synchronous=FULL) and safe for one process with many
// goroutines, and tolerant of a second process (such as the CLI) sharing the file.
package sqlite
