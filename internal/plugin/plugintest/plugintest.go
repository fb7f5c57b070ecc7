package plugintest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

var (
	mu     sync.Mutex
	builds = map[string][]byte{}
	cache  = sync.OnceValue(wazero.NewCompilationCache)
)

// Module builds the Go package in dir (a path relative to the test's package, or
// absolute) as a plugin and returns the module; the build is done once per process.
func Module(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Build is Module for a TestMain, which has no testing.TB.
func Build(dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := builds[abs]; ok {
		return b, nil
	}
	out, err := os.MkdirTemp("", "plugin-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	file := filepath.Join(out, "plugin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", file, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building the plugin %s: %v\n%s", dir, err, stderr.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	builds[abs] = b
	return b, nil
}

// File writes the module of Module into the test's temporary directory and returns its
// path.
func File(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), filepath.Base(dir)+".wasm")
	if err := os.WriteFile(path, Module(t, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Cache is the process's wazero compilation cache, for plugin.Options.CompilationCache.
func Cache() wazero.CompilationCache { return cache() }
