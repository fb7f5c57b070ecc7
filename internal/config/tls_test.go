package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

// TestIntegrationTLS: `tls { ca, cert, key, server_name }` in both dialects and YAML, its
// paths relative to the configuration file; bad files are errors at the setting that
// names them, with the file named.
func TestIntegrationTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	ca.WriteCA(dir, "ca.pem")
	ca.Client("junction").Write(t, dir, "client")
	ca.Client("other").Write(t, dir, "other")
	writeTest(t, filepath.Join(dir, "garbage.pem"), "not PEM\n")

	load := func(name, src string) (*Config, Diagnostics) {
		t.Helper()
		p := filepath.Join(dir, name)
		writeTest(t, p, src)
		return Load(p)
	}
	want := TLS{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "client.crt"), Key: filepath.Join(dir, "client.key"), ServerName: "api.internal"}
	for name, src := range map[string]string{
		"good.cai": `integration A {
  base_url: "https://api.internal:8443"
  tls { ca: "ca.pem"  cert: "client.crt"  key: "client.key"  server_name: "api.internal" }
}`,
		"good.codeai": `integration A {
  base_url: "https://api.internal:8443"
  tls: { ca: "ca.pem", cert: "client.crt", key: "client.key", server_name: "api.internal" }
}`,
		"good.yaml": `integrations:
  A:
    base_url: https://api.internal:8443
    tls:
      ca: ca.pem
      cert: client.crt
      key: client.key
      server_name: api.internal
`,
	} {
		cfg, diags := load(name, src)
		if err := diags.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := *cfg.Integrations[0].TLS
		got.Pos = Pos{}
		if got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}

	for _, c := range []struct {
		name, tls string
		want      []string
	}{
		{"missing", `tls { ca: "nope.pem" }`, []string{"bad.cai:3:13: tls ca: CA file " + filepath.Join(dir, "nope.pem") + " cannot be read: no such file or directory"}},
		{"garbage", `tls { ca: "garbage.pem" }`, []string{"bad.cai:3:13: tls ca: CA file " + filepath.Join(dir, "garbage.pem") + " holds no PEM block"}},
		{"key as CA", `tls { ca: "client.key" }`, []string{"bad.cai:3:13: tls ca: CA file " + filepath.Join(dir, "client.key") + " holds no CERTIFICATE block"}},
		{"mismatch", `tls { cert: "client.crt"  key: "other.key" }`, []string{"bad.cai:3:15: tls: certificate file " + filepath.Join(dir, "client.crt") + " and key file " + filepath.Join(dir, "other.key"), "does not match"}},
		{"key unreadable", `tls { cert: "client.crt"  key: "none.key" }`, []string{"bad.cai:3:34: tls: key file " + filepath.Join(dir, "none.key") + " cannot be read"}},
		{"cert alone", `tls { cert: "client.crt" }`, []string{"bad.cai:3:3: tls: cert is given without key"}},
		{"unknown key", `tls { ca: "ca.pem"  verify: false }`, []string{"bad.cai:3:23: unknown setting \"verify\" in tls"}},
		{"not a string", `tls { ca: 12 }`, []string{"bad.cai:3:"}},
	} {
		_, diags := load("bad.cai", "integration A {\n  base_url: \"https://api.internal\"\n  "+c.tls+"\n}\n")
		err := diags.Err()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\ndoes not say %q", c.name, err, w)
			}
		}
	}

	// tls on an http:// base URL cannot take effect: said, not ignored.
	_, diags := load("plain.cai", "integration A {\n  base_url: \"http://api.internal\"\n  tls { ca: \"ca.pem\" }\n}\n")
	if ws := diags.Filter(SeverityWarning); len(ws) != 1 || !strings.Contains(ws[0].String(), "tls has no effect on calls to the http:// base_url") {
		t.Errorf("warnings %v", ws)
	}
}

func writeTest(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
