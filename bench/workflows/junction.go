package main

import (
	"context"
	"errors"
	"net/http"
)

// system is one durable workflow engine under test. Start prepares it (storage,
// registration); Run starts one run of the bench's workflow (workflow.go) with the
// given input and waits for its result; Close stops the engine and removes everything
// Start created, also after a failed Start.
type system interface {
	Name() string
	Start(ctx context.Context) error
	Run(ctx context.Context, input map[string]any) (map[string]any, error)
	Close() error
}

// eventCounter is a system that can count the events its runs emitted (the emit
// step's rows), so the bench checks one per completed run.
type eventCounter interface {
	emitted(ctx context.Context) (int, error)
}

// env is what every system is given: where PostgreSQL and the fake services are.
type env struct {
	pgURL    string       // -pg; a system makes its own schema or tables in it and drops them
	services string       // base URL of the fake services (services.go)
	client   *http.Client // for calling them
}

// errJunctionNotWired is what the Junction systems answer until the bench drives
// Junction's workflow engine; the main loop reports them as skipped.
var errJunctionNotWired = errors.New("junction engine not wired yet")

// junctionSystem is Junction's durable workflow engine on SQLite (a fresh file) or on
// PostgreSQL (a schema of its own in -pg), running the same four steps as DBOS: the
// three calls to the fake services, each with an Idempotency-Key, and publishing the
// result as an event into Junction's store.
type junctionSystem struct {
	name string // junction-sqlite or junction-postgres
	env  env
}

func (j *junctionSystem) Name() string { return j.name }

func (j *junctionSystem) Start(context.Context) error { return errJunctionNotWired }

func (j *junctionSystem) Run(context.Context, map[string]any) (map[string]any, error) {
	return nil, errJunctionNotWired
}

func (j *junctionSystem) Close() error { return nil }
