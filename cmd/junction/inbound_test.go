package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeWarnsOfMisconfiguredSources (issue 12, item 5): serve logs each source that
// cannot verify at warn, once at start and once at each reload, with its name and why,
// never the secret; validate warns of the same sources; and a provider refused by one
// is listed at GET /inbound/rejections.
func TestServeWarnsOfMisconfiguredSources(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sources.cai")
	writeFile(t, cfg, `source unset { verify: github  secret: env(JT_UNSET_SOURCE_SECRET) }
source empty { verify: stripe  secret: env(JT_EMPTY_SOURCE_SECRET) }
source unreadable { verify: hmac  secret: file("`+filepath.Join(dir, "missing-secret")+`")  header: "X-Signature" }
source fine { verify: github  secret: env(JT_FINE_SOURCE_SECRET) }
`)
	env := []string{"JT_EMPTY_SOURCE_SECRET=", "JT_FINE_SOURCE_SECRET=fine-source-secret-value"}
	reasons := map[string]string{
		"unset":      "JT_UNSET_SOURCE_SECRET is not set",
		"empty":      "JT_EMPTY_SOURCE_SECRET is empty",
		"unreadable": "missing-secret) cannot be read",
	}

	out, _, code := run(t, dir, env, "validate", cfg)
	for name, reason := range reasons {
		if code != 0 || !strings.Contains(out, "warning: source "+name+" secret: ") || !strings.Contains(out, reason) {
			t.Errorf("validate: exit %d, want a warning for source %s saying %q:\n%s", code, name, reason, out)
		}
	}

	user := userToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	warnings := func(name string) int {
		n := 0
		for line := range strings.SplitSeq(s.log(), "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "webhook source misconfigured") && strings.Contains(line, "source="+name+" ") {
				if !strings.Contains(line, reasons[name]) {
					t.Errorf("warning for %s does not say %q: %s", name, reasons[name], line)
				}
				n++
			}
		}
		return n
	}
	for name := range reasons {
		if n := warnings(name); n != 1 {
			t.Errorf("serve warned %d times of source %s at start, want once:\n%s", n, name, s.log())
		}
	}
	if n := warnings("fine"); n != 0 {
		t.Errorf("serve warned of the source that works:\n%s", s.log())
	}

	// A provider posting to a misconfigured source is refused (503) and the refusal
	// is listed for a user token.
	resp, err := http.Post(s.base+"/ingest/unset", "application/json", strings.NewReader(`{"zen":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("POST /ingest/unset: %d, want 503", resp.StatusCode)
	}
	_, body := s.get(t, "/inbound/rejections?source=unset", user)
	if !strings.Contains(string(body), reasons["unset"]) || !strings.Contains(string(body), `"remote_addr":"127.0.0.1:`) {
		t.Errorf("GET /inbound/rejections?source=unset: %s", body)
	}

	// A reload warns again, once per source.
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.log(), "configuration reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name := range reasons {
		if n := warnings(name); n != 2 {
			t.Errorf("serve warned %d times of source %s after a reload, want twice:\n%s", n, name, s.log())
		}
	}
	if strings.Contains(s.log(), "fine-source-secret-value") || strings.Contains(out, "fine-source-secret-value") {
		t.Error("a secret reached the log")
	}
}

// userToken makes a token with the user role in dir's database.
func userToken(t *testing.T, dir string, env []string) string {
	t.Helper()
	out, errOut, code := run(t, dir, env, "token", "create", "--role", "user", "--name", "test-user")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	return strings.TrimSpace(out)
}
