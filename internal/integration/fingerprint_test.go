package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/config"
)

// TestFingerprint: equal settings give equal keys however the file is laid out (and
// whatever order Go iterates a fallback object's members in); a changed setting, or a
// file() secret whose content changed, gives another key. The version (part of cache
// keys) follows the settings but never the secret values.
func TestFingerprint(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "token")
	write := func(s string) {
		if err := os.WriteFile(secret, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := `integration A { base_url: "https://a.example" auth: bearer(file("` + secret + `"))
		fallback: default({ status: "unavailable", entries: [], a: 1, b: 2, c: 3, d: { e: 4, f: 5 } })
		operation get { method: GET path: "/x" query: { since: timestamp, optional } } }`
	decode := func(t *testing.T, src string) *config.Integration {
		t.Helper()
		cfg, diags := config.Decode("a.cai", []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags.Err())
		}
		return cfg.Integrations[0]
	}
	noEnv := func(string) (string, bool) { return "", false }
	write("one")
	key, version := fingerprint(decode(t, src), noEnv)
	for range 20 {
		if k, v := fingerprint(decode(t, "\n\n  "+src), noEnv); k != key || v != version {
			t.Fatal("equal settings, moved in the file, give another fingerprint")
		}
	}
	if k, v := fingerprint(decode(t, strings.Replace(src, `"/x"`, `"/y"`, 1)), noEnv); k == key || v == version {
		t.Error("a changed path keeps the fingerprint")
	}
	write("two")
	if k, v := fingerprint(decode(t, src), noEnv); k == key || v != version {
		t.Errorf("a changed file() secret: key changed %v, version changed %v; want true, false", k != key, v != version)
	}
}
