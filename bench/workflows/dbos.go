package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// dbosSystem runs the workflow in DBOS Transact for Go: one DBOS workflow whose four
// steps are dbos.RunAsStep calls, each checkpointed in DBOS's system database.
//
// The system database is a schema of its own, dbos_<random>, in the -pg database
// (Config.DatabaseSchema): DBOS creates and migrates it at Launch, Close drops it after
// Shutdown (DBOS has no call for that). The emit step inserts the event into
// bench_events_<random> in the same database, made by Start and dropped by Close, keyed
// by the run's workflow id so a step that runs again inserts nothing.
type dbosSystem struct {
	env    env
	schema string // DBOS's system schema
	events string // the emit step's table
	pool   *pgxpool.Pool
	dctx   dbos.Context
}

// emitPoolSize matches the pool DBOS opens for its system database by default, so the
// emit step's inserts wait no more for a connection than DBOS's own writes.
const emitPoolSize = 20

func newDBOS(e env) *dbosSystem {
	suffix := randomHex()
	return &dbosSystem{env: e, schema: "dbos_" + suffix, events: "bench_events_" + suffix}
}

func (d *dbosSystem) Name() string { return "dbos" }

func (d *dbosSystem) Start(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(d.env.pgURL)
	if err != nil {
		return fmt.Errorf("-pg: %w", err)
	}
	cfg.MaxConns = emitPoolSize
	if d.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("PostgreSQL at %s is unreachable: %w", redact(d.env.pgURL), err)
	}
	if _, err := d.pool.Exec(ctx, `CREATE TABLE `+d.events+` (
		run_id text PRIMARY KEY, payment_id text NOT NULL, payload jsonb NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create %s: %w", d.events, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d.dctx, err = dbos.NewContext(ctx, dbos.Config{
		AppName:        "junction-bench",
		DatabaseURL:    d.env.pgURL,
		DatabaseSchema: d.schema,
		Logger:         logger,
	})
	if err != nil {
		return fmt.Errorf("dbos: %w", err)
	}
	dbos.RegisterWorkflow(d.dctx, d.workflow, dbos.WithWorkflowName("payment"))
	if err := dbos.Launch(d.dctx); err != nil {
		return fmt.Errorf("dbos launch: %w", err)
	}
	return nil
}

// Run starts the workflow and waits for its result. DBOS's handle waits on the DBOS
// context, which Start made from its own ctx: cancelling that (the bench's, on Ctrl-C)
// ends the wait.
func (d *dbosSystem) Run(_ context.Context, in map[string]any) (map[string]any, error) {
	h, err := dbos.RunWorkflow(d.dctx, d.workflow, in)
	if err != nil {
		return nil, err
	}
	return h.GetResult()
}

func (d *dbosSystem) workflow(ctx dbos.Context, in map[string]any) (map[string]any, error) {
	id, err := dbos.GetWorkflowID(ctx)
	if err != nil {
		return nil, err
	}
	customer, err := dbos.RunAsStep(ctx, d.call(id, "identity",
		map[string]any{"order_id": in["order_id"]}), dbos.WithStepName("identity"))
	if err != nil {
		return nil, err
	}
	check, err := dbos.RunAsStep(ctx, d.call(id, "fraud",
		map[string]any{"customer_id": customer["customer_id"], "amount": in["amount"]}), dbos.WithStepName("fraud"))
	if err != nil {
		return nil, err
	}
	payment, err := dbos.RunAsStep(ctx, d.call(id, "payment",
		map[string]any{"check_id": check["check_id"], "amount": in["amount"]}), dbos.WithStepName("payment"))
	if err != nil {
		return nil, err
	}
	if _, err := dbos.RunAsStep(ctx, d.emit(id, payment), dbos.WithStepName("emit")); err != nil {
		return nil, err
	}
	return map[string]any{"payment_id": payment["payment_id"]}, nil
}

// call is the step that posts body to the fake service of that name; the key is the
// same when DBOS runs the step again.
func (d *dbosSystem) call(runID, service string, body map[string]any) dbos.Step[map[string]any] {
	return func(ctx context.Context) (map[string]any, error) {
		return callService(ctx, d.env, "/"+service, runID+"/"+service, body)
	}
}

// emit is the step that records the payment as an event row; its output is the
// event's id, the run's.
func (d *dbosSystem) emit(runID string, payment map[string]any) dbos.Step[string] {
	return func(ctx context.Context) (string, error) {
		payload, err := json.Marshal(payment)
		if err != nil {
			return "", err
		}
		_, err = d.pool.Exec(ctx, `INSERT INTO `+d.events+` (run_id, payment_id, payload) VALUES ($1, $2, $3)
			ON CONFLICT (run_id) DO NOTHING`, runID, payment["payment_id"], payload)
		return runID, err
	}
}

// emitted is the number of event rows: one per completed run.
func (d *dbosSystem) emitted(ctx context.Context) (int, error) {
	var n int
	err := d.pool.QueryRow(ctx, `SELECT count(*) FROM `+d.events).Scan(&n)
	return n, err
}

// Close shuts DBOS down and drops its schema and the events table.
func (d *dbosSystem) Close() error {
	var errs []error
	if d.dctx != nil {
		if err := dbos.Shutdown(d.dctx, 10*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("dbos shutdown: %w", err))
		}
	}
	if d.pool == nil {
		return errors.Join(errs...)
	}
	defer d.pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, stmt := range []string{
		"DROP SCHEMA IF EXISTS " + pgx.Identifier{d.schema}.Sanitize() + " CASCADE",
		"DROP TABLE IF EXISTS " + d.events,
	} {
		if _, err := d.pool.Exec(ctx, stmt); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", stmt, err))
		}
	}
	return errors.Join(errs...)
}
