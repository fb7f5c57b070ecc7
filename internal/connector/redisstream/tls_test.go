package redisstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// tlsBlock is `tls: { key: value … }` as the configuration decodes it.
func tlsBlock(kv ...string) config.Options {
	o := config.Options{Pos: config.Pos{File: "test.cai", Line: 20, Col: 5}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Entries = append(o.Entries, config.Option{Pos: config.Pos{File: "test.cai", Line: 20, Col: 12 + i}, Key: kv[i], Value: kv[i+1]})
	}
	return o
}

// TestTLS runs the sink and the source through TLS against redis-servers the test
// starts with TLS ports only: one that asks for no client certificate (and a password),
// one that requires a certificate signed by the test's CA.
func TestTLS(t *testing.T) {
	const password = "hunter2-redis"
	certs := tlsservers.NewCerts(t)
	server := tlsservers.StartRedis(t, certs, tlsservers.RedisOptions{Password: password})
	mutual := tlsservers.StartRedis(t, certs, tlsservers.RedisOptions{ClientCerts: true})
	// redis:// with the tls option, and rediss:// whose TLS settings the option replaces.
	serverURL := strings.Replace(server.URL(password), "rediss://", "redis://", 1)
	withCA := tlsBlock("ca", certs.CAFile)
	withClientCert := tlsBlock("ca", certs.CAFile, "cert", certs.ClientCert, "key", certs.ClientKey)

	t.Run("round trip with the CA", func(t *testing.T) {
		name := "tls-" + randomName(t)
		sink := newSink(t, serverURL, name, "tls", withCA)
		src := newSource(t, serverURL, name, "tls", withCA)
		t.Cleanup(func() { closeSource(t, src) })
		connectortest.RoundTrip(t, src, sink, 20, 7)
	})
	t.Run("round trip with a client certificate", func(t *testing.T) {
		name := "tls-" + randomName(t)
		sink := newSink(t, mutual.URL(""), name, "tls", withClientCert)
		src := newSource(t, mutual.URL(""), name, "tls", withClientCert)
		t.Cleanup(func() { closeSource(t, src) })
		connectortest.RoundTrip(t, src, sink, 20, 7)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(url string, kv ...any) connector.Settings {
		return settings(connector.Env{}, append([]any{"url", url}, kv...)...)
	}
	for _, c := range []struct {
		name string
		s    connector.Settings
		want string // "" for success
	}{
		{"check with the CA", check(serverURL, "tls", withCA), ""},
		{"check rediss:// with the CA", check(server.URL(password), "tls", withCA), ""},
		{"check with server_name", check(serverURL, "tls", tlsBlock("ca", certs.CAFile, "server_name", "localhost")), ""},
		{"check with a client certificate", check(mutual.URL(""), "tls", withClientCert), ""},
		{"rediss:// with the system CAs", check(server.URL(password)), "certificate signed by unknown authority"},
		{"tls: true, the system CAs", check(serverURL, "tls", true), "certificate signed by unknown authority"},
		{"a wrong CA", check(serverURL, "tls", tlsBlock("ca", certs.OtherCAFile)), "certificate signed by unknown authority"},
		{"a name the certificate lacks", check(serverURL, "tls", tlsBlock("ca", certs.CAFile, "server_name", "cache.example")), "not cache.example"},
		{"no client certificate", check(mutual.URL(""), "tls", withCA), "certificate required"},
		{"a client certificate of another CA", check(mutual.URL(""), "tls", tlsBlock("ca", certs.CAFile, "cert", certs.OtherClientCert, "key", certs.OtherClientKey)), "unknown certificate authority"},
		{"plain text", check(serverURL), "cannot reach Redis"},
		{"a missing key file", check(serverURL, "tls", tlsBlock("cert", certs.ClientCert, "key", certs.Dir+"/nope.key")), "tls: key: key file " + certs.Dir + "/nope.key cannot be read"},
		{"unix socket", check("unix:///tmp/redis.sock", "tls", withCA), "tls: a unix:// url has no TLS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Check(ctx, c.s)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Check: %v, want an error containing %q", err, c.want)
			}
			if err != nil {
				t.Logf("Check: %v", err)
				tlsservers.NoSecrets(t, err, []string{password}, certs.ClientKey, certs.OtherClientKey, certs.ServerKey)
			}
		})
	}
}

// randomName is unique per call; the test's Redis servers are its own, so nothing to
// clean up.
func randomName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
