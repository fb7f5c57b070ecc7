package config

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/junctionhq/junction/internal/catalog"
)

// TestCatalogEntriesDecode: every entry is a configuration of its own that decodes
// without a single diagnostic, so using one never starts with the entry's mistakes.
func TestCatalogEntriesDecode(t *testing.T) {
	names := catalog.Names()
	if len(names) < 10 {
		t.Fatalf("the catalog has %d entries: %v", len(names), names)
	}
	for _, name := range names {
		e, ok := catalog.Lookup(name)
		if !ok {
			t.Fatalf("Lookup(%q) failed", name)
		}
		cfg, diags := Decode(e.Path, e.Source)
		if len(diags) > 0 {
			t.Errorf("%s: %v", name, diags)
		}
		if len(cfg.Integrations) != 1 || len(cfg.Integrations[0].Operations) == 0 || cfg.Integrations[0].Description == "" {
			t.Errorf("%s: want one described integration with operations, got %d integrations", name, len(cfg.Integrations))
		}
	}
	for _, bad := range []string{"", "../config/model", "stripe.cai", "Stripe"} {
		if _, ok := catalog.Lookup(bad); ok {
			t.Errorf("Lookup(%q) found an entry", bad)
		}
	}
}

// TestFromCatalogOverrides: the block's settings replace the entry's, headers and
// operations merge by name, and what the block does not say is the entry's.
func TestFromCatalogOverrides(t *testing.T) {
	cfg, diags := Load("testdata/equivalent/catalog.cai")
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	entry, _ := catalog.Lookup("stripe")
	base, _ := Decode(entry.Path, entry.Source)
	want := base.Integrations[0]

	in := cfg.Integration("Payments")
	if in.Catalog != "stripe" || in.Description != want.Description || in.Type != TypeREST {
		t.Fatalf("Payments = %+v", in)
	}
	if got, _ := in.BaseURL.Resolve(nil); got != "http://127.0.0.1:12111/v1" {
		t.Errorf("base_url = %q", got)
	}
	if in.Auth.Kind != AuthBearer || in.Auth.Token.Refs()[0] != "PAYMENTS_KEY" {
		t.Errorf("auth = %+v", in.Auth)
	}
	var headers []string
	for _, h := range in.Headers {
		headers = append(headers, h.Name+"="+h.Value.String())
	}
	if !slices.Equal(headers, []string{"Stripe-Version=2024-06-20", "Stripe-Account=acct_1"}) {
		t.Errorf("headers = %v", headers)
	}
	if diff := cmp.Diff(want.Idempotency, in.Idempotency, ignorePos); diff != "" || in.Retry.Attempts != 3 {
		t.Errorf("idempotency or retry not the entry's: %s %+v", diff, in.Retry)
	}
	if len(in.Operations) != len(want.Operations)+1 || in.Operation("list_charges") == nil {
		t.Errorf("operations: %d, want the entry's %d and list_charges", len(in.Operations), len(want.Operations))
	}
	gc, wgc := in.Operation("get_customer"), want.Operation("get_customer")
	if gc.Timeout != 5*time.Second || gc.Path != wgc.Path || gc.Method != "GET" || !cmp.Equal(gc.Returns, wgc.Returns) {
		t.Errorf("get_customer = %+v", gc)
	}
	if op := in.Operation("create_customer"); op.BodyType != "form" || op.Pos.File != "catalog/stripe.cai" {
		t.Errorf("create_customer = %+v", op)
	}

	files := cfg.Integration("Files")
	if op := files.Operation("get_presigned_url"); files.Catalog != "s3" || op.Computes != ComputePresignedURL || op.Path != PresignPathDefault ||
		!slices.Equal(op.Params(), []string{"bucket", "content_type", "expires_in", "key", "method"}) {
		t.Errorf("Files get_presigned_url = %+v", op)
	}
	src := cfg.Sources[0]
	if src.Name != "PaymentEvents" || src.Catalog != "stripe" || src.Verify != "stripe" || !src.Publish || src.Event != "stripe.{body:type}" {
		t.Errorf("source = %+v", src)
	}
}

// TestFromCatalogInBothForms: `from catalog` in the language and `catalog:` in YAML are
// the same model.
func TestFromCatalogInBothForms(t *testing.T) {
	cai, diags := Load("testdata/equivalent/catalog.cai")
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	yml, diags := Load("testdata/equivalent/catalog.yaml")
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if diff := cmp.Diff(cai, yml, ignorePos); diff != "" {
		t.Errorf("catalog.yaml differs from catalog.cai (-cai +yaml):\n%s", diff)
	}
}

// TestInternalOperations: what a `method: internal` operation computes, and the
// mistakes refused.
func TestInternalOperations(t *testing.T) {
	const sigv4 = `auth: aws_signature_v4 { access_key: env(A)  secret_key: env(S)  region: "eu-west-1"  service: "s3" }`
	cfg, diags := Decode("i.cai", []byte(`
integration Store {
    base_url: "https://s3.example.com"
    `+sigv4+`
    operation presign { method: internal  path: "/{key}"  query: { versionId: string, optional } }
}
integration Other {
    base_url: "https://example.com"
    operation compute { method: internal }
}`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	op := cfg.Integration("Store").Operation("presign")
	if op.Computes != ComputePresignedURL || !slices.Equal(op.Params(), []string{"content_type", "expires_in", "key", "method", "versionId"}) {
		t.Errorf("presign = %+v, params %v", op, op.Params())
	}
	if other := cfg.Integration("Other").Operation("compute"); other.Computes != "" {
		t.Errorf("compute = %+v", other)
	}
	warnings := diags.Filter(SeverityWarning)
	if len(warnings) != 1 || warnings[0].Pos.Line != 9 {
		t.Errorf("warnings = %v", warnings)
	}
	_, diags = Decode("bad.cai", []byte(`
integration Store {
    base_url: "https://s3.example.com"
    `+sigv4+`
    operation a { method: internal  body: { x: string } }
    operation b { method: internal  path: "/{bucket}/{method}" }
}`))
	errs := diags.Filter(SeverityError)
	if len(errs) != 2 || errs[0].Pos.Line != 5 || errs[1].Pos.Line != 6 {
		t.Errorf("errors = %v", errs)
	}
}
