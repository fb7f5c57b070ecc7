// Package docstest checks, in tests, that a generated document committed to the
// repository is what its generator makes now, so a reference cannot drift from the code
// it is generated from.
package docstest

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// UpToDate fails t unless the file at path holds generated, naming the first line that
// differs and the command that regenerates it.
func UpToDate(t testing.TB, path string, generated []byte, regenerate string) {
	t.Helper()
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(committed, generated) {
		return
	}
	c, g := strings.Split(string(committed), "\n"), strings.Split(string(generated), "\n")
	line := 0
	for line < min(len(c), len(g)) && c[line] == g[line] {
		line++
	}
	var have, want string
	if line < len(c) {
		have = c[line]
	}
	if line < len(g) {
		want = g[line]
	}
	t.Fatalf("%s is not what its generator makes (from line %d: %q, want %q);\nrun: %s", path, line+1, have, want, regenerate)
}
