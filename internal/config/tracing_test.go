package config

import (
	"strings"
	"testing"
)

// TestFlowTracingSettings: `tracing` in a flow's monitoring block is true/false or a
// block with endpoint and sample_rate, the same in the language and in YAML; the
// decoded values are what the runtime uses.
func TestFlowTracingSettings(t *testing.T) {
	const flowStart = "connector q { type: memory }\nflow f { source: q  sink out { connector: q }  monitoring: { "
	for _, c := range []struct {
		name, src string
		want      Tracing
	}{
		{"unset", "connector q { type: memory }\nflow f { source: q  sink out { connector: q } }", Tracing{}},
		{"true", flowStart + "tracing: true } }", Tracing{Declared: true, On: true, SampleRate: 1}},
		{"false", flowStart + "tracing: false } }", Tracing{Declared: true, SampleRate: 1}},
		{"block", flowStart + `tracing: { endpoint: "http://collector:4318", sample_rate: 0.25 } } }`,
			Tracing{Declared: true, On: true, Endpoint: "http://collector:4318", SampleRate: 0.25}},
		{"empty block", flowStart + "tracing { } } }", Tracing{Declared: true, On: true, SampleRate: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, diags := Decode("t.cai", []byte(c.src))
			if err := diags.Err(); err != nil {
				t.Fatal(err)
			}
			got := cfg.Flows[0].Monitoring.Tracing
			got.Pos = Pos{}
			if got != c.want {
				t.Errorf("tracing = %+v, want %+v", got, c.want)
			}
		})
	}
	yaml := `connectors:
  q: {type: memory}
flows:
  f:
    source: q
    sinks: {out: {connector: q}}
    monitoring:
      tracing: {endpoint: "https://otel.example.com", sample_rate: 0.5}
`
	cfg, diags := Decode("t.yaml", []byte(yaml))
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	if tr := cfg.Flows[0].Monitoring.Tracing; !tr.On || tr.Endpoint != "https://otel.example.com" || tr.SampleRate != 0.5 {
		t.Errorf("YAML tracing = %+v", tr)
	}
	if endpoint, on := cfg.TracingEndpoint(); !on || endpoint != "https://otel.example.com" {
		t.Errorf("TracingEndpoint() = %q, %v", endpoint, on)
	}
}

func TestFlowTracingErrors(t *testing.T) {
	const start = "connector q { type: memory }\n"
	flow := func(name, tracing string) string {
		return "flow " + name + " { source: q  sink out { connector: q }  monitoring: { tracing: " + tracing + " } }\n"
	}
	for _, c := range []struct{ src, want string }{
		{flow("f", "yes"), "tracing: expected true or false, found yes"},
		{flow("f", `{ endpoint: "http://c:4318", sampling: 1 }`), `unknown setting "sampling" in tracing; expected one of endpoint, sample_rate`},
		{flow("f", `{ sample_rate: 1.5 }`), "sample_rate: expected a number from 0 to 1, found 1.5"},
		{flow("f", `{ endpoint: "collector:4318" }`), "endpoint: expected an http(s) collector URL"},
		{flow("f", `{ endpoint: "http://c:4318/?token=x" }`), "endpoint: expected an http(s) collector URL"},
		{flow("f", `{ endpoint: "http://a:4318" }`) + flow("g", `{ endpoint: "http://b:4318" }`),
			`tracing: endpoint "http://b:4318" differs from "http://a:4318" in flow "f"`},
	} {
		_, diags := Decode("t.cai", []byte(start+c.src))
		if err := diags.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.src, err, c.want)
		}
	}
}
