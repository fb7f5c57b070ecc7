package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to the language parser and the YAML/JSON adapter and
// the decoder behind them. Whatever the input, decoding must return (no panic, no hang)
// and every error must carry a position. CI runs it for a while on every change.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*/*")
	for _, p := range paths {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(filepath.Base(p), src)
		}
	}
	for _, s := range []string{
		"integration A { retry: 3 times with exponential_backoff }",
		`on "x" do workflow "y" async`,
		`workflow w { trigger event "x"  steps { a { activity "I.op"  input { k: "steps.a.x" }  if "{{input.y}} > 1" }  parallel { b { sleep 1s } } } }`,
		"integration A { circuit_breaker { threshold 5 timeout \"30s\" max_concurrent 100 } }",
		"endpoint GET /a/{id} { }",
		"integration A { operation o { query: \"\"\"\n  q\n\"\"\" } }",
		"{{{{[[[(((",
		"a: -1.5s, b, c(d(e(f)))",
	} {
		f.Add("seed.cai", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, src []byte) {
		switch filepath.Ext(name) {
		case ".yaml", ".yml", ".json":
		default:
			name = "fuzz.cai"
		}
		defer panicIfSlow(10 * time.Second)()
		cfg, diags := Decode(name, src)
		if cfg == nil {
			t.Fatal("nil config")
		}
		for _, d := range diags {
			if d.Pos.File == "" {
				t.Fatalf("diagnostic without a file: %v", d)
			}
			if d.Severity == SeverityError && d.Message == "" {
				t.Fatalf("empty error message at %v", d.Pos)
			}
		}
		_ = cfg.Summary().String()
	})
}

// panicIfSlow turns a hang into a crash with every goroutine's stack: Go's fuzzer has no
// time limit per input, and a crash is the only failure a fuzz worker reports with its
// input. Call the returned function when the work is done.
func panicIfSlow(limit time.Duration) (done func()) {
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
		case <-time.After(limit):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic(fmt.Sprintf("input took longer than %v:\n%s", limit, buf[:n]))
		}
	}()
	return func() { close(finished) }
}
