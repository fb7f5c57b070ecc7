package tlsfiles_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/tlsfiles"
	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	caFile := ca.WriteCA(dir, "ca.pem")
	cert, key := ca.Server().Write(t, dir, "server")
	_, otherKey := ca.Server().Write(t, dir, "other")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	if _, err := tlsfiles.LoadKeyPair(cert, key); err != nil {
		t.Fatalf("a good pair: %v", err)
	}
	if _, err := tlsfiles.LoadCAPool(caFile); err != nil {
		t.Fatalf("a good CA: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want []string
	}{
		{"missing cert", func() error { _, err := tlsfiles.LoadKeyPair(missing, key); return err }, []string{"certificate file " + missing + " cannot be read", "no such file"}},
		{"missing key", func() error { _, err := tlsfiles.LoadKeyPair(cert, missing); return err }, []string{"key file " + missing + " cannot be read"}},
		{"garbage cert", func() error { _, err := tlsfiles.LoadKeyPair(garbage, key); return err }, []string{"certificate file " + garbage + " holds no PEM block"}},
		{"mismatch", func() error { _, err := tlsfiles.LoadKeyPair(cert, otherKey); return err }, []string{cert, otherKey, "does not match"}},
		{"key as CA", func() error { _, err := tlsfiles.LoadCAPool(key); return err }, []string{"CA file " + key + " holds no CERTIFICATE block"}},
		{"missing CA", func() error { _, err := tlsfiles.LoadCAPool(missing); return err }, []string{"CA file " + missing + " cannot be read"}},
		{"cert without key", func() error { _, err := tlsfiles.ClientConfig(tlsfiles.Client{Cert: cert}); return err }, []string{"without its key file"}},
	} {
		err := tc.err()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
	}
}

func TestServerReloadKeepsTheOldPairWhenTheNewOneIsBad(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	first := ca.Server()
	cert, key := first.Write(t, dir, "server")
	s, err := tlsfiles.NewServer(cert, key, "")
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		c, err := s.Config().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.String()
	}
	if got := served(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("serial %s, want %s", got, first.Cert.SerialNumber)
	}
	// A new certificate with the old key: a mismatch, refused, the old pair kept.
	second := ca.Server()
	if err := os.WriteFile(cert, second.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("reload of a mismatched pair: %v", err)
	}
	if got := served(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("after a bad reload the serial is %s, want the old %s", got, first.Cert.SerialNumber)
	}
	second.Write(t, dir, "server")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := served(); got != second.Cert.SerialNumber.String() {
		t.Fatalf("after a good reload the serial is %s, want %s", got, second.Cert.SerialNumber)
	}
}

func TestNewServerNeedsBothFiles(t *testing.T) {
	for _, tc := range [][2]string{{"", ""}, {"a.crt", ""}, {"", "a.key"}} {
		if _, err := tlsfiles.NewServer(tc[0], tc[1], ""); err == nil {
			t.Errorf("NewServer(%q, %q): no error", tc[0], tc[1])
		}
	}
}
