package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateEachFlag: the help says that several files are one configuration, and
// --each checks them one by one, so two files declaring the same name pass.
func TestValidateEachFlag(t *testing.T) {
	dir := t.TempDir()
	out, _, code := run(t, dir, nil, "validate", "--help")
	if code != 0 || !strings.Contains(out, "one combined configuration") || !strings.Contains(out, "--each") {
		t.Errorf("validate --help: exit %d\n%s", code, out)
	}
	a, b := filepath.Join(dir, "a.cai"), filepath.Join(dir, "b.cai")
	writeFile(t, a, `integration Same { base_url: "https://a.example.com" }`)
	writeFile(t, b, `integration Same { base_url: "https://b.example.com" }`)
	if out, _, code := run(t, dir, nil, "validate", a, b); code != 1 || !strings.Contains(out, "integration Same is declared twice") {
		t.Errorf("validate a b: exit %d\n%s", code, out)
	}
	if out, _, code := run(t, dir, nil, "validate", "--each", a, b); code != 0 || strings.Count(out, ": ok: 1 integration") != 2 {
		t.Errorf("validate --each a b: exit %d\n%s", code, out)
	}
	txt := filepath.Join(dir, "notes.txt")
	writeFile(t, txt, "x { }\n")
	if out, _, code := run(t, dir, nil, "validate", "--each", a, txt); code != 1 || !strings.Contains(out, txt+`: unsupported file type ".txt"`) {
		t.Errorf("validate --each a notes.txt: exit %d\n%s", code, out)
	}
}

// TestCallWithoutConfiguration: without -c or JUNCTION_CONFIG, call and connector test
// say so instead of reporting the operation or connector as missing.
func TestCallWithoutConfiguration(t *testing.T) {
	dir := t.TempDir()
	const want = "no configuration given: pass -c FILE (or set JUNCTION_CONFIG)"
	if _, stderr, code := run(t, dir, nil, "call", "Weather", "forecast"); code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("call without -c: exit %d %s", code, stderr)
	}
	if out, _, code := run(t, dir, nil, "connector", "test", "orders"); code != 1 || !strings.Contains(out, want) {
		t.Errorf("connector test without -c: exit %d %s", code, out)
	}
}

// TestCallWarnsOnlyAboutItsIntegration: an unset secret of another integration is not
// the call's business; the called integration's own is still reported.
func TestCallWarnsOnlyAboutItsIntegration(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration Shop {
    base_url: "`+up.URL+`"
    operation ping { method: GET path: "/ping" }
}
integration Other {
    base_url: "`+up.URL+`"
    auth: bearer(env(OTHER_TOKEN))
    operation ping { method: GET path: "/ping" }
}`)
	out, stderr, code := run(t, dir, nil, "call", "-c", cfg, "Shop", "ping")
	if code != 0 || !strings.Contains(out, `{"ok":true}`) || strings.Contains(stderr, "OTHER_TOKEN") {
		t.Errorf("call Shop: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, stderr, code := run(t, dir, nil, "call", "-c", cfg, "Other", "ping"); code != 1 || !strings.Contains(stderr, "OTHER_TOKEN is not set") {
		t.Errorf("call Other: exit %d\n%s", code, stderr)
	}
}
