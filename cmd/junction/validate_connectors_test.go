package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateChecksEveryConnector: `junction validate` checks every declared connector
// against its type's options, used by a flow or not, naming the option or type meant;
// unset variables stay warnings.
func TestValidateChecksEveryConnector(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "connectors.cai")
	writeFile(t, cfg, `connector orders { type: rabbitmq  url: env(AMQP_URL)  queue: "orders"  prefech: 10 }
connector tick { type: shedule  every: 5m }
connector lake { type: postgres  url: env(LAKE_URL)  pool_size: 0 }
connector used { type: schedule  every: 5m }
flow f { source: used  sink out { connector: lake, table: "t", columns: { id: "$.id" } } }
`)
	out, _, code := run(t, dir, nil, "validate", cfg)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		cfg + ":1:73: rabbitmq connector orders: unknown setting prefech; did you mean prefetch?",
		cfg + `:2:1: connector tick: unknown type "shedule"; did you mean "schedule"?`,
		cfg + ":3:54: postgres connector lake: pool_size: must be at least 1, found 0",
		cfg + ":1:41: warning: connector orders url: AMQP_URL is not set",
		cfg + ": 3 errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}

	// With its variable set, the flow builds its sink from lake too: the problem is
	// still reported once, as the connector's.
	out, _, code = run(t, dir, []string{"LAKE_URL=postgres://u@127.0.0.1:5432/db"}, "validate", cfg)
	if code != 1 || strings.Count(out, "pool_size") != 1 || strings.Contains(out, "flows have errors") {
		t.Errorf("exit %d, want 1 and the pool_size problem once:\n%s", code, out)
	}
}
