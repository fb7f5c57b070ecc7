package nats_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/connector/nats"
	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// tlsBlock is a connector block for a stream of its own (subjects tls-test.<r>.>) on
// a TLS server at url, with the tls option tls (`{ ca: … }`, or "" for none). The
// stream lives as long as the test's server.
func tlsBlock(t *testing.T, url, tls string) string {
	r := random(t)
	b := fmt.Sprintf("url: %q\nstream: %q\nsubjects: [%q]\n", url, "TLS_"+strings.ToUpper(r), "tls-test."+r+".>")
	if tls != "" {
		b += "tls: " + tls + "\n"
	}
	return b
}

func tlsCheck(t *testing.T, block string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	return nats.Kind().Check(ctx, settings(t, block, ""))
}

// roundTripTLS shows a message published by a sink arriving at a source, both with
// block's TLS settings.
func roundTripTLS(t *testing.T, block string) {
	t.Helper()
	_, rest, _ := strings.Cut(block, `subjects: ["`)
	prefix, _, _ := strings.Cut(rest, ".>")
	subject := prefix + ".orders"
	src := newSource(t, settings(t, block, fmt.Sprintf("durable: %q", "d"+random(t))))
	sink := newSink(t, settings(t, block, fmt.Sprintf("subject: %q", subject)))
	connectortest.RoundTrip(t, src, sink, 5, 5)
}

// TestTLS runs the connector against a nats-server of its own that requires TLS, with a
// certificate from a CA the test makes: the right CA works end to end, with a nats://
// URL (the tls option makes it TLS) and with tls://; a wrong CA, or none (the system's
// CAs), fails with the reason.
func TestTLS(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	srv := tlsservers.StartNATS(t, certs, tlsservers.NATSOptions{})
	ca := fmt.Sprintf("{ ca: %q }", certs.CAFile)

	t.Run("right CA", func(t *testing.T) {
		roundTripTLS(t, tlsBlock(t, srv.URL(), ca))
	})
	t.Run("tls URL", func(t *testing.T) {
		if err := tlsCheck(t, tlsBlock(t, "tls://"+srv.Addr, ca)); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("server_name", func(t *testing.T) {
		// The certificate names localhost too; server_name checks that name instead of
		// the address dialled.
		if err := tlsCheck(t, tlsBlock(t, srv.URL(), fmt.Sprintf("{ ca: %q, server_name: localhost }", certs.CAFile))); err != nil {
			t.Fatalf("Check: %v", err)
		}
		err := tlsCheck(t, tlsBlock(t, srv.URL(), fmt.Sprintf("{ ca: %q, server_name: elsewhere.example }", certs.CAFile)))
		if err == nil || !strings.Contains(err.Error(), "elsewhere.example") {
			t.Fatalf("Check with a name the certificate lacks: %v, want a certificate error naming it", err)
		}
	})
	for _, c := range []struct{ name, tls string }{
		{"wrong CA", fmt.Sprintf("{ ca: %q }", certs.OtherCAFile)},
		{"system CAs", "true"},
		{"no tls option", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tlsCheck(t, tlsBlock(t, srv.URL(), c.tls))
			if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), srv.Addr) {
				t.Fatalf("Check: %v, want an unknown-authority error naming the server", err)
			}
			tlsservers.NoSecrets(t, err, nil, certs.ServerKey)
		})
	}
}

// TestTLSClientCertificate: a server that requires a client certificate takes the one
// the tls option gives, and refuses a connection without one or with one from another
// CA.
func TestTLSClientCertificate(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	srv := tlsservers.StartNATS(t, certs, tlsservers.NATSOptions{ClientCerts: true})

	t.Run("given", func(t *testing.T) {
		roundTripTLS(t, tlsBlock(t, srv.URL(), fmt.Sprintf("{ ca: %q, cert: %q, key: %q }", certs.CAFile, certs.ClientCert, certs.ClientKey)))
	})
	for _, c := range []struct{ name, tls string }{
		{"absent", fmt.Sprintf("{ ca: %q }", certs.CAFile)},
		{"from another CA", fmt.Sprintf("{ ca: %q, cert: %q, key: %q }", certs.CAFile, certs.OtherClientCert, certs.OtherClientKey)},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tlsCheck(t, tlsBlock(t, srv.URL(), c.tls))
			// With TLS 1.3 the client finishes its handshake before the server checks
			// the certificate: the refusal is a TLS alert or, when the server's reset
			// comes first, a broken connection.
			if err == nil {
				t.Fatal("Check succeeded, want the server to refuse the connection")
			}
			t.Logf("refused: %v", err)
			tlsservers.NoSecrets(t, err, nil, certs.ClientKey, certs.OtherClientKey, certs.ServerKey)
		})
	}
}

// TestTLSFileErrors: a tls option's file that cannot be read fails the options, naming
// the file and not showing what is in it.
func TestTLSFileErrors(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	for _, c := range []struct{ tls, want string }{
		{fmt.Sprintf("{ ca: %q }", certs.Dir+"/nope.pem"), "tls: ca: CA file " + certs.Dir + "/nope.pem cannot be read"},
		{fmt.Sprintf("{ ca: %q }", certs.ClientKey), "tls: ca: CA file " + certs.ClientKey + " holds no CERTIFICATE block"},
		{fmt.Sprintf("{ cert: %q, key: %q }", certs.ClientCert, certs.OtherClientKey), "tls: cert: certificate file " + certs.ClientCert + " and key file " + certs.OtherClientKey},
	} {
		_, err := nats.Kind().NewSink(settings(t, tlsBlock(t, "nats://127.0.0.1:1", c.tls), `subject: "x"`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSink with tls %s: %v, want %q", c.tls, err, c.want)
			continue
		}
		tlsservers.NoSecrets(t, err, nil, certs.ClientKey, certs.OtherClientKey)
	}
}
