package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestExamplesLoad keeps examples/ working: every file there must load without errors.
func TestExamplesLoad(t *testing.T) {
	var paths []string
	for _, pattern := range []string{"../../examples/*.cai", "../../examples/*.yaml", "../../examples/*.json"} {
		more, _ := filepath.Glob(pattern)
		paths = append(paths, more...)
	}
	var err error
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, p := range paths {
		if _, diags := Load(p); diags.HasErrors() {
			t.Errorf("%s: %v", p, diags.Err())
		}
	}
	cai, _ := Load("../../examples/quickstart.cai")
	yml, _ := Load("../../examples/quickstart.yaml")
	if diff := cmp.Diff(cai.Integration("Weather"), yml.Integration("Weather"), ignorePos); diff != "" {
		t.Errorf("quickstart.yaml's Weather differs from quickstart.cai's (-cai +yaml):\n%s", diff)
	}
}

// TestReadmeSnippetsLoad keeps the README's reference honest: its codeai and yaml blocks
// must decode without errors.
func TestReadmeSnippetsLoad(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(codeai|yaml)\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 2 {
		t.Fatalf("found %d snippets in README.md", len(blocks))
	}
	for _, b := range blocks {
		var diags Diagnostics
		if string(b[1]) == "yaml" {
			_, diags = Decode("README.yaml", b[2])
		} else {
			_, diags = Decode("README.cai", b[2])
		}
		if diags.HasErrors() {
			t.Errorf("README snippet does not load:\n%s\n%v", b[2], diags.Err())
		}
	}
}

// TestOrderSyncInBothForms: seed 002's flow written in the language and in YAML is the
// same model, and means what the seed says.
func TestOrderSyncInBothForms(t *testing.T) {
	cai, diags := Load("../../examples/order-sync.cai")
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	yml, diags := Load("../../examples/order-sync.yaml")
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if diff := cmp.Diff(cai, yml, ignorePos); diff != "" {
		t.Errorf("order-sync.yaml differs from order-sync.cai (-cai +yaml):\n%s", diff)
	}
	f := cai.Flow("order-sync")
	if f == nil || f.Source.Connector != "orders" || len(f.Steps) != 4 || len(f.Sinks) != 2 {
		t.Fatalf("flow = %+v", f)
	}
	if bs, _ := f.Source.Options.Get("batch_size"); bs.Value != int64(100) {
		t.Errorf("batch_size = %v", bs.Value)
	}
	tmpl := f.Steps[0].Template.(map[string]any)
	if tmpl["items"] != "$.orderItems[*]" || tmpl["customer"].(map[string]any)["email"] != "$.customerEmail" {
		t.Errorf("transform template = %v", tmpl)
	}
	if s := f.Steps[1]; s.Kind != StepValidate || !strings.HasSuffix(s.SchemaFile, "examples/schemas/order.json") {
		t.Errorf("validate step = %+v", s)
	}
	if s := f.Steps[2]; s.Integration != "CustomerService" || s.Operation != "get_customer" || s.Params["id"] != "$.customer.id" || s.As != "customer_details" {
		t.Errorf("enrich step = %+v", s)
	}
	if r := f.Steps[3].Routes; len(r) != 2 || r[0].When != "total >= 1000" || r[0].To[0] != "high-value-orders" || r[1].To[0] != "regular-orders" {
		t.Errorf("routes = %+v", r)
	}
	want := &ErrorPolicy{Retry: &Retry{Attempts: 3, Backoff: BackoffExponential, Initial: time.Second, Max: time.Minute}, DeadLetter: "failed-orders"}
	if diff := cmp.Diff(want, f.OnError, ignorePos); diff != "" {
		t.Errorf("on_error (-want +got):\n%s", diff)
	}
	if m := f.Monitoring; !m.Metrics || !m.Tracing.On || !m.IncludePayload || m.LogLevel != "info" {
		t.Errorf("monitoring = %+v", m)
	}
}
