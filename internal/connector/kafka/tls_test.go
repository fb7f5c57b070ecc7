package kafka

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// tlsCluster starts an in-process Kafka (kfake, which serves TLS itself) whose listener
// takes TLS only, with the server certificate of certs and, when clientCerts, requiring a
// client certificate signed by certs' CA.
func tlsCluster(t *testing.T, certs *tlsservers.Certs, clientCerts bool, topic string) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if clientCerts {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, certs.CA.Pool()
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.TLS(cfg))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// tlsBlock is `tls: { key: value … }` as the configuration decodes it.
func tlsBlock(kv ...string) config.Options {
	o := config.Options{Pos: config.Pos{File: "test.cai", Line: 20, Col: 5}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Entries = append(o.Entries, config.Option{Pos: config.Pos{File: "test.cai", Line: 20, Col: 12 + i}, Key: kv[i], Value: kv[i+1]})
	}
	return o
}

// TestTLS produces and consumes through TLS, with a private CA and with a client
// certificate the broker requires, and shows what must fail: a wrong CA, a missing or
// foreign client certificate, plain text to a TLS listener, a bad file.
func TestTLS(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	topic := unique("orders")
	server := tlsCluster(t, certs, false, topic)
	mutual := tlsCluster(t, certs, true, topic)
	withCA := tlsBlock("ca", certs.CAFile)
	withClientCert := tlsBlock("ca", certs.CAFile, "cert", certs.ClientCert, "key", certs.ClientKey)
	// SASL, to show its password stays out of errors.
	sasl := config.Options{Entries: []config.Option{
		{Key: "mechanism", Value: "plain"}, {Key: "username", Value: "junction"}, {Key: "password", Value: "hunter2-kafka"},
	}}

	for _, c := range []struct {
		name, addr string
		tls        config.Options
	}{
		{"round trip with the CA", server, withCA},
		{"round trip with a client certificate", mutual, withClientCert},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := newSource(t, connector.Env{}, "brokers", []any{c.addr}, "topic", topic, "group", unique("g"), "tls", c.tls)
			t.Cleanup(func() { closeSource(t, src) })
			sink := newSink(t, c.addr, topic, "tls", c.tls)
			connectortest.RoundTrip(t, src, sink, 20, 7)
		})
	}

	check := func(addr string, kv ...any) connector.Settings {
		return settings(connector.Env{}, append([]any{"brokers", []any{addr}, "topic", topic}, kv...)...)
	}
	for _, c := range []struct {
		name string
		s    connector.Settings
		want string // "" for success
	}{
		{"check with the CA", check(server, "tls", withCA), ""},
		{"check with server_name", check(server, "tls", tlsBlock("ca", certs.CAFile, "server_name", "localhost")), ""},
		{"check with a client certificate", check(mutual, "tls", withClientCert), ""},
		{"tls: true, the system CAs", check(server, "tls", true), "certificate signed by unknown authority"},
		{"a wrong CA", check(server, "tls", tlsBlock("ca", certs.OtherCAFile), "sasl", sasl), "certificate signed by unknown authority"},
		{"a name the certificate lacks", check(server, "tls", tlsBlock("ca", certs.CAFile, "server_name", "kafka.example")), "not kafka.example"},
		{"no client certificate", check(mutual, "tls", withCA), "certificate required"},
		{"a client certificate of another CA", check(mutual, "tls", tlsBlock("ca", certs.CAFile, "cert", certs.OtherClientCert, "key", certs.OtherClientKey)), "certificate required"}, // Go's client sends no certificate the broker's CA list excludes
		{"plain text", check(server), "no broker reachable"},
		{"a cert without its key", check(server, "tls", tlsBlock("cert", certs.ClientCert)), "tls: missing key: a client certificate needs both cert and key"},
		{"a CA file that is a key", check(server, "tls", tlsBlock("ca", certs.ClientKey)), "tls: ca: CA file " + certs.ClientKey + " holds no CERTIFICATE block"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			err := Check(ctx, c.s)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Check: %v, want an error containing %q", err, c.want)
			}
			if err != nil {
				t.Logf("Check: %v", err)
				tlsservers.NoSecrets(t, err, []string{"hunter2-kafka"}, certs.ClientKey, certs.OtherClientKey, certs.ServerKey)
			}
		})
	}
}
