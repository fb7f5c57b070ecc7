package mqtt_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/connector/mqtt"
	"github.com/junctionhq/junction/internal/servicetest/tlsservers"
)

// tlsBlock is a connector block for a broker at url with the tls option tls (`{ ca: … }`,
// or "" for none).
func tlsBlock(url, tls string) string {
	b := urlBlock(url)
	if tls != "" {
		b += "\ntls: " + tls
	}
	return b
}

func tlsCheck(t *testing.T, block string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectortest.Timeout)
	defer cancel()
	return mqtt.Kind().Check(ctx, settings(t, block, ""))
}

// roundTripTLS shows messages published by a sink arriving at a source, both with
// block's TLS settings, on a topic of the test's own.
func roundTripTLS(t *testing.T, block string) {
	t.Helper()
	topic := "junction-test/" + random(t) + "/tls"
	src, err := mqtt.Kind().NewSource(settings(t, block, fmt.Sprintf("topic: %q", topic)))
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	sink, err := mqtt.Kind().NewSink(settings(t, block, fmt.Sprintf("topic: %q", topic)))
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	connectortest.RoundTrip(t, src, sink, 5, 5)
}

// TestTLS runs the connector against a mosquitto of its own with only a TLS listener
// and a certificate from a CA the test makes: the right CA works end to end with ssl://,
// mqtts:// and tcp:// (the tls option makes it TLS); a wrong CA, or the system's, fails
// with the reason.
func TestTLS(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	srv := tlsservers.StartMQTT(t, certs, tlsservers.MQTTOptions{})
	ca := fmt.Sprintf("{ ca: %q }", certs.CAFile)

	t.Run("right CA", func(t *testing.T) {
		roundTripTLS(t, tlsBlock(srv.URL(), ca))
	})
	for _, scheme := range []string{"mqtts", "tcp"} {
		t.Run(scheme+" URL", func(t *testing.T) {
			if err := tlsCheck(t, tlsBlock(scheme+"://"+srv.Addr, ca)); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
	t.Run("server_name", func(t *testing.T) {
		if err := tlsCheck(t, tlsBlock(srv.URL(), fmt.Sprintf("{ ca: %q, server_name: localhost }", certs.CAFile))); err != nil {
			t.Fatalf("Check: %v", err)
		}
		err := tlsCheck(t, tlsBlock(srv.URL(), fmt.Sprintf("{ ca: %q, server_name: elsewhere.example }", certs.CAFile)))
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
			err := tlsCheck(t, tlsBlock(srv.URL(), c.tls))
			if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), srv.Addr) {
				t.Fatalf("Check: %v, want an unknown-authority error naming the broker", err)
			}
			tlsservers.NoSecrets(t, err, nil, certs.ServerKey)
		})
	}
}

// TestTLSClientCertificate: a broker that requires a client certificate takes the one
// the tls option gives, and refuses a connection without one or with one from another
// CA.
func TestTLSClientCertificate(t *testing.T) {
	certs := tlsservers.NewCerts(t)
	srv := tlsservers.StartMQTT(t, certs, tlsservers.MQTTOptions{ClientCerts: true})

	t.Run("given", func(t *testing.T) {
		roundTripTLS(t, tlsBlock(srv.URL(), fmt.Sprintf("{ ca: %q, cert: %q, key: %q }", certs.CAFile, certs.ClientCert, certs.ClientKey)))
	})
	for _, c := range []struct{ name, tls string }{
		{"absent", fmt.Sprintf("{ ca: %q }", certs.CAFile)},
		{"from another CA", fmt.Sprintf("{ ca: %q, cert: %q, key: %q }", certs.CAFile, certs.OtherClientCert, certs.OtherClientKey)},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tlsCheck(t, tlsBlock(srv.URL(), c.tls))
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
		_, err := mqtt.Kind().NewSink(settings(t, tlsBlock("ssl://127.0.0.1:1", c.tls), `topic: "x"`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSink with tls %s: %v, want %q", c.tls, err, c.want)
			continue
		}
		tlsservers.NoSecrets(t, err, nil, certs.ClientKey, certs.OtherClientKey)
	}
}
