// Package backend turns Junction's database URL setting into an open store.Store: a
// postgres:// URL selects PostgreSQL, anything else names a SQLite file (junction.db in
// the working directory when empty). It is the only package that knows every backend,
// so the rest of the server depends on the store interface alone.
package backend
