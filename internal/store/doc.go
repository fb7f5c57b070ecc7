// Package store defines Junction's storage interface, Store, and the sentinel errors
// (ErrNotFound, ErrConflict) every implementation maps its driver errors onto, so the rest
// of the server never depends on a particular database. The implementations live in
// sub-packages (sqlite, postgres); package backend picks one from a database URL and wraps
// it in package deadline, which bounds every call and marks failures of the database
// with ErrUnavailable; package storetest holds the conformance suite both must pass.
package store
