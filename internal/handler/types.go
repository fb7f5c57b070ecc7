package handler

import "github.com/junctionhq/junction/internal/store"

// The store's types the handler API takes and returns, named here so that its users
// (the HTTP server) need not import the store.
type (
	Execution = store.HandlerExecution
	Filter    = store.HandlerFilter
	Status    = store.HandlerStatus
)

// Where an execution stands.
const (
	StatusPending = store.HandlerPending
	StatusFailed  = store.HandlerFailed
	StatusDone    = store.HandlerDone
	StatusDead    = store.HandlerDead
)

// Info is a declared handler with its executions counted by status.
type Info struct {
	Handler
	Counts map[Status]int
}
