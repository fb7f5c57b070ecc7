package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/plugin/plugintest"
	"github.com/junctionhq/junction/internal/testkit"
)

// TestMain compiles the test modules once, at the same time, into the shared compilation
// cache, and keeps them loaded while the tests run, so that each test's loads find them
// compiled: compiling a Go-built module is most of these tests' time, under -race most
// of all.
func TestMain(m *testing.M) {
	warm := plugin.NewManager(plugin.Options{CompilationCache: plugintest.Cache()})
	var wg sync.WaitGroup
	for name, dir := range map[string]string{"warm_sandbox": "testdata/sandbox", "warm_orders": examplesDir + "transform"} {
		wg.Go(func() {
			man := sandboxManifest(name)
			if dir != "testdata/sandbox" {
				man.Functions = []string{"normalize", "slug"}
			}
			// A failure here shows again, with its reason, in the tests that load it.
			if wasm, err := plugintest.Build(dir); err == nil {
				_ = warm.Load(context.Background(), man, wasm, plugin.SourceAPI)
			}
		})
	}
	wg.Wait()
	code := m.Run()
	warm.Close(context.Background())
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

var sandboxFunctions = []string{"echo", "upper", "loop", "hoard", "read_file", "dial", "env", "leak", "fetch", "panic", "invalid", "started"}

func sandboxManifest(name string) plugin.Manifest {
	return plugin.Manifest{
		Name: name, Version: "1.0.0", Functions: sandboxFunctions,
		Limits: plugin.Limits{MemoryMB: 32, Timeout: plugin.Duration(500 * time.Millisecond), Instances: 2},
	}
}

func newManager(t testing.TB, env map[string]string) *plugin.Manager {
	t.Helper()
	m := plugin.NewManager(plugin.Options{
		CompilationCache: plugintest.Cache(),
		LookupEnv:        func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func load(t testing.TB, m *plugin.Manager, man plugin.Manifest) {
	t.Helper()
	if err := m.Load(context.Background(), man, plugintest.Module(t, "testdata/sandbox"), plugin.SourceAPI); err != nil {
		t.Fatal(err)
	}
}

func call(t *testing.T, m *plugin.Manager, name, fn, input string) (string, *plugin.CallError) {
	t.Helper()
	out, err := m.Call(context.Background(), name, fn, []byte(input))
	if err == nil {
		return string(out), nil
	}
	var ce *plugin.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("%s.%s: %v is not a *CallError", name, fn, err)
	}
	return "", ce
}

// TestSandbox: a plugin that loops forever, one that allocates without bound, one that
// opens a file and one that opens a socket each fail their call with an error that says
// why, while other calls of the same plugin, before, during and after, carry on.
func TestSandbox(t *testing.T) {
	m := newManager(t, nil)
	load(t, m, sandboxManifest("sandbox"))

	if out, ce := call(t, m, "sandbox", "upper", `"hello"`); ce != nil || out != `"HELLO"` {
		t.Fatalf("upper = %s, %v", out, ce)
	}
	if out, ce := call(t, m, "sandbox", "started", `null`); ce != nil || out != "true" {
		t.Errorf("pre_startup did not run before the first call: started = %s, %v", out, ce)
	}

	// While one instance loops until its time limit, the other keeps answering.
	var wg sync.WaitGroup
	var looped *plugin.CallError
	var loopTook time.Duration
	wg.Go(func() {
		began := time.Now()
		_, looped = call(t, m, "sandbox", "loop", `null`)
		loopTook = time.Since(began)
	})
	for i := range 20 {
		if out, ce := call(t, m, "sandbox", "echo", fmt.Sprintf(`{"n":%d}`, i)); ce != nil || out != fmt.Sprintf(`{"n":%d}`, i) {
			t.Errorf("echo during the loop = %s, %v", out, ce)
		}
	}
	wg.Wait()
	if looped == nil || looped.Kind != plugin.KindTimeout || !strings.Contains(looped.Error(), "plugin sandbox.loop: stopped after its time limit of 500ms") {
		t.Errorf("loop: %v", looped)
	}
	// Only a bound against a loop that is never stopped: on a loaded machine under the
	// race detector, getting an instance and the stop itself take seconds.
	if loopTook > 30*time.Second {
		t.Errorf("the loop was stopped after %s", loopTook)
	}

	// Filling 32 MiB takes seconds under the race detector on a loaded machine: there the
	// memory limit, not the time limit, must be what stops it.
	roomy := sandboxManifest("sandbox_mem")
	roomy.Limits.Timeout = plugin.Duration(time.Minute)
	load(t, m, roomy)
	cases := []struct {
		plugin, fn, want, kind string
	}{
		{"sandbox_mem", "hoard", "ran out of memory (limit 32 MiB per instance)", plugin.KindMemory},
		{"sandbox", "read_file", "open /etc/hostname: Bad file number (a plugin has no file system)", plugin.KindError},
		{"sandbox", "dial", "a plugin has no network of its own", plugin.KindError},
		{"sandbox", "panic", "panic: something broke", plugin.KindError},
		{"sandbox", "fetch", "plugin sandbox may not reach example.com: its http capability allows no host", plugin.KindError},
	}
	for _, c := range cases {
		_, ce := call(t, m, c.plugin, c.fn, `{"url":"http://example.com/"}`)
		if ce == nil || ce.Kind != c.kind || !strings.Contains(ce.Error(), c.want) {
			t.Errorf("%s: %v, want kind %s and %q", c.fn, ce, c.kind, c.want)
		}
		if out, ce := call(t, m, "sandbox", "echo", `[1]`); ce != nil || out != `[1]` {
			t.Errorf("echo after %s = %s, %v", c.fn, out, ce)
		}
	}
	if _, ce := call(t, m, "sandbox", "invalid", `{}`); ce == nil || !ce.Permanent || !plugin.IsPermanent(ce) {
		t.Errorf("invalid: %v, want a permanent error", ce)
	}
	if out, ce := call(t, m, "sandbox", "env", `"HOME"`); ce != nil || out != `""` {
		t.Errorf("env HOME without the env capability = %s, %v", out, ce)
	}
	if _, ce := call(t, m, "sandbox", "nope", `{}`); ce == nil || !strings.Contains(ce.Error(), `has no function "nope"`) {
		t.Errorf("nope: %v", ce)
	}
	if _, ce := call(t, m, "missing", "f", `{}`); ce == nil || ce.Kind != plugin.KindUnavailable || !strings.Contains(ce.Error(), "no plugin of that name is registered") {
		t.Errorf("missing plugin: %v", ce)
	}
	s, ok := m.Status("sandbox")
	if !ok || !s.Loaded || s.Calls < 30 || s.Errors < 7 || s.MeanMicros <= 0 {
		t.Errorf("status = %+v", s)
	}
}

// TestCapabilities: the env capability shows the variables it names and no other; the
// http capability reaches the hosts it names, and nothing else; the post_shutdown hook
// runs, with the capabilities, when the plugin is unloaded.
func TestCapabilities(t *testing.T) {
	shutdown := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/shutdown" {
			shutdown <- struct{}{}
			return
		}
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "http://example.com/", http.StatusFound)
			return
		}
		fmt.Fprint(w, "hello from "+r.URL.Path)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	env := map[string]string{"GREETING": "hi", "GREETING_KEY": "k3y-4711", "SECRET": "s3cr3t", "SHUTDOWN_URL": srv.URL + "/shutdown"}
	var logged testkit.SyncBuffer
	m := plugin.NewManager(plugin.Options{
		CompilationCache: plugintest.Cache(),
		LookupEnv:        func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:           slog.New(slog.NewTextHandler(&logged, nil)),
	})
	t.Cleanup(func() { m.Close(context.Background()) })
	man := sandboxManifest("capable")
	man.Capabilities = plugin.Capabilities{Env: []string{"GREETING", "GREETING_KEY", "SHUTDOWN_URL"}, HTTP: &plugin.HTTPCapability{AllowedHosts: []string{u.Host}}}
	load(t, m, man)

	if out, ce := call(t, m, "capable", "env", `"GREETING"`); ce != nil || out != `"hi"` {
		t.Errorf("env GREETING = %s, %v", out, ce)
	}
	if out, ce := call(t, m, "capable", "env", `"SECRET"`); ce != nil || out != `""` {
		t.Errorf("env SECRET, not granted = %s, %v", out, ce)
	}
	// A granted value the plugin puts in its error or its log is masked there.
	if _, ce := call(t, m, "capable", "leak", `"GREETING_KEY"`); ce == nil || strings.Contains(ce.Error(), "k3y-4711") || !strings.Contains(ce.Error(), "the upstream refused key") {
		t.Errorf("leak = %v; want the error with the granted value masked", ce)
	}
	if log := logged.String(); strings.Contains(log, "k3y-4711") || !strings.Contains(log, "about to fail with") {
		t.Errorf("the plugin's log line, with the granted value masked:\n%s", log)
	}
	if out, ce := call(t, m, "capable", "fetch", `{"url":"`+srv.URL+`/x"}`); ce != nil || out != `{"body":"hello from /x","status":200}` {
		t.Errorf("fetch allowed host = %s, %v", out, ce)
	}
	if out, ce := call(t, m, "capable", "fetch", `{"url":"`+srv.URL+`/moved"}`); ce != nil || !strings.Contains(out, `"status":302`) {
		t.Errorf("fetch of a redirect = %s, %v; want the 302 itself", out, ce)
	}
	other := "http://localhost:" + u.Port() + "/"
	if _, ce := call(t, m, "capable", "fetch", `{"url":"`+other+`"}`); ce == nil || !strings.Contains(ce.Error(), "may not reach localhost:"+u.Port()+": its http capability allows "+u.Host) {
		t.Errorf("fetch of another host: %v", ce)
	}
	select {
	case <-shutdown:
		t.Fatal("post_shutdown ran before the unload")
	default:
	}
	if err := m.Unload(context.Background(), "capable"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-shutdown:
	default:
		t.Error("post_shutdown did not run at the unload")
	}
}

func TestLoadRefusals(t *testing.T) {
	m := newManager(t, nil)
	wasm := plugintest.Module(t, "testdata/sandbox")
	ctx := context.Background()

	man := sandboxManifest("short")
	man.Functions = append(man.Functions[:1:1], "slugify")
	err := m.Load(ctx, man, wasm, plugin.SourceAPI)
	if err == nil || !strings.Contains(err.Error(), "the manifest lists slugify, which the module does not provide") {
		t.Errorf("a manifest listing a function the module lacks: %v", err)
	}
	if s, ok := m.Status("short"); !ok || s.Loaded || s.Error == "" {
		t.Errorf("status of a plugin that did not load = %+v", s)
	}
	if _, ce := call(t, m, "short", "echo", `1`); ce == nil || !strings.Contains(ce.Error(), "the plugin did not load: ") {
		t.Errorf("call of a plugin that did not load: %v", ce)
	}

	man = sandboxManifest("fewer")
	man.Functions = man.Functions[:2]
	if err := m.Load(ctx, man, wasm, plugin.SourceAPI); err == nil || !strings.Contains(err.Error(), "which the manifest does not list") {
		t.Errorf("a manifest listing fewer functions: %v", err)
	}
	if err := m.Load(ctx, sandboxManifest("notwasm"), []byte("MZ\x90\x00"), plugin.SourceAPI); err == nil || !strings.Contains(err.Error(), "not a WebAssembly module") {
		t.Errorf("not a module: %v", err)
	}

	dep := sandboxManifest("child")
	dep.Dependencies = []plugin.Dependency{{Name: "base", Version: ">=2.0.0"}}
	if err := m.Load(ctx, dep, wasm, plugin.SourceAPI); err == nil || !strings.Contains(err.Error(), "depends on plugin base >=2.0.0, which is not loaded") {
		t.Errorf("missing dependency: %v", err)
	}
	load(t, m, sandboxManifest("base"))
	if err := m.Load(ctx, dep, wasm, plugin.SourceAPI); err == nil || !strings.Contains(err.Error(), "but version 1.0.0 is loaded") {
		t.Errorf("dependency in another version: %v", err)
	}
	dep.Dependencies[0].Version = "1.0"
	if err := m.Load(ctx, dep, wasm, plugin.SourceAPI); err != nil {
		t.Errorf("dependency satisfied: %v", err)
	}
	if err := m.Unload(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	if err := m.Unload(ctx, "base"); !errors.Is(err, plugin.ErrNotFound) {
		t.Errorf("unloading twice: %v", err)
	}
	if _, ce := call(t, m, "base", "echo", `1`); ce == nil || ce.Kind != plugin.KindUnavailable {
		t.Errorf("call after unload: %v", ce)
	}
}

func TestParseManifest(t *testing.T) {
	_, err := plugin.ParseManifest([]byte(`{"name":"a-b","version":"one","functions":[],"limits":{"memory_mb":9999,"timeout":"soon"}}`))
	if err == nil || !strings.Contains(err.Error(), `found "soon"`) {
		t.Errorf("bad duration: %v", err)
	}
	_, err = plugin.ParseManifest([]byte(`{"name":"a-b","version":"one","functions":["x","x"],"limits":{"memory_mb":9999},"capabilities":{"http":{"allowed_hosts":["https://x/"]}},"dependencies":[{"name":"c","version":"~1"}]}`))
	for _, want := range []string{`name "a-b"`, `version "one"`, `"x" is listed twice`, "memory_mb: 9999", `allowed_hosts: "https://x/"`, `version constraint "~1"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("manifest error %v does not say %q", err, want)
		}
	}
	if _, err := plugin.ParseManifest([]byte(`{"name":"a","version":"1.0.0","functions":["f"],"extra":1}`)); err == nil || !strings.Contains(err.Error(), `unknown field "extra"`) {
		t.Errorf("unknown field: %v", err)
	}
	m, err := plugin.ParseManifest([]byte(`{"name":"a","version":"1.0.0","functions":["f"],"limits":{"timeout":"250ms"}}`))
	if err != nil || time.Duration(m.Limits.Timeout) != 250*time.Millisecond {
		t.Errorf("valid manifest: %+v, %v", m, err)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
