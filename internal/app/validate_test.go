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
