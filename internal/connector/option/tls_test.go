package option_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

var tlsSpec = &option.Spec{Fields: []option.Field{option.TLS("")}}

// decodeTLS decodes a connector block written in dir/junction.cai.
func decodeTLS(t *testing.T, dir, src string) (*option.Values, error) {
	t.Helper()
	file := filepath.Join(dir, "junction.cai")
	cfg, diags := config.Decode(file, []byte("connector c { type: test\n"+src+"\n}"))
	if diags.HasErrors() {
		t.Fatalf("decode: %v", diags.Err())
	}
	return tlsSpec.Decode(option.Input{What: "test connector c", Options: cfg.Connectors[0].Options, Role: option.Alone})
}

func TestTLSOption(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	ca.WriteCA(dir, "ca.pem")
	ca.Client("junction").Write(t, dir, "client")
	_, otherKey := ca.Client("other").Write(t, dir, "other")

	for _, c := range []struct {
		name, src string
		check     func(t *testing.T, cfg *tls.Config)
	}{
		{"not set: off", ``, func(t *testing.T, cfg *tls.Config) {
			if cfg != nil {
				t.Error("TLS on without the option")
			}
		}},
		{"false: off", `tls: false`, func(t *testing.T, cfg *tls.Config) {
			if cfg != nil {
				t.Error("TLS on with tls: false")
			}
		}},
		{"true: system CAs", `tls: true`, func(t *testing.T, cfg *tls.Config) {
			if cfg == nil || cfg.RootCAs != nil || len(cfg.Certificates) != 0 || cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("config %+v, want TLS 1.2+ with the system's CAs", cfg)
			}
		}},
		{"block, paths relative to the file", `tls: { ca: "ca.pem", cert: "client.crt", key: "client.key", server_name: "db.internal" }`, func(t *testing.T, cfg *tls.Config) {
			if cfg == nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "db.internal" {
				t.Fatalf("config %+v, want the CA, the client certificate and the server name", cfg)
			}
			if !cfg.RootCAs.Equal(ca.Pool()) {
				t.Error("RootCAs is not the test CA")
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := decodeTLS(t, dir, c.src)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, option.TLSConfig(v))
		})
	}

	// Every file problem is reported at the key naming the file, and names the file.
	keyPEM, err := os.ReadFile(filepath.Join(dir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "junction.cai")
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"missing CA", `tls: { ca: "nope.pem" }`, []string{file + ":2:8: test connector c: tls: ca: CA file " + filepath.Join(dir, "nope.pem") + " cannot be read: no such file"}},
		{"key as CA", `tls: { ca: "client.key" }`, []string{":2:8: test connector c: tls: ca: CA file " + filepath.Join(dir, "client.key") + " holds no CERTIFICATE block"}},
		{"mismatched key", `tls: { cert: "client.crt", key: "` + otherKey + `" }`, []string{":2:8: test connector c: tls: cert: certificate file " + filepath.Join(dir, "client.crt") + " and key file " + otherKey + ": tls: private key does not match public key"}},
		{"cert without key", `tls: { cert: "client.crt" }`, []string{":2:6: test connector c: tls: missing key: a client certificate needs both cert and key"}},
		{"empty path", `tls: { ca: "" }`, []string{":2:8: test connector c: tls: ca: expected a file path, found an empty string"}},
		{"unknown key", `tls: { cafile: "ca.pem" }`, []string{"tls: unknown setting cafile; expected one of ca, cert, key, server_name"}},
		{"wrong type", `tls: "yes"`, []string{`tls: expected true, false or a block { ca, cert, key, server_name }, found "yes"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeTLS(t, dir, c.src)
			if err == nil {
				t.Fatal("no error")
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(c.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(c.want), err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(keyPEM[30:60])) {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
}

func TestTLSOptionMarkdown(t *testing.T) {
	var b strings.Builder
	tlsSpec.Markdown(&b, "thing", option.Source)
	for _, w := range []string{"| `tls` | true, false or block |", "| `tls.ca` | string |", "| `tls.server_name` | string |"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("reference lacks %q:\n%s", w, b.String())
		}
	}
}
