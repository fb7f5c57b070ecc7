package amqp_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/connector/amqp"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// The TLS server here is tlsservers.StartRabbitMQ: a TLS-terminating proxy the test
// starts in front of the machine's RabbitMQ, since a RabbitMQ node of the test's own
// with an ssl listener takes most of a minute to start (see its comment). The
// connector's side of TLS is what these tests show.

// tlsBlock is tp's connector block at url with the tls option tls (`{ ca: … }`, or ""
// for none).
func (tp topology) tlsBlock(url, tls string) string {
	b := tp.block(url)
	if tls != "" {
		b += "\ntls: " + tls
	}
	return b
}

func tlsCheck(t *testing.T, block string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	return amqp.Kind().Check(ctx, settings(t, block, ""))
}

// roundTripTLS shows messages published by a sink arriving at a source through tp's
// exchange and queue, both connected with block's TLS settings.
func roundTripTLS(t *testing.T, tp topology, block string) {
	t.Helper()
	src := newSource(t, settings(t, block, ""))
	sink := newSink(t, settings(t, block, tp.sinkUse()))
	connectortest.RoundTrip(t, src, sink, 5, 5)
}

// TestTLS: with the right CA the connector works end to end over TLS, with amqps://
// and with amqp:// (the tls option makes it TLS); the URL's own TLS parameters keep
// working without the option; a wrong CA, or the system's, fails with the reason.
func TestTLS(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	srv := tlsservers.StartRabbitMQ(t, certs, tlsservers.RabbitMQOptions{})
	ca := fmt.Sprintf("{ ca: %q }", certs.CAFile)

	t.Run("right CA", func(t *testing.T) {
		tp := newTopology(t)
		roundTripTLS(t, tp, tp.tlsBlock(srv.URL(), ca))
	})
	t.Run("amqp URL", func(t *testing.T) {
		tp := newTopology(t)
		roundTripTLS(t, tp, tp.tlsBlock("amqp://guest:guest@"+srv.Addr+"/", ca))
	})
	t.Run("URL parameters", func(t *testing.T) {
		// amqp091's own: amqps://…?cacertfile=…, without the tls option.
		if err := tlsCheck(t, fmt.Sprintf("url: %q", srv.URL()+"?cacertfile="+url.QueryEscape(certs.CAFile))); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("server_name", func(t *testing.T) {
		tp := newTopology(t)
		if err := tlsCheck(t, tp.tlsBlock(srv.URL(), fmt.Sprintf("{ ca: %q, server_name: localhost }", certs.CAFile))); err != nil {
			t.Fatalf("Check: %v", err)
		}
		for _, u := range []string{srv.URL(), "amqp://guest:guest@" + srv.Addr + "/"} {
			err := tlsCheck(t, tp.tlsBlock(u, fmt.Sprintf("{ ca: %q, server_name: elsewhere.example }", certs.CAFile)))
			if err == nil || !strings.Contains(err.Error(), "elsewhere.example") {
				t.Fatalf("Check %s with a name the certificate lacks: %v, want a certificate error naming it", u, err)
			}
		}
	})
	for _, c := range []struct{ name, tls string }{
		{"wrong CA", fmt.Sprintf("{ ca: %q }", certs.OtherCAFile)},
		{"system CAs", "true"},
		{"no tls option", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := newTopology(t)
			err := tlsCheck(t, tp.tlsBlock(srv.URL(), c.tls))
			if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), srv.Addr) {
				t.Fatalf("Check: %v, want an unknown-authority error naming the server", err)
			}
			tlsservers.NoSecrets(t, err, []string{"guest:guest"}, certs.ServerKey)
		})
	}
}

// TestTLSClientCertificate: a server that requires a client certificate takes the one
// the tls option gives, and refuses a connection without one or with one from another
// CA.
func TestTLSClientCertificate(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	srv := tlsservers.StartRabbitMQ(t, certs, tlsservers.RabbitMQOptions{ClientCerts: true})

	t.Run("given", func(t *testing.T) {
		tp := newTopology(t)
		roundTripTLS(t, tp, tp.tlsBlock(srv.URL(), fmt.Sprintf("{ ca: %q, cert: %q, key: %q }", certs.CAFile, certs.ClientCert, certs.ClientKey)))
	})
	for _, c := range []struct{ name, tls string }{
		{"absent", fmt.Sprintf("{ ca: %q }", certs.CAFile)},
		{"from another CA", fmt.Sprintf("{ ca: %q, cert: %q, key: %q }", certs.CAFile, certs.OtherClientCert, certs.OtherClientKey)},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := newTopology(t)
			err := tlsCheck(t, tp.tlsBlock(srv.URL(), c.tls))
			// With TLS 1.3 the client finishes its handshake before the server checks
			// the certificate: the refusal is a TLS alert or, when the server's reset
			// comes first, a broken connection.
			if err == nil {
				t.Fatal("Check succeeded, want the server to refuse the connection")
			}
			t.Logf("refused: %v", err)
			tlsservers.NoSecrets(t, err, []string{"guest:guest"}, certs.ClientKey, certs.OtherClientKey, certs.ServerKey)
		})
	}
}

// TestTLSFileErrors: a tls option's file that cannot be read fails the options, naming
// the file and not showing what is in it.
func TestTLSFileErrors(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	tp := topology{exchange: "x", queue: "q"} // nothing connects
	for _, c := range []struct{ tls, want string }{
		{fmt.Sprintf("{ ca: %q }", certs.Dir+"/nope.pem"), "tls: ca: CA file " + certs.Dir + "/nope.pem cannot be read"},
		{fmt.Sprintf("{ ca: %q }", certs.ClientKey), "tls: ca: CA file " + certs.ClientKey + " holds no CERTIFICATE block"},
		{fmt.Sprintf("{ cert: %q, key: %q }", certs.ClientCert, certs.OtherClientKey), "tls: cert: certificate file " + certs.ClientCert + " and key file " + certs.OtherClientKey},
	} {
		_, err := amqp.Kind().NewSink(settings(t, tp.tlsBlock("amqps://guest:guest@127.0.0.1:1/", c.tls), tp.sinkUse()))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSink with tls %s: %v, want %q", c.tls, err, c.want)
			continue
		}
		tlsservers.NoSecrets(t, err, []string{"guest:guest"}, certs.ClientKey, certs.OtherClientKey)
	}
}
