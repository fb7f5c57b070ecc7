package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/postgres"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/workflow"
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

// junctionSystem is Junction's durable workflow engine on SQLite (a fresh file) or on
// PostgreSQL (a schema of its own in -pg), running the same four steps as DBOS: the
// three calls to the fake services through a declared integration (each with its
// Idempotency-Key, made from the run and step) and an emit step publishing the result
// as an event into Junction's store.
type junctionSystem struct {
	name string // junction-sqlite or junction-postgres
	env  env

	dir    string // the SQLite file's directory
	schema string // the PostgreSQL schema
	st     store.Store
	engine *workflow.Engine
	ints   *integration.Runtime
	hooks  *webhook.Service
}

func (j *junctionSystem) Name() string { return j.name }

// benchConfig declares the fake services as an integration and the workflow.
const benchConfig = `integration Svc {
    base_url: "%s"
    timeout: 10s
    idempotency: { header: "Idempotency-Key" }
    operation identity { method: POST  path: "/identity"  body: { order_id: string } }
    operation fraud { method: POST  path: "/fraud"  body: { customer_id: string, amount: number } }
    operation payment { method: POST  path: "/payment"  body: { check_id: string, amount: number } }
}`

func benchWorkflow() *config.Workflow {
	step := func(id, target string, input map[string]any) *config.WorkflowStep {
		return &config.WorkflowStep{ID: id, Kind: config.WorkflowCall, Target: target, Input: input}
	}
	return &config.Workflow{
		Name: "bench",
		Steps: []*config.WorkflowStep{
			step("identity", "Svc.identity", map[string]any{"order_id": "{{input.order_id}}"}),
			step("fraud", "Svc.fraud", map[string]any{"customer_id": "{{steps.identity.customer_id}}", "amount": "{{input.amount}}"}),
			step("payment", "Svc.payment", map[string]any{"check_id": "{{steps.fraud.check_id}}", "amount": "{{input.amount}}"}),
			{ID: "emit", Kind: config.WorkflowEmit, Target: "payment.done", Input: map[string]any{
				"order_id": "{{input.order_id}}", "payment_id": "{{steps.payment.payment_id}}", "amount": "{{input.amount}}"}},
		},
		Output: map[string]any{"payment_id": "{{steps.payment.payment_id}}"},
	}
}

func (j *junctionSystem) Start(ctx context.Context) error {
	var err error
	if j.name == "junction-sqlite" {
		if j.dir, err = os.MkdirTemp("", "bench-workflows-"); err != nil {
			return err
		}
		j.st, err = sqlite.Open(ctx, filepath.Join(j.dir, "junction.db"))
	} else {
		j.schema = "junction_" + randomHex()
		dsn, derr := withSchema(ctx, j.env.pgURL, j.schema)
		if derr != nil {
			return derr
		}
		j.st, err = postgres.Open(ctx, dsn)
	}
	if err != nil {
		return err
	}
	if _, err := j.st.MigrateUp(ctx); err != nil {
		return err
	}
	cfg, diags := config.Decode("bench.cai", fmt.Appendf(nil, benchConfig, j.env.services))
	if diags.HasErrors() {
		return diags.Err()
	}
	cfg.Workflows = []*config.Workflow{benchWorkflow()}
	quiet := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	im, err := integration.NewMetrics(reg)
	if err != nil {
		return err
	}
	j.ints, err = integration.New(cfg, integration.Options{LookupEnv: os.LookupEnv, Logger: quiet, Metrics: im})
	if err != nil {
		return err
	}
	wm, err := webhook.NewMetrics(reg)
	if err != nil {
		return err
	}
	if j.hooks, err = webhook.New(j.st, webhook.SettingsFrom(cfg), webhook.Options{Logger: quiet, Metrics: wm}); err != nil {
		return err
	}
	j.engine, err = workflow.New(cfg, workflow.Options{Store: j.st, Caller: j.ints, Publisher: j.hooks, Logger: quiet})
	if err != nil {
		return err
	}
	return j.engine.Start(ctx)
}

func (j *junctionSystem) Run(ctx context.Context, in map[string]any) (map[string]any, error) {
	b, _ := json.Marshal(in)
	r, _, err := j.engine.StartRun(ctx, "bench", b, workflow.StartOptions{})
	if err != nil {
		return nil, err
	}
	r, _, err = j.engine.Wait(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if r.Status != store.WorkflowCompleted {
		return nil, fmt.Errorf("run %s %s: %s", r.ID, r.Status, r.Error)
	}
	var out map[string]any
	err = json.Unmarshal(r.Output, &out)
	return out, err
}

func (j *junctionSystem) Close() error {
	if j.engine != nil {
		_ = j.engine.Stop(context.Background())
	}
	if j.ints != nil {
		j.ints.Close()
	}
	if j.st != nil {
		_ = j.st.Close()
	}
	if j.dir != "" {
		_ = os.RemoveAll(j.dir)
	}
	if j.schema != "" {
		return dropSchema(j.env.pgURL, j.schema)
	}
	return nil
}

// withSchema creates schema in the database of base and returns a URL whose
// search_path is it.
func withSchema(ctx context.Context, base, schema string) (string, error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL at %s is unreachable: %w", redact(base), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func dropSchema(base, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// emitted counts the payment.done events in Junction's store: one per completed run.
func (j *junctionSystem) emitted(ctx context.Context) (int, error) {
	seen := map[string]bool{}
	after := time.Unix(0, 0)
	for {
		evs, err := j.st.WorkflowEventsSince(ctx, "payment.done", after, 5000)
		if err != nil {
			return 0, err
		}
		fresh := 0
		for _, e := range evs {
			if !seen[e.ID] {
				seen[e.ID] = true
				fresh++
			}
		}
		if len(evs) < 5000 || fresh == 0 {
			return len(seen), nil
		}
		after = evs[len(evs)-1].Time
	}
}
