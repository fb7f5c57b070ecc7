// Package postgres is the postgres connector: a sink that writes JSON messages as rows
// of a table (insert or upsert, a batch per transaction), and a source that polls a
// table in the order of a cursor column, storing its progress in the same database, or
// receives NOTIFY payloads with LISTEN. It uses pgx (pgxpool).
//
// Its options, and how values, cursors and notifications behave, are declared once in
// spec (postgres.go); docs/connectors.md is generated from it. Every source and sink
// reads all of the options, so a connector block can hold options of both roles, while
// mode and columns must suit the role that reads them.
package postgres
