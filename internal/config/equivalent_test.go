package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSameModelFromEveryFormat is A4: one integration written in the language, in YAML
// and in JSON decodes to the same model.
func TestSameModelFromEveryFormat(t *testing.T) {
	want, diags := Load("testdata/equivalent/payments.cai")
	if diags.HasErrors() {
		t.Fatalf("payments.cai: %v", diags.Err())
	}
	if s := want.Summary(); s.Integrations != 1 || s.Operations != 2 || s.Events != 1 || s.Handlers != 1 {
		t.Fatalf("payments.cai summary = %s", s)
	}
	for _, other := range []string{"testdata/equivalent/payments.yaml", "testdata/equivalent/payments.json"} {
		got, diags := Load(other)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", other, diags.Err())
		}
		if diff := cmp.Diff(want, got, ignorePos); diff != "" {
			t.Errorf("%s decodes differently from payments.cai (-cai +other):\n%s", other, diff)
		}
	}
}

// TestDataFormatPositions checks that YAML errors point into the YAML file.
func TestDataFormatPositions(t *testing.T) {
	_, diags := Decode("x.yaml", []byte("integrations:\n  A:\n    timeout: 30s\n    retry: often\n"))
	errs := diags.Filter(SeverityError)
	if len(errs) != 1 || errs[0].Pos.Line != 4 || errs[0].Pos.Col != 12 {
		t.Fatalf("diagnostics = %v; want one error at 4:12", diags)
	}
}

// TestYAMLAliasBomb checks that aliases cannot make a small file expand without bound.
func TestYAMLAliasBomb(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		src += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	_, diags := Decode("bomb.yaml", []byte(src))
	if !diags.HasErrors() {
		t.Fatal("an alias bomb decoded without error")
	}
}
