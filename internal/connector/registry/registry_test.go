package registry_test

import (
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/registry"
	"github.com/junctionhq/junction/internal/docstest"
)

// TestReferenceUpToDate: docs/connectors.md is what the specs generate, so the reference
// cannot drift from the options the connectors read.
func TestReferenceUpToDate(t *testing.T) {
	docstest.UpToDate(t, "../../../docs/connectors.md", registry.Reference(), "go generate ./internal/connector/registry")
}

// TestEveryKindDeclaresItsOptions: validate and the reference cover every type.
func TestEveryKindDeclaresItsOptions(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range registry.List() {
		if k.Spec == nil || seen[k.Name] || (k.NewSource == nil && k.NewSink == nil) || k.Check == nil {
			t.Errorf("kind %q: a spec, a unique name, a role and Check are required", k.Name)
		}
		seen[k.Name] = true
	}
	if len(registry.Kinds()) != len(registry.List()) {
		t.Error("Kinds and List differ")
	}
}

func TestValidate(t *testing.T) {
	cfg, diags := config.Decode("v.cai", []byte(`connector a { type: rabitmq }
connector b { type: rabbitmq  url: env(UNSET)  prefech: 5  queue: { name: q, durible: true } }
connector c { type: schedule  every: 5m }
connector d { type: nats  url: "nats://127.0.0.1:4222"  deliver: newest }`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	var got []string
	for _, err := range registry.Validate(cfg.Connectors, func(string) (string, bool) { return "", false }) {
		if _, ok := err.(*config.OptionError); !ok {
			t.Errorf("%v is not an OptionError", err)
		}
		got = append(got, err.Error())
	}
	want := []string{
		`v.cai:1:1: connector a: unknown type "rabitmq"; did you mean "rabbitmq"?`,
		`v.cai:2:48: rabbitmq connector b: unknown setting prefech; did you mean prefetch?`,
		`v.cai:2:78: rabbitmq connector b: queue: unknown setting durible; did you mean durable?`,
		`v.cai:4:57: nats connector d: deliver: expected all or new, found "newest"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
