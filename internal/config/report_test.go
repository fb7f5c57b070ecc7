package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSLOAndCost: slo and cost decode the same from the colon dialect, the colon-less
// one, YAML and JSON, on an integration and on an operation.
func TestSLOAndCost(t *testing.T) {
	sources := map[string]string{
		"t.cai": `integration Api {
  base_url: "https://api.example.com"
  slo: { success_rate: 99.5% }
  cost: 0.002 per call
  operation get { method: GET  path: "/x"  slo: { success_rate: 90 }  cost: 0.01 }
}`,
		"u.cai": `integration Api {
  base_url "https://api.example.com"
  slo { success_rate 99.5% }
  cost 0.002 per call
  operation get { method GET  path "/x"  slo { success_rate 90 }  cost 0.01 }
}`,
		"t.yaml": `integrations:
  Api:
    base_url: https://api.example.com
    slo: {success_rate: 99.5%}
    cost: 0.002 per call
    operations:
      get: {method: GET, path: /x, slo: {success_rate: 90}, cost: 0.01}
`,
		"t.json": `{"integrations": {"Api": {"base_url": "https://api.example.com",
  "slo": {"success_rate": "99.5%"}, "cost": "0.002 per call",
  "operations": {"get": {"method": "GET", "path": "/x", "slo": {"success_rate": 90}, "cost": 0.01}}}}}`,
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			cfg, diags := Decode(name, []byte(src))
			if len(diags) > 0 {
				t.Fatalf("diagnostics: %v", diags)
			}
			in := cfg.Integration("Api")
			if diff := cmp.Diff(&SLO{SuccessRate: 0.995}, in.SLO, ignorePos); diff != "" {
				t.Errorf("integration slo (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&Cost{PerCall: 0.002}, in.Cost, ignorePos); diff != "" {
				t.Errorf("integration cost (-want +got):\n%s", diff)
			}
			op := in.Operation("get")
			if diff := cmp.Diff(&SLO{SuccessRate: 0.9}, op.SLO, ignorePos); diff != "" {
				t.Errorf("operation slo (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&Cost{PerCall: 0.01}, op.Cost, ignorePos); diff != "" {
				t.Errorf("operation cost (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSLOAndCostErrors(t *testing.T) {
	for src, want := range map[string]string{
		`slo: { success_rate: 99.5%, window: 1h }`: `unknown setting "window" in slo`,
		`slo: { }`:                           "slo: missing success_rate",
		`slo: { success_rate: 0% }`:          "success_rate: expected a percentage above 0 and at most 100",
		`slo: { success_rate: 101% }`:        "success_rate: expected a percentage above 0 and at most 100",
		`slo: { success_rate: fast }`:        "success_rate: expected a percentage",
		`cost: -1 per call`:                  "cost: expected a price per call",
		`cost: 0.002 per hour`:               "cost: expected a price per call",
		`cost: cheap`:                        "cost: expected a price per call",
		`timeout: 5%`:                        "timeout: expected a duration",
		`circuit_breaker: { threshold: 5% }`: "threshold: expected N failures",
	} {
		got := strings.Join(diagsOf(t, `integration Api { base_url: "https://api.example.com"  `+src+` }`), "\n")
		if !strings.Contains(got, want) {
			t.Errorf("%s: diagnostics\n%s\nwant one containing %q", src, got, want)
		}
	}
	got := diagsOf(t, `integration Hooks { type: webhook  cost: 0.1 }`)
	if len(got) != 1 || !strings.Contains(got[0], "slo and cost apply to calls of its operations") {
		t.Errorf("webhook integration with cost: %q", got)
	}
}
