package catalogdoc_test

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/catalog"
	"github.com/junctionhq/junction/internal/catalog/catalogdoc"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/docstest"
)

// TestReferenceUpToDate: docs/catalog.md is what the entries generate.
func TestReferenceUpToDate(t *testing.T) {
	docstest.UpToDate(t, "../../../docs/catalog.md", catalogdoc.Reference(), "go generate ./internal/catalog/catalogdoc")
}

// TestReferenceSnippetsLoad: the reference's examples are configurations that load.
func TestReferenceSnippetsLoad(t *testing.T) {
	blocks := regexp.MustCompile("(?s)```codeai\n(.*?)```").FindAllSubmatch(catalogdoc.Reference(), -1)
	if len(blocks) != len(catalog.Names())+1 {
		t.Fatalf("found %d snippets", len(blocks))
	}
	for _, b := range blocks {
		if _, diags := config.Decode("catalog.md.cai", b[1]); diags.HasErrors() {
			t.Errorf("snippet does not load:\n%s\n%v", b[1], diags.Err())
		}
	}
}

func TestListAndShow(t *testing.T) {
	var list bytes.Buffer
	if err := catalogdoc.List(&list); err != nil {
		t.Fatal(err)
	}
	for _, name := range catalog.Names() {
		if !strings.Contains(list.String(), "\n"+name+" ") {
			t.Errorf("list lacks %s:\n%s", name, list.String())
		}
	}
	if !strings.Contains(list.String(), "STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET") {
		t.Errorf("list does not say what stripe needs:\n%s", list.String())
	}
	var show bytes.Buffer
	if err := catalogdoc.Show(&show, "s3"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"s3: Amazon S3 object storage", `integration NAME from catalog "s3"`, "get_presigned_url  computed: presigned URL for /{bucket}/{key}",
		"Needs: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", "integration s3 {"} {
		if !strings.Contains(show.String(), want) {
			t.Errorf("show s3 lacks %q:\n%s", want, show.String())
		}
	}
	if err := catalogdoc.Show(&show, "stirpe"); !errors.Is(err, catalogdoc.ErrUnknown) || !strings.Contains(err.Error(), "stripe") {
		t.Errorf("show stirpe: %v", err)
	}
}
