package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExamplesLoad keeps examples/ working: every file there must load without errors.
func TestExamplesLoad(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*")
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
