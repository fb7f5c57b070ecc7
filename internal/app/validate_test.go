package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateFlows: `junction validate` builds each flow's connectors (without
// connecting) and compiles its steps: wrong options are errors with positions, unset
// variables warnings.
func TestValidateFlows(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.cai", `connector q { type: rabbitmq  url: "amqp://127.0.0.1/"  queue: "q"  prefetchh: 5 }
connector db { type: postgres  url: env(DB_URL) }
flow f {
    source: q
    step big { filter: "total >=" }
    sink out { connector: db, table: "t", mode: upsert, columns: { id: "$.id" } }
}`)
	var out strings.Builder
	if Validate(&out, []string{bad}, func(string) (string, bool) { return "postgres://x@127.0.0.1/test", true }) {
		t.Fatalf("accepted:\n%s", out.String())
	}
	for _, want := range []string{
		"bad.cai:1:69: rabbitmq connector q: unknown setting prefetchh; did you mean prefetch?",
		"bad.cai:5:5: step big:",
		"bad.cai:6:5: postgres connector db: missing key: an upsert needs the conflict columns",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	good := write("good.cai", `connector db { type: postgres  url: env(DB_URL) }
connector tick { type: schedule  every: 1m }
flow f { source: tick  sink out { connector: db, table: "t", columns: { id: "$.id" } } }`)
	out.Reset()
	if !Validate(&out, []string{good}, func(string) (string, bool) { return "", false }) {
		t.Fatalf("rejected:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "good.cai:1:37: warning: connector db url: DB_URL is not set") {
		t.Errorf("no warning for the unset variable:\n%s", out.String())
	}
}

// TestValidateSeveralFilesAsOne: files given together are one configuration, as serve
// loads them, so a handler may name a workflow another file declares; alone, the same
// file's reference is an error with its position.
func TestValidateSeveralFilesAsOne(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	handlers := write("handlers.cai", "on \"user.created\" do workflow \"welcome\"\n")
	workflows := write("workflows.cai", "workflow welcome {\n    trigger event \"user.created\"\n    steps { greet { emit \"user.greeted\" } }\n}\n")
	noEnv := func(string) (string, bool) { return "", false }

	var out strings.Builder
	if Validate(&out, []string{handlers}, noEnv) {
		t.Fatalf("handlers.cai alone accepted:\n%s", out.String())
	}
	if want := "handlers.cai:1:"; !strings.Contains(out.String(), want) || !strings.Contains(out.String(), `"welcome"`) {
		t.Errorf("alone, no positioned error for the unknown workflow:\n%s", out.String())
	}

	out.Reset()
	if !Validate(&out, []string{handlers, workflows}, noEnv) {
		t.Fatalf("handlers.cai with workflows.cai rejected:\n%s", out.String())
	}
	for _, want := range []string{"handlers.cai: ok by itself:", "workflows.cai: ok by itself:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestValidateReportsEveryMistakeInOneRun: every unknown type of a body, and the flow
// expression and workflow condition errors of a file that has other errors, come out in
// one run, each once.
func TestValidateReportsEveryMistakeInOneRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "all.cai")
	src := `integration Shop {
    base_url: "https://x.example.com"
    operation tag { method: POST path: "/tags" body: { n: integr, m: strin } }
}
connector tick { type: schedule  every: 1m }
flow f {
    source: tick
    step big { filter: "total >=" }
    step parts { split: "$.[[" }
    sink out { connector: nope, table: "t" }
}
workflow w {
    trigger: event "x.happened"
    steps: { a: { emit: "x.done"  if: "input.y >"  on_false: stop } }
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if Validate(&out, []string{path}, func(string) (string, bool) { return "", false }) {
		t.Fatalf("accepted:\n%s", out.String())
	}
	for _, want := range []string{
		"all.cai:3:59: n: unknown type integr; did you mean integer?",
		"all.cai:3:70: m: unknown type strin; did you mean string?",
		`all.cai:10:5: flow f: sink out uses connector "nope", which is not declared`,
		`all.cai:8:5: step big: invalid condition "total >="`,
		`all.cai:9:5: step parts: invalid JSONPath "$.[["`,
		`all.cai:14:39: workflow w step a: condition "input.y >"`,
	} {
		if n := strings.Count(out.String(), want); n != 1 {
			t.Errorf("%q printed %d times, want once:\n%s", want, n, out.String())
		}
	}
}

// TestValidateRefusesUnsupportedFileType: a file whose extension Junction does not read
// is refused by name, not parsed as the language.
func TestValidateRefusesUnsupportedFileType(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"notes.txt", "schema.sql"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("CREATE TABLE t (id int);\n{ }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if Validate(&out, []string{path}, func(string) (string, bool) { return "", false }) {
			t.Fatalf("%s accepted:\n%s", name, out.String())
		}
		want := path + `: unsupported file type "` + filepath.Ext(name) + `": expected .cai, .yaml, .yml or .json`
		if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "expected a key") {
			t.Errorf("%s: output lacks %q:\n%s", name, want, out.String())
		}
	}
}

// TestValidateEach: with ValidateEach, files are configurations of their own, so the
// same name in two files is no conflict, and one bad file fails the run without hiding
// the other's summary.
func TestValidateEach(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.cai", `integration Same { base_url: "https://a.example.com" }`)
	b := write("b.yaml", "integrations:\n  Same:\n    base_url: https://b.example.com\n")
	noEnv := func(string) (string, bool) { return "", false }

	var out strings.Builder
	if Validate(&out, []string{a, b}, noEnv) || !strings.Contains(out.String(), "(as one configuration)") {
		t.Errorf("together: accepted or no combined line:\n%s", out.String())
	}
	out.Reset()
	if !ValidateEach(&out, []string{a, b}, noEnv) {
		t.Fatalf("each: rejected:\n%s", out.String())
	}
	if !strings.Contains(out.String(), a+": ok: 1 integration") || !strings.Contains(out.String(), b+": ok: 1 integration") {
		t.Errorf("each: no summary per file:\n%s", out.String())
	}
	bad := write("bad.cai", `integration X { base_url: 5 }`)
	out.Reset()
	if ValidateEach(&out, []string{bad, a}, noEnv) || !strings.Contains(out.String(), a+": ok:") {
		t.Errorf("each with a bad file: accepted, or the good file not summarised:\n%s", out.String())
	}
}

// TestValidateOperationFormats: `junction validate` builds the codec of each body_type:
// avro or protobuf operation, its schema file relative to the configuration file, and
// reports a file it cannot read or a schema that does not parse at the key naming it.
func TestValidateOperationFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("order.avsc", `{"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}]}`)
	write("bad.avsc", `{"type": "record"}`)
	cfg := write("shop.cai", `integration Shop {
    base_url: "https://shop.example"
    operation good { method: POST, path: "/a", body_type: avro, format: { schema_file: "order.avsc" }, body: { id: integer } }
    operation bad { method: POST, path: "/a", body_type: avro, format: { schema_file: "bad.avsc" } }
    operation gone { method: POST, path: "/a", body_type: avro, format: { schema_file: "gone.avsc" } }
}`)
	var out strings.Builder
	if Validate(&out, []string{cfg}, func(string) (string, bool) { return "", false }) {
		t.Fatalf("accepted:\n%s", out.String())
	}
	for _, want := range []string{
		"shop.cai:4:74: integration Shop operation bad: format: schema_file: invalid Avro schema",
		"shop.cai:5:75: integration Shop operation gone: format: schema_file: open ",
		"shop.cai: 2 errors",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
